"""The stack configuration reference (docs/configuration.md), generated from the pydantic models so the docs never
drift from code.

The generator only walks the model tree from `PlatformConfig`: every nested Args model is found through the
annotations of the fields that hold it, wherever its class lives. Types are printed as a user writes them in a
stack file — "IAM role ARN", "list of EC2 instance types", "string, optional", "map of name → job override" —
never as Python or regex internals; a model inside a map or an optional field gets its own section."""

from __future__ import annotations

import json
import re
import types
from dataclasses import dataclass
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import typer
from pydantic import AnyUrl, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from components.config import PlatformConfig
from spk.console import console, user_errors
from spk.errors import SpkError
from spk.files import write_atomically

ROOT_KEY = "spark-platform:platform"
#: Where `spk config-reference --write` puts the reference, relative to the project root.
REFERENCE_PATH = Path("docs") / "configuration.md"

HEADER = """\
# Configuration reference

<!-- Generated file: do not edit. Regenerate with `spk config-reference --write`. -->

> **Generated** from the configuration models by `spk config-reference --write`; do not edit it by hand. To change
> a key, its type, default or description, edit the model (`components/config.py` composes the `…Args` model of
> each component) and run `.venv/bin/spk config-reference --write`. `make test` fails while this file is stale.

Each stack file, `Pulumi.<stack>.yaml`, holds two keys: `aws:region` and one structured key,
`spark-platform:platform`. Keys are camelCase and nest as the sections below; defaults live in the models, so a
stack file holds only what differs from them:

```yaml
config:
  aws:region: us-east-1
  spark-platform:platform:
    environment: dev
    release: {...}          # required: images and chart versions, moved by `spk promote`
    network:
      natGateways: single
```

Besides each key's own type and range, cross-field rules are checked: a pool's
`minSize <= desiredSize <= maxSize`; drivers and system pools on-demand; with `capacityProfile: spot`, executors on
spot with at least three instance types; a GPU pool only with GPU instance types; no public endpoint in prod and
never without a CIDR allow-list; flow logs on in staging and prod; no `forceDestroy` in prod; image tags pinned
(never `latest`); job overrides only for enabled jobs; GPU jobs only with `nodePools.gpu.enabled`. `spk validate`
reports every problem as one line naming the file and the dotted key.
"""


@dataclass(frozen=True)
class StringFormat:
    """A named string format, recognised by what its pattern accepts and rejects (not by the regex's text, so a
    tightened pattern keeps its name)."""

    name: str
    plural: str
    accepts: tuple[str, ...]
    rejects: tuple[str, ...] = ()

    def describes(self, pattern: str) -> bool:
        regex = re.compile(pattern)
        return all(regex.search(s) for s in self.accepts) and not any(regex.search(s) for s in self.rejects)


# Most specific first: the first format whose samples a field's pattern accepts (and whose counter-samples it
# rejects) names the field's type. An unrecognised pattern is printed as "string matching `…`".
STRING_FORMATS = (
    StringFormat("IAM role ARN", "IAM role ARNs", ("arn:aws:iam::123456789012:role/platform-admin",), ("admin",)),
    StringFormat(
        "Kafka bootstrap servers (`host:port,…`)",
        "Kafka bootstrap server lists",
        ("b-1.kafka.internal:9092", "b-1.kafka:9092,b-2.kafka:9092"),
        ("b-1.kafka.internal",),
    ),
    StringFormat("release version (`X.Y.Z`, no pre-release)", "release versions", ("1.2.3", "v2.5.2"),
                 ("latest", "1.2", "2.5.0-rc.0")),
    StringFormat("version (`X.Y.Z`)", "versions", ("1.2.3", "v2.5.0-rc.0"), ("latest", "1.2")),
    StringFormat("GitHub repository (`owner/name`)", "GitHub repositories", ("spark-platform/spark-platform",),
                 ("spark-platform", "a/b/c")),
    StringFormat(
        "AWS CodeConnections connection ARN",
        "AWS CodeConnections connection ARNs",
        ("arn:aws:codeconnections:us-east-1:123456789012:connection/3f2b1c9e-8a47-4d2e-9b61-0c5e7a1d2f34",),
        ("arn:aws:iam::123456789012:role/x",),
    ),
    StringFormat("Kubernetes minor version (`1.NN`)", "Kubernetes minor versions", ("1.35",), ("1.35.1", "v1")),
    StringFormat("memory size (`512m`, `4g`)", "memory sizes", ("512m", "4g"), ("4", "4gb", "spark")),
    StringFormat("EC2 instance type", "EC2 instance types", ("m6i.xlarge", "g5.2xlarge"), ("spark-jobs", "m6i")),
    StringFormat("image tag", "image tags", ("3.5.7-0.3.0", "Release_1"), ("a/b", "a:b")),
    StringFormat(
        "image repository",
        "image repositories",
        ("ghcr.io/spark-platform/spark", "123456789012.dkr.ecr.us-east-1.amazonaws.com/spark"),
        ("Spark", "a:b"),
    ),
    StringFormat("Kubernetes name", "Kubernetes names", ("spark-jobs", "a"), ("Spark", "a.b", "-a")),
)

# Plain types, as (singular, plural).
SCALARS: dict[Any, tuple[str, str]] = {
    str: ("string", "strings"),
    bool: ("boolean", "booleans"),
    int: ("integer", "integers"),
    float: ("number", "numbers"),
    IPv4Network: ("IPv4 CIDR", "IPv4 CIDRs"),
}


@dataclass(frozen=True)
class Section:
    """One table of the reference: a model and the dotted path a stack file reaches it by."""

    model: type[BaseModel]
    path: str


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation other than `-` and `_` dropped, spaces to `-`."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def heading(path: str) -> str:
    return f"`{path}`"


def link(path: str) -> str:
    return f"[`{path.removeprefix(ROOT_KEY + '.')}`](#{anchor(heading(path))})"


def escape(text: str) -> str:
    """Make `text` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _model(annotation: Any) -> type[BaseModel] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _optional_inner(annotation: Any) -> Any | None:
    """`X` for `X | None` (or `Optional[X]`), else None."""
    if get_origin(annotation) in (Union, types.UnionType):
        members = [a for a in get_args(annotation) if a is not type(None)]
        if len(members) == 1 and len(get_args(annotation)) == 2:
            return members[0]
    return None


def _metadata(annotation: Any, extra: list[Any]) -> tuple[Any, list[Any]]:
    """Strip `Annotated[...]`, returning the bare type and all its constraint metadata."""
    metadata = list(extra)
    while hasattr(annotation, "__metadata__"):
        metadata.extend(annotation.__metadata__)
        annotation = annotation.__origin__
    return annotation, metadata


def _pattern(metadata: list[Any]) -> str | None:
    for item in metadata:
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            return pattern
    return None


def _range(metadata: list[Any]) -> str:
    """Bounds as a user reads them: `, 2 to 6`, `, ≥ 0`, `, > 0 and ≤ 1`."""
    low = high = None
    low_open = high_open = False
    for item in metadata:  # annotated_types' Ge/Gt/Le/Lt, as pydantic's Field(ge=...) records them
        if getattr(item, "ge", None) is not None:
            low = item.ge
        elif getattr(item, "gt", None) is not None:
            low, low_open = item.gt, True
        elif getattr(item, "le", None) is not None:
            high = item.le
        elif getattr(item, "lt", None) is not None:
            high, high_open = item.lt, True
    if low is not None and high is not None:
        if not (low_open or high_open):
            return f", {low} to {high}"
        return f", {'>' if low_open else '≥'} {low} and {'<' if high_open else '≤'} {high}"
    if low is not None:
        return f", {'>' if low_open else '≥'} {low}"
    if high is not None:
        return f", {'<' if high_open else '≤'} {high}"
    return ""


def _map_labels(model: type[BaseModel]) -> tuple[str, str]:
    """What a map of `model`s is keyed by and holds, from the model's name: `JobOverrideArgs` → ("job", "override")
    (a map of job name → override); a one-word name gives ("name", that word)."""
    words = [w.lower() for w in re.findall(r"[A-Z][a-z0-9]*|[a-z0-9]+", model.__name__.removesuffix("Args"))]
    if len(words) < 2:
        return "name", " ".join(words) or "entry"
    return words[0], " ".join(words[1:])


class Renderer:
    """Renders the field types of the models it walks, queueing the sections nested models need."""

    def __init__(self) -> None:
        self.pending: list[Section] = []

    def field_type(self, info: FieldInfo, path: str) -> str:
        text = self.type_text(info.annotation, info.metadata, path, plural=False)
        return text

    def type_text(self, annotation: Any, extra: list[Any], path: str, *, plural: bool) -> str:
        annotation, metadata = _metadata(annotation, extra)
        inner = _optional_inner(annotation)
        if inner is not None:
            return self.type_text(inner, metadata, path, plural=plural) + ", optional"
        model = _model(annotation)
        if model is not None:
            self.pending.append(Section(model, path))
            return f"mapping, see {link(path)}"
        origin = get_origin(annotation)
        if origin is Literal:
            choices = ", ".join(f"`{choice}`" for choice in get_args(annotation))
            return f"one of {choices}"
        if origin is list:
            (item,) = get_args(annotation)
            items = self.type_text(item, [], f"{path}[]", plural=True)
            size = next((m.min_length for m in metadata if getattr(m, "min_length", None)), 0)
            prefix = "non-empty list" if size else "list"
            if get_origin(_metadata(item, [])[0]) is Literal:
                return f"{prefix}, each {items}"
            return f"{prefix} of {items}"
        if origin is dict:
            key, value = get_args(annotation)
            value_model = _model(_metadata(value, [])[0])
            if value_model is not None:
                key_label, value_label = _map_labels(value_model)
                item_path = f"{path}.<{key_label}>"
                self.pending.append(Section(value_model, item_path))
                key_name = key_label if key_label == "name" else f"{key_label} name"
                return f"map of {key_name} → {value_label}, see {link(item_path)}"
            key_text = self.type_text(key, [], path, plural=False)
            value_text = self.type_text(value, [], path, plural=False)
            return f"map of {key_text} → {value_text}"
        if isinstance(annotation, type) and issubclass(annotation, AnyUrl):
            return "HTTP(S) URL" if "http" in annotation.__name__.lower() else "URL"
        if annotation is str:
            pattern = _pattern(metadata)
            if pattern is not None:
                known = next((f for f in STRING_FORMATS if f.describes(pattern)), None)
                if known is not None:
                    return known.plural if plural else known.name
                return f"{'strings' if plural else 'string'} matching `{pattern}`"
        if annotation in SCALARS:
            singular, plural_name = SCALARS[annotation]
            return (plural_name if plural else singular) + _range(metadata)
        name = getattr(annotation, "__name__", None) or str(annotation)
        return name

    def default(self, info: FieldInfo) -> str:
        if info.default_factory is not None:
            value = info.default_factory()  # type: ignore[call-arg]
        elif info.default is PydanticUndefined:
            return "required"
        else:
            value = info.default
        if isinstance(value, BaseModel):
            return "its keys' defaults"
        return f"`{json.dumps(value, default=str, ensure_ascii=False)}`"


def _description(model: type[BaseModel]) -> str:
    doc = (model.__doc__ or "").strip()
    # pydantic gives undocumented models BaseModel's docstring; that says nothing about the block.
    if not doc or doc == (BaseModel.__doc__ or "").strip():
        return ""
    # "Stack config block `network`: ..." repeats the section's heading; keep what follows.
    doc = re.sub(r"^Stack config (?:block|key) `[^`]+`[.:]?\s*", "", " ".join(doc.split()))
    return doc[:1].upper() + doc[1:]


def reference_markdown() -> str:
    """The sections of the reference: one table per model reachable from `PlatformConfig`, each followed by the
    sections of the models it nests (depth first, in field order)."""
    renderer = Renderer()
    sections: list[str] = []
    done: set[str] = set()

    def describe(section: Section) -> None:
        if section.path in done:
            return
        done.add(section.path)
        rows = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
        nested_start = len(renderer.pending)
        for name, info in section.model.model_fields.items():
            key = info.alias or name
            type_text = renderer.field_type(info, f"{section.path}.{key}")
            rows.append(
                f"| `{key}` | {escape(type_text)} | {escape(renderer.default(info))} | "
                f"{escape(info.description or '')} |"
            )
        nested = renderer.pending[nested_start:]
        del renderer.pending[nested_start:]
        intro = _description(section.model)
        entry = re.fullmatch(r"(.+)\.<(\w+)>", section.path)
        if entry is not None:
            parent, key_label = entry.group(1).removeprefix(ROOT_KEY + "."), entry.group(2)
            key_name = key_label if key_label == "name" else f"{key_label} name"
            intro = f"Each entry of `{parent}`: the key is a {key_name}, the value a mapping of these keys. {intro}"
        parts = [f"## {heading(section.path)}", intro.strip(), "\n".join(rows)]
        sections.append("\n\n".join(part for part in parts if part))
        for child in nested:
            describe(child)

    describe(Section(PlatformConfig, ROOT_KEY))
    return "\n\n".join(sections) + "\n"


def reference_document() -> str:
    """The whole of docs/configuration.md."""
    return HEADER + "\n" + reference_markdown()


def write_reference(path: Path) -> bool:
    """Write the reference to `path`; return whether anything changed."""
    text = reference_document()
    try:
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
    except (OSError, UnicodeDecodeError) as error:
        raise SpkError(f"{path}: cannot write there ({getattr(error, 'strerror', None) or error})") from None
    write_atomically(path, text)
    return True


def config_reference_command(
    write: bool = typer.Option(
        False, "--write", help=f"Write {REFERENCE_PATH.as_posix()} (the whole file) instead of printing."
    ),
) -> None:
    """Print the stack configuration reference (Markdown), generated from the config models."""
    if write:
        from spk.stack_files import project_root

        with user_errors():
            changed = write_reference(project_root() / REFERENCE_PATH)
        name = REFERENCE_PATH.as_posix()
        console.print(f"{name} updated" if changed else f"{name} already up to date")
    else:
        print(reference_document(), end="")


def register(app: typer.Typer) -> None:
    app.command("config-reference")(config_reference_command)

"""Where a stack file's `secure:` values sit, and where one may sit.

`pulumi config set --secret --path 'platform.spark.defaultConf["k"]' v` writes a `secure:` leaf inside the
`platform` object. Pulumi then marks the whole `platform` key secret and hands the program its decrypted value,
without saying which leaf was the secret. So the program learns the leaves from the stack file (or, offline, from
spk), validates that a secret sits only where it is used as one (a Spark conf value), and wraps exactly those
values in secret Outputs, which Pulumi keeps encrypted in the state and the plan shows as `[secret]`.

No ComponentResource: pure functions over config documents."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from contracts.project import PROJECT

SECURE = "secure"
SecurePath = tuple[str, ...]
#: Paths under `platform` whose values may be secrets: Spark conf values, the one place a credential goes.
SECRET_CAPABLE = (("spark", "defaultConf", "*"), ("jobs", "overrides", "*", "conf", "*"))
#: Conf keys that carry a credential (by name): secrets, passwords, tokens, keys of accounts and APIs, key files.
CREDENTIAL_KEY = re.compile(
    r"secret|passw|token|credential|access[._-]?key|session[._-]?key|private[._-]?key|jaas|account\.key"
    r"|api[._-]?key|keyfile|key[._-]file|keytab|auth[._-]?key",
    re.I,
)
#: ... except settings that only name a mechanism.
NOT_A_CREDENTIAL = frozenset({"spark.hadoop.fs.s3a.aws.credentials.provider"})


def is_secure_leaf(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SECURE}


def secure_leaf_paths(value: Any, prefix: SecurePath = ()) -> frozenset[SecurePath]:
    """Every path to a `{secure: ...}` leaf."""
    if is_secure_leaf(value):
        return frozenset({prefix})
    if isinstance(value, dict):
        return frozenset().union(*(secure_leaf_paths(v, (*prefix, str(k))) for k, v in value.items()))
    if isinstance(value, list):
        return frozenset().union(*(secure_leaf_paths(v, (*prefix, str(i))) for i, v in enumerate(value)))
    return frozenset()


def replace_secure_leaves(value: Any, placeholder: str) -> Any:
    """The document with each `{secure: <ciphertext>}` leaf replaced by `placeholder` (what cannot be decrypted
    offline). A leaf whose payload is not a string is left as it is, for validation to refuse (a mapping is never
    a valid setting; its value is never shown)."""
    if is_secure_leaf(value):
        return placeholder if isinstance(value[SECURE], str) else value
    if isinstance(value, dict):
        return {k: replace_secure_leaves(v, placeholder) for k, v in value.items()}
    if isinstance(value, list):
        return [replace_secure_leaves(v, placeholder) for v in value]
    return value


def secret_capable(path: SecurePath) -> bool:
    return any(
        len(path) == len(pattern) and all(p in ("*", part) for p, part in zip(pattern, path, strict=True))
        for pattern in SECRET_CAPABLE
    )


def looks_like_credential(key: str) -> bool:
    return key not in NOT_A_CREDENTIAL and bool(CREDENTIAL_KEY.search(key))


def secret_keys_under(paths: frozenset[SecurePath] | None, prefix: Iterable[str]) -> frozenset[str] | None:
    """The keys of the mapping at `prefix` whose values are secure leaves (None: unknown, treat all as secret)."""
    if paths is None:
        return None
    head = tuple(prefix)
    return frozenset(path[len(head)] for path in paths if len(path) == len(head) + 1 and path[: len(head)] == head)


def stack_file_secure_paths(stack: str, root: Path) -> frozenset[SecurePath] | None:
    """The secure leaves under `platform` in `Pulumi.<stack>.yaml` as `pulumi up` sees it; None when the file is
    not there to read (config from elsewhere), in which case every Spark conf value is treated as secret."""
    path = root / f"Pulumi.{stack}.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    config = (document or {}).get("config") if isinstance(document, dict) else None
    platform = config.get(f"{PROJECT}:platform") if isinstance(config, dict) else None
    return secure_leaf_paths(platform)

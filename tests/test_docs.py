"""The documentation holds together: every relative link and `#anchor` in README.md and docs/*.md resolves, every
alert's runbook lands on a heading of docs/monitoring.md, every Markdown table row has as many cells as its header
(an unescaped `|` in a cell breaks the row), the generated configuration reference reads as a user writes config,
and the README stays a short front page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from spk.plan import Plan

README_MAX_LINES = 200
PROMETHEUS_RULE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"

FENCE = re.compile(r"^\s*(```|~~~)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
# [text](target) or ![alt](target); the target ends at the first space (an optional "title" follows) or ")".
LINK = re.compile(r"!?\[(?:[^\]\\]|\\.)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
HTML_ANCHOR = re.compile(r"<a\s+(?:id|name)=\"([^\"]+)\"", re.IGNORECASE)


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) outside fenced code blocks."""
    fenced = False
    for number, line in enumerate(text.splitlines(), start=1):
        if FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            yield number, line


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its rendered text, lower-cased, with everything but letters, digits, `_`,
    `-` and spaces dropped and spaces turned into `-`. Inside `code` everything is literal text (`<job>` too);
    outside it a link renders as its text, inline HTML and emphasis markers as nothing."""
    rendered = []
    position = 0
    for code in INLINE_CODE.finditer(heading):
        rendered.append(_rendered_prose(heading[position : code.start()]))
        rendered.append(code.group(0).strip("`"))
        position = code.end()
    rendered.append(_rendered_prose(heading[position:]))
    text = re.sub(r"[^\w\- ]", "", "".join(rendered).strip().lower())
    return text.replace(" ", "-")


def _rendered_prose(text: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"<[^>]+>", "", text)
    return text.replace("*", "")


def anchors(path: Path) -> set[str]:
    """Every anchor a Markdown file offers: its headings' slugs (a repeated slug gets -1, -2, …) and HTML ids."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        heading = HEADING.match(line)
        if heading:
            slug = github_slug(heading.group(1))
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
        found.update(HTML_ANCHOR.findall(line))
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, target) of every Markdown link outside code blocks and inline code."""
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(INLINE_CODE.sub("", line)):
            yield number, match.group(1)


def broken_links(path: Path, root: Path) -> list[str]:
    """One line per relative link of `path` whose file (inside the repository) or `#anchor` does not exist."""
    problems = []
    for number, target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):  # https:, mailto:, …
            continue
        problem = resolve(target, path.parent, root, here=path)
        if problem:
            problems.append(f"{path.relative_to(root)}:{number}: {target}: {problem}")
    return problems


def resolve(target: str, base: Path, root: Path, here: Path | None = None) -> str | None:
    """None if `target` (relative to the folder `base`) names an existing file and, for `#anchor`, a heading in it;
    a bare `#anchor` points into `here`, the document the link is in."""
    file_part, _, anchor = target.partition("#")
    file = (base / file_part).resolve() if file_part else here
    if file is None:
        return "an anchor without a file"
    if not file.resolve().is_relative_to(root.resolve()):
        return "points outside the repository"
    if not file.exists():
        return "no such file"
    if anchor:
        if file.is_dir() or file.suffix != ".md":
            return "an anchor into a file that is not Markdown"
        if anchor not in anchors(file):
            return f"no heading with anchor #{anchor} in {file.resolve().relative_to(root.resolve())}"
    return None


def documents(root: Path) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").glob("*.md"))]


def table_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of every table row; a `\\|` is part of a cell, not a separator."""
    for number, line in prose_lines(text):
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = re.split(r"(?<!\\)\|", stripped[1:-1])
            yield number, cells


# -- the checker itself fails on what it should ----------------------------------------------------------------


def test_the_link_checker_reports_a_broken_file_and_a_broken_anchor(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text("# A page\n\n## Tuning `x` (per stack)\n", encoding="utf-8")
    page = tmp_path / "README.md"
    page.write_text(
        "[ok](docs/a.md#tuning-x-per-stack) [ok](#top) `[not a link](nowhere.md)`\n\n# Top\n\n"
        "[gone](docs/b.md) [bad anchor](docs/a.md#tuning) [self](#nothing)\n"
        "```\n[in code](nowhere.md)\n```\n",
        encoding="utf-8",
    )
    problems = broken_links(page, tmp_path)
    assert [problem.split(": ", 1)[1] for problem in problems] == [
        "docs/b.md: no such file",
        "docs/a.md#tuning: no heading with anchor #tuning in docs/a.md",
        "#nothing: no heading with anchor #nothing in README.md",
    ]


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Critical alerts", "critical-alerts"),
        ("SparkMemoryPressure", "sparkmemorypressure"),
        ("`spark-platform:platform.jobs.overrides.<job>`", "spark-platformplatformjobsoverridesjob"),
        ("Cluster (`components/cluster.py`, `eks_addons.py`)", "cluster-componentsclusterpy-eks_addonspy"),
        ("Promotion: dev → staging → prod", "promotion-dev--staging--prod"),
        ("[Linked](x.md) heading <br>", "linked-heading"),
    ],
)
def test_github_slugs(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


# -- the documents ----------------------------------------------------------------------------------------------


def test_every_relative_link_and_anchor_resolves(project_root: Path) -> None:
    problems = [problem for path in documents(project_root) for problem in broken_links(path, project_root)]
    assert not problems, "broken links:\n" + "\n".join(problems)


def test_every_table_row_has_as_many_cells_as_its_header(project_root: Path) -> None:
    problems = []
    for path in documents(project_root):
        width = None
        previous = 0
        for number, cells in table_rows(path.read_text(encoding="utf-8")):
            if number != previous + 1:  # a new table: its first row is the header
                width = len(cells)
            elif len(cells) != width:
                problems.append(f"{path.relative_to(project_root)}:{number}: {len(cells)} cells, header has {width}")
            previous = number
    assert not problems, "an unescaped | splits these rows:\n" + "\n".join(problems)


def test_readme_is_a_short_front_page(project_root: Path) -> None:
    lines = (project_root / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) < README_MAX_LINES, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_alerts_runbook_resolves(stack_plan: Plan, project_root: Path) -> None:
    runbooks = [
        rule["annotations"]["runbook"]
        for resource in stack_plan.of_type(PROMETHEUS_RULE)
        for group in resource.inputs["spec"]["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]
    assert runbooks
    problems = [f"{runbook}: {resolve(runbook, project_root, project_root)}" for runbook in runbooks]
    assert not [problem for problem in problems if not problem.endswith(": None")], problems
    assert all(runbook.startswith("docs/monitoring.md#") for runbook in runbooks), runbooks


def test_the_alert_unit_tests_expect_the_same_runbooks(project_root: Path) -> None:
    expected = []
    for path in sorted((project_root / "monitoring" / "alert-tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for check in case.get("alert_rule_test", []):
                for alert in check.get("exp_alerts") or []:
                    expected.append(alert["exp_annotations"]["runbook"])
    assert expected
    problems = [f"{runbook}: {resolve(runbook, project_root, project_root)}" for runbook in set(expected)]
    assert not [problem for problem in problems if not problem.endswith(": None")], problems


# -- the generated configuration reference ----------------------------------------------------------------------


def test_the_configuration_reference_reads_as_a_user_writes_config() -> None:
    from spk.config_reference import reference_markdown

    types = [
        cells[1].strip()
        for _, cells in table_rows(reference_markdown())
        if len(cells) == 4 and cells[0].strip() not in ("key", "---")
    ]
    assert types
    internals = re.compile(r"StringConstraints|Annotated|typing\.|Literal\[|ascii_only|\^|\$|Args\b|\bdict\[|\blist\[")
    assert not [text for text in types if internals.search(text)], "types printed as Python/regex internals"
    reference = reference_markdown()
    assert "| `adminRoleArns` | list of IAM role ARNs |" in reference
    assert "| `instanceTypes` | non-empty list of EC2 instance types |" in reference
    assert "| `ingressHost` | string, optional |" in reference
    assert "| `overrides` | map of job name → override, see " in reference
    # The override's own keys are documented in their own section.
    section = reference.split("## `spark-platform:platform.jobs.overrides.<job>`", 1)[1].split("\n## ", 1)[0]
    assert "| `suspend` |" in section and "| `conf` |" in section


def test_the_reason_code_table_is_the_catalogue(project_root: Path) -> None:
    from pipelines.schemas import REASONS

    documented = re.findall(r"^\| `([A-Z0-9_:<>a-z]+)` \|", (project_root / "docs" / "pipelines.md").read_text(), re.M)
    assert documented == list(REASONS)

"""`spk promote <from> <to>`: move the `release` block, and nothing else, one stage along dev → staging → prod.

The target stack file is rewritten with ruamel.yaml round-trip so comments and layout survive; the text
outside the release block is checked to be byte-for-byte unchanged before anything is written."""

from __future__ import annotations

import copy
import fcntl
import io
import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from components.config import PLATFORM_KEY, PlatformConfigError
from spk.console import console, error_console, fail, user_errors
from spk.diff import PlanDiff, PropertyChange, diff_plans, diff_values
from spk.errors import SpkError
from spk.files import check_writable, track_transient, untrack_transient, write_atomically
from spk.stack_files import STACKS, project_root, read_stack_file

RELEASE_KEY = "release"
PULUMI_TIMEOUT_SECONDS = 120


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    # The stack files' layout: 2-space mappings, sequences indented under their key.
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


# -- the chain -----------------------------------------------------------------------------------------------


def check_chain(source: str, target: str) -> None:
    """Promotion moves one stage at a time along STACKS."""
    chain = " → ".join(STACKS)
    if source not in STACKS or target not in STACKS:
        unknown = source if source not in STACKS else target
        raise SpkError(f"unknown stack {unknown!r}: promotion runs along {chain}")
    step = STACKS.index(target) - STACKS.index(source)
    if step == 1:
        return
    if step > 1:
        between = " → ".join(STACKS[STACKS.index(source) : STACKS.index(target) + 1])
        raise SpkError(
            f"refusing to promote {source} → {target}: that skips a stage ({between}). Promotion runs {chain} one "
            f"stage at a time: promote {source} → {STACKS[STACKS.index(source) + 1]} first, deploy and test it there"
        )
    raise SpkError(f"refusing to promote {source} → {target}: promotion only moves forward along {chain}")


# -- rewriting the release block -------------------------------------------------------------------------------


def _load(path: Path) -> Any:
    try:
        return _yaml().load(path.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise SpkError(f"{path.name}: not valid YAML: {error}") from None


def _platform(document: Any, path: Path) -> CommentedMap:
    config = document.get("config") if isinstance(document, Mapping) else None
    if isinstance(config, Mapping):
        for key in (PLATFORM_KEY, PLATFORM_KEY.split(":", 1)[1]):
            if isinstance(config.get(key), CommentedMap):
                platform = config[key]
                if isinstance(platform.get(RELEASE_KEY), CommentedMap):
                    return platform
    raise SpkError(f"{path.name}: no {PLATFORM_KEY}.{RELEASE_KEY} block to promote")


def _merge(target: CommentedMap, source: Mapping[str, Any]) -> None:
    """Make `target` equal to `source` in place, so the target keeps its own comments and key order."""
    for key in [k for k in target if k not in source]:
        del target[key]
    for key, value in source.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), CommentedMap):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _block_lines(platform: CommentedMap) -> tuple[int, int | None]:
    """0-based first line of the release block and the line where what follows it starts (None: file end)."""
    keys = list(platform)
    start = platform.lc.key(RELEASE_KEY)[0]
    position = keys.index(RELEASE_KEY)
    end = platform.lc.key(keys[position + 1])[0] if position + 1 < len(keys) else None
    return start, end


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


@dataclass(frozen=True)
class ReleaseChange:
    old_release: dict[str, Any]
    new_release: dict[str, Any]
    old_text: str
    new_text: str

    @property
    def changes(self) -> list[PropertyChange]:
        return diff_values(self.old_release, self.new_release, RELEASE_KEY)


def promoted_text(source_path: Path, target_path: Path) -> ReleaseChange:
    """The target stack file's text with the source's release block, everything else untouched."""
    source_release = _platform(_load(source_path), source_path)[RELEASE_KEY]
    old_text = target_path.read_text(encoding="utf-8")
    document = _load(target_path)
    platform = _platform(document, target_path)
    old_release = _plain(platform[RELEASE_KEY])
    start, old_end = _block_lines(platform)
    _merge(platform[RELEASE_KEY], source_release)
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    new_text = buffer.getvalue()
    new_start, new_end = _block_lines(_platform(_load_text(new_text, target_path), target_path))
    old_lines, new_lines = old_text.splitlines(keepends=True), new_text.splitlines(keepends=True)
    before_same = start == new_start and old_lines[:start] == new_lines[:start]
    after_same = (old_end is None and new_end is None) or (
        old_end is not None and new_end is not None and old_lines[old_end:] == new_lines[new_end:]
    )
    if not (before_same and after_same):
        raise SpkError(
            f"{target_path.name}: rewriting the release block would also change text outside it; "
            "copy the block by hand"
        )
    return ReleaseChange(old_release, _plain(source_release), old_text, new_text)


def _load_text(text: str, path: Path) -> Any:
    try:
        return _yaml().load(text)
    except YAMLError as error:
        raise SpkError(f"{path.name}: not valid YAML after the rewrite: {error}") from None


# -- plans before/after ----------------------------------------------------------------------------------------


@contextmanager
def project_with(root: Path, stack: str, text: str) -> Iterator[Path]:
    """A throwaway view of the project (symlinks) in which `Pulumi.<stack>.yaml` has the given text."""
    with tempfile.TemporaryDirectory(prefix="spk-promote-") as folder:
        view = Path(folder)
        for entry in root.iterdir():
            if entry.name != f"Pulumi.{stack}.yaml":
                (view / entry.name).symlink_to(entry)
        (view / f"Pulumi.{stack}.yaml").write_text(text, encoding="utf-8")
        yield view


def target_plan_diff(root: Path, target: str, new_text: str) -> PlanDiff:
    from spk.engine import render_plan  # deferred: pulls in the Pulumi SDK and the program

    before = render_plan(target, root)
    with project_with(root, target, new_text) as view:
        after = render_plan(target, view)
    return diff_plans(before, after, labels=(f"{target} now", f"{target} after the promotion"))


# -- one promotion of a stack file at a time --------------------------------------------------------------------


def lock_path(target_path: Path) -> Path:
    """The lock beside the stack file it guards: `.Pulumi.<stack>.yaml.spk-lock`."""
    return target_path.with_name(f".{target_path.name}.spk-lock")


def _holder(text: str) -> tuple[int | None, str, str]:
    """(pid, host, since) as a lock file records them."""
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    pid = fields.get("pid", "")
    return (int(pid) if pid.isdigit() else None), fields.get("host", "?"), fields.get("since", "?")


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


@contextmanager
def promotion_lock(target_path: Path) -> Iterator[None]:
    """Hold `lock_path(target_path)` while promoting into `target_path`: created exclusively (O_CREAT|O_EXCL), it
    records pid, host and time, and is removed at the end. The holder also keeps an flock on it, so a lock whose
    holder died (kill -9, a crash) is recognised as stale, reported and taken over; a live holder's lock is a
    refusal naming it."""
    path = lock_path(target_path)
    descriptor = _acquire(path)
    track_transient(path)
    try:
        yield
    finally:
        untrack_transient(path)
        path.unlink(missing_ok=True)  # before the flock goes: a waiter then finds no file, not a released one
        os.close(descriptor)


def _record(descriptor: int) -> None:
    since = datetime.now(UTC).isoformat(timespec="seconds")
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"pid={os.getpid()}\nhost={socket.gethostname()}\nsince={since}\n".encode(), 0)


def _flock(descriptor: int, *, blocking: bool) -> bool | None:
    """True if we now hold the flock, False if another process does, None if the filesystem has none (then the
    recorded pid is all there is to go by)."""
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    return True


def _read(descriptor: int) -> str:
    return os.pread(descriptor, 4096, 0).decode("utf-8", errors="replace")


def _acquire(path: Path) -> int:
    for _ in range(5):
        try:
            descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            descriptor = _take_over_if_stale(path)
            if descriptor is None:
                continue  # the holder just released it: try again
            return descriptor
        except OSError as error:
            raise SpkError(f"{path}: cannot create the promotion lock ({error.strerror or error})") from None
        # Blocking: whoever opened the brand-new file to check it lets go at once, seeing it empty.
        _flock(descriptor, blocking=True)
        _record(descriptor)
        return descriptor
    raise SpkError(f"{path}: the promotion lock keeps changing hands; run again")


def _take_over_if_stale(path: Path) -> int | None:
    """The lock's descriptor, ours now, if its holder is gone; None if it vanished; SpkError if it is held."""
    try:
        descriptor = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise SpkError(f"{path}: cannot read the promotion lock ({error.strerror or error})") from None
    try:
        locked = _flock(descriptor, blocking=False)
        pid, host, since = _holder(_read(descriptor))
        held = f"{path}: another `spk promote` holds this lock (pid {pid or '?'} on {host} since {since})"
        if locked is False:
            raise SpkError(f"{held}; wait for it to finish")
        if pid is None:
            raise SpkError(f"{held}; it is being taken; run again (remove the file if no promotion is running)")
        if os.fstat(descriptor).st_ino != os.stat(path).st_ino:
            os.close(descriptor)
            return None  # released and taken anew meanwhile
        if locked is None and (host != socket.gethostname() or _pid_running(pid)):
            raise SpkError(f"{held}; wait for it to finish, or remove the file if it is not running")
        error_console.print(
            f"warning: breaking a stale promotion lock {path}: pid {pid} on {host} took it at {since} and is gone "
            "(killed, or crashed)", soft_wrap=True, markup=False,
        )
        _record(descriptor)
        return descriptor
    except FileNotFoundError:
        os.close(descriptor)
        return None
    except BaseException:
        os.close(descriptor)
        raise


# -- gates on the source stack ---------------------------------------------------------------------------------


def source_problems(root: Path, source: str) -> list[str]:
    """Why the source stack's release should not move on: schema validation, then mandatory policies."""
    from spk.engine import ProgramError, render_plan
    from spk.policy_commands import check_plan, mandatory

    stack_file = read_stack_file(root, source)
    try:
        stack_file.settings()
    except PlatformConfigError as error:
        return [f"{problem}" for problem in error.problems]
    try:
        plan = render_plan(source, root)
    except ProgramError as error:
        return [f"the {source} program fails offline: {error}"]
    return [f"policy {v.policy}: {v.message}" for v in mandatory(check_plan(plan))]


def _git_status(root: Path, *arguments: str) -> list[str] | None:
    """`git status --porcelain` lines for `root`, or None outside a git work tree (nothing to compare with)."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", *arguments], cwd=root, capture_output=True, text=True,
            timeout=30, check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return status.stdout.splitlines() if status.returncode == 0 else None


def uncommitted(root: Path, path: Path) -> list[str]:
    """A release is promoted from what the repository holds: an uncommitted source stack file is a problem."""
    if not _git_status(root, "--", path.name):
        return []
    return [f"{path.name} has uncommitted changes; commit the release you promote"]


def dirty_tree(root: Path, source_path: Path) -> list[str]:
    """A promotion is one reviewable change on top of a commit: uncommitted changes to tracked files (or a stack
    file git does not know) would ride along in the same pull request, or be left behind by it."""
    tracked = _git_status(root, "--untracked-files=no", "--", ".") or []
    stack_files = _git_status(root, "--", "Pulumi.*.yaml") or []
    paths = sorted({line[3:] for line in tracked + stack_files} - {source_path.name})
    if not paths:
        return []
    shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
    return [f"the working tree has uncommitted changes ({shown}); commit or stash them first"]


def deployed_release(root: Path, stack: str) -> dict[str, Any]:
    """The `release` output of the deployed stack, via the Pulumi CLI."""
    pulumi = shutil.which("pulumi")
    if pulumi is None:
        raise SpkError(
            "--check-deployed needs the Pulumi CLI, which is not available here (no `pulumi` on PATH); "
            "install it or leave out --check-deployed"
        )
    try:
        result = subprocess.run(
            [pulumi, "stack", "output", "--stack", stack, "--json"],
            cwd=root, capture_output=True, text=True, timeout=PULUMI_TIMEOUT_SECONDS, check=False,
        )
    except subprocess.TimeoutExpired:
        raise SpkError(f"`pulumi stack output --stack {stack}` did not answer in {PULUMI_TIMEOUT_SECONDS}s") from None
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no error output"])[-1]
        raise SpkError(f"`pulumi stack output --stack {stack} --json` failed: {last}")
    try:
        outputs = json.loads(result.stdout or "{}")
    except json.JSONDecodeError:
        raise SpkError(f"`pulumi stack output --stack {stack} --json` did not print JSON") from None
    release = outputs.get(RELEASE_KEY) if isinstance(outputs, dict) else None
    if not isinstance(release, dict):
        raise SpkError(f"stack {stack} has no `{RELEASE_KEY}` output: it was not deployed by this program")
    return release


def expected_release(root: Path, stack: str) -> dict[str, Any]:
    """The release as the program exports it (`__main__.py`: model_dump by alias)."""
    settings = read_stack_file(root, stack).settings()
    return settings.platform.release.model_dump(mode="json", by_alias=True)


# -- the report ------------------------------------------------------------------------------------------------


@dataclass
class Promotion:
    source: str
    target: str
    change: ReleaseChange
    problems: list[str] = field(default_factory=list)
    deployed: str = "not checked (--check-deployed not given)"
    forced_reason: str | None = None
    plan_diff: PlanDiff | None = None


def _code(value: Any) -> str:
    return f"`{value}`" if not isinstance(value, dict | list) else f"`{json.dumps(value, sort_keys=True)}`"


def summary_markdown(promotion: Promotion) -> str:
    target_file = f"Pulumi.{promotion.target}.yaml"
    lines = [
        f"## Promote release {promotion.source} → {promotion.target}",
        "",
        f"Only the `release` block of `{target_file}` changes (written by `spk promote`, comments and layout kept).",
        "",
        f"| field | {promotion.target} now | from {promotion.source} |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{c.path}` | {_code(c.old)} | {_code(c.new)} |" for c in promotion.change.changes]
    lines += ["", f"### Checks on {promotion.source}", ""]
    if promotion.problems:
        lines.append(f"- **{len(promotion.problems)} problem(s)**, promoted anyway with `--force`:")
        lines += [f"  - {problem}" for problem in promotion.problems]
        lines.append(f"- **Reason given:** {promotion.forced_reason}")
    else:
        lines.append(f"- `Pulumi.{promotion.source}.yaml` validates and the offline plan passes every mandatory policy")
    lines.append(f"- deployed release: {promotion.deployed}")
    diff = promotion.plan_diff
    if diff is not None:
        lines += [
            "",
            f"### Offline plan of {promotion.target}: {len(diff.added)} to add, {len(diff.removed)} to remove, "
            f"{len(diff.changed)} to change, {len(diff.outputs)} outputs changed",
            "",
            "<details><summary>changes</summary>",
            "",
            "```text",
            *_diff_lines(diff),
            "```",
            "",
            "</details>",
        ]
    lines += [
        "",
        f"After merge, `deploy.yml` runs `pulumi up` on `{promotion.target}` once the `{promotion.target}` "
        "environment's reviewers approve.",
        "",
    ]
    return "\n".join(lines)


def _diff_lines(diff: PlanDiff) -> list[str]:
    lines = [f"+ {r.type} {r.name}" for r in diff.added]
    lines += [f"- {r.type} {r.name}" for r in diff.removed]
    for change in diff.changed:
        lines.append(f"~ {change.type} {change.name}")
        lines += [f"    {p.path}: {json.dumps(p.old)} → {json.dumps(p.new)}" for p in change.changes]
    lines += [f"~ output {p.path}: {json.dumps(p.old)} → {json.dumps(p.new)}" for p in diff.outputs]
    return lines or ["(no differences)"]


# -- the command -----------------------------------------------------------------------------------------------


def promote_command(
    source: Annotated[str, typer.Argument(help="Stack whose release moves on (dev or staging).")],
    target: Annotated[str, typer.Argument(help="The next stack in the chain (staging or prod).")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the change; write no stack file.")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Promote despite the problems found (failing checks, a dirty tree).")
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why --force is needed (required with it; printed, and in --summary)."),
    ] = None,
    summary: Annotated[
        Path | None, typer.Option("--summary", help="Write a Markdown summary (pull request body) here.")
    ] = None,
    check_deployed: Annotated[
        bool,
        typer.Option("--check-deployed", help="Check with the Pulumi CLI that the source stack runs this release."),
    ] = False,
) -> None:
    """Move the `release` block from one stack file to the next (dev → staging → prod), nothing else. Refused while
    another promotion of the target runs, from a dirty tree, or when the source fails its checks, unless
    --force --reason "..." (the reason is printed and goes into the --summary)."""
    if force and not (reason and reason.strip()):
        fail("--force needs --reason \"...\" saying why the problems it overrides are acceptable")
    if reason and not force:
        fail("--reason only goes with --force")
    with user_errors():
        check_chain(source, target)
        root = project_root()
        if summary is not None:
            check_writable(summary)
        # A dry run writes no stack file, so it needs no lock and never waits for one.
        with nullcontext() if dry_run else promotion_lock(root / f"Pulumi.{target}.yaml"):
            _promote(root, source, target, dry_run, force, reason, summary, check_deployed)


def _promote(
    root: Path, source: str, target: str, dry_run: bool, force: bool, reason: str | None, summary: Path | None,
    check_deployed: bool,
) -> None:
    from spk.stack_commands import print_diff

    with user_errors():
        source_file, target_file = read_stack_file(root, source), read_stack_file(root, target)
        change = promoted_text(source_file.path, target_file.path)
        promotion = Promotion(source, target, change, forced_reason=reason)
        if not change.changes:
            console.print(f"{target} already runs the release of {source}: nothing to promote")
            return
        promotion.problems = (
            [f"{source}: {problem}" for problem in source_problems(root, source) + uncommitted(root, source_file.path)]
            + [f"git: {problem}" for problem in dirty_tree(root, source_file.path)]
        )
        if check_deployed:
            deployed = deployed_release(root, source)
            expected = expected_release(root, source) if not promotion.problems else None
            if expected is not None and deployed != expected:
                differences = ", ".join(c.path for c in diff_values(deployed, expected, RELEASE_KEY))
                promotion.problems.append(
                    f"{source}: stack {source} does not run the release in Pulumi.{source}.yaml (differs in "
                    f"{differences}); deploy {source} first"
                )
                promotion.deployed = f"{source} differs from its stack file ({differences})"
            else:
                promotion.deployed = f"{source} runs this release (pulumi stack output)"

    console.print(f"[bold]promote {source} → {target}[/]: release change in {target_file.path.name}")
    for prop in change.changes:
        console.print(f"  {prop.path}: {_show(prop.old)} → {_show(prop.new)}", markup=False, soft_wrap=True)
    if promotion.problems:
        for problem in promotion.problems:
            console.print(f"[red]✗[/] {problem}", soft_wrap=True, markup=False)
        if not force:
            fail(
                f"refusing to promote: {len(promotion.problems)} problem(s) above; fix them, or promote anyway "
                "with --force --reason \"...\""
            )
        console.print(f"[yellow]--force[/]: promoting anyway; reason: {reason}", soft_wrap=True)
    else:
        console.print(f"[green]✓[/] {source}: config validates and the plan passes every mandatory policy")
    console.print(f"[dim]deployed: {promotion.deployed}[/]")

    with user_errors():
        promotion.plan_diff = target_plan_diff(root, target, change.new_text)
    print_diff(promotion.plan_diff, heading=f"{source} → {target}: offline plan of {target}, before → after")

    if summary is not None:
        with user_errors():
            write_atomically(summary, summary_markdown(promotion))
        console.print(f"summary written to {summary}")
    if dry_run:
        console.print(f"[yellow]dry run[/]: {target_file.path.name} not written")
        return
    with user_errors():
        # An edit made to the target while this ran would be silently reverted by writing over it.
        if target_file.path.read_text(encoding="utf-8") != change.old_text:
            raise SpkError(f"{target_file.path.name}: changed while promoting; nothing written, run again")
        write_atomically(target_file.path, change.new_text)
    forced = f"; forced, reason: {reason}" if promotion.problems else ""
    console.print(f"wrote {target_file.path.name} (release block only{forced})", soft_wrap=True)


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def register(app: typer.Typer) -> None:
    app.command("promote")(promote_command)

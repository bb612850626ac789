"""Hostile stack files answer at once with one clear line: duplicate keys (Pulumi's own parser refuses them), alias
bombs, absurd nesting and size, and bytes that are not UTF-8. Never a hang, never a traceback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from spk.errors import SpkError
from spk.stack_files import read_stack_file

BILLION_LAUGHS = "\n".join(
    ["config:", "  spark-platform:platform:", '    a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    + [f"    a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 8)}]" for i in range(1, 10)]
) + "\n"


def stack_file(tmp_path: Path, content: str | bytes) -> Path:
    (tmp_path / "Pulumi.yaml").write_text("name: spark-platform\nruntime: python\n")
    path = tmp_path / "Pulumi.dev.yaml"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config:\n  aws:region: us-east-1\n  aws:region: eu-west-1\n", "duplicate key 'aws:region'"),
        ("config:\n  spark-platform:platform:\n    cluster:\n      a: 1\n      a: 2\n", "duplicate key 'a'"),
        (BILLION_LAUGHS, "expands to more than 100,000 values"),
        ("config:\n  x: " + "[" * 5000 + "]" * 5000 + "\n", "Pulumi.dev.yaml: "),
        ("config:\n  x: " + "[" * 70 + "]" * 70 + "\n", "levels"),
        (b"config:\n  aws:region: us-east-1\n  x: \xff\xfe\n", "line 3: expected UTF-8 text, found byte 0xff"),
        ("config:\n" + "  k: " + "x" * (1024 * 1024) + "\n", "expected a stack file of at most"),
        ("config:\n  ? [a, b]\n  : 1\n", "a mapping or list used as a key"),
    ],
)
def test_hostile_yaml_is_refused_quickly_with_one_line(tmp_path: Path, content: str | bytes, message: str) -> None:
    stack_file(tmp_path, content)
    started = time.monotonic()
    with pytest.raises(SpkError) as raised:
        read_stack_file(tmp_path, "dev")
    assert time.monotonic() - started < 5, "a hostile file must answer within seconds"
    assert message in str(raised.value)
    assert str(raised.value).startswith("Pulumi.dev.yaml: ")
    assert "\n" not in str(raised.value)


def test_ordinary_anchors_still_load(tmp_path: Path) -> None:
    stack_file(tmp_path, "config:\n  aws:region: &r us-east-1\n  spark-platform:other: *r\n")
    assert read_stack_file(tmp_path, "dev").config["spark-platform:other"] == "us-east-1"

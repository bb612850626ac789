"""Ctrl-C: any `spk` command exits within 2 seconds with status 130 and one line, never a traceback, whether
it comes while spk starts, while the Pulumi program runs in-process under mocks, or while it prints. (Promotions
interrupted mid-run and mid-write are in test_promote.py.)"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SPK = Path(sys.executable).with_name("spk")
PROJECT = Path(__file__).resolve().parents[1]


def interrupt(args: list[str], after: float, cwd: Path = PROJECT) -> tuple[int, float, str]:
    """(exit status, seconds from SIGINT to exit, stdout + stderr)."""
    process = subprocess.Popen([str(SPK), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after)
    if process.poll() is not None:
        pytest.skip(f"spk {' '.join(args)} finished within {after}s: nothing left to interrupt")
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        out, err = process.communicate(timeout=10)
    finally:
        process.kill()
    return process.returncode, time.monotonic() - sent, out + err


@pytest.mark.parametrize("after", [0.3, 1.5])
def test_ctrl_c_during_plan_exits_130_within_2_seconds(after: float) -> None:
    status, seconds, output = interrupt(["plan", "dev"], after)
    assert status == 130, output
    assert seconds < 2, seconds
    assert "Traceback" not in output and "Task was destroyed" not in output
    assert output.strip().splitlines()[-1] == "interrupted"


def test_ctrl_c_during_diff_of_two_stacks() -> None:
    status, seconds, output = interrupt(["diff", "dev", "prod"], 2.0)
    assert (status, "Traceback" in output) == (130, False), output
    assert seconds < 2

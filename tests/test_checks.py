"""Checks run with a time limit, without a shell, and their pytest summary is read."""

from __future__ import annotations

import sys
from pathlib import Path

from forksync.checks import parse_pytest, run_check


def test_parse_pytest_summary() -> None:
    out = "....F\n=========== 1 failed, 4 passed, 2 skipped, 1 warning in 0.52s ===========\n"
    assert parse_pytest(out) == {"failed": 1, "passed": 4, "skipped": 2, "warnings": 1}
    assert parse_pytest("no summary here") is None
    unit = "..F\n----------------------------------------------------------------------\nRan 3 tests in 0.001s\n\nFAILED (failures=1)\n"
    assert parse_pytest(unit) == {"failed": 1, "passed": 2}
    assert parse_pytest("Ran 2 tests in 0.000s\n\nOK\n") == {"passed": 2}


def test_timeout_kills_the_check(tmp_path: Path) -> None:
    rec = run_check(tmp_path, "sleepy", [sys.executable, "-c", "import time; time.sleep(30)"], timeout=0.5)
    assert rec.timed_out and not rec.passed and rec.exit_code is None and rec.duration_s < 10


def test_no_shell_and_exit_codes(tmp_path: Path) -> None:
    rec = run_check(tmp_path, "echo", ["echo", "$HOME;", "rm", "-rf"], timeout=10)
    assert rec.passed and "$HOME; rm -rf" in rec.output_tail
    bad = run_check(tmp_path, "fail", [sys.executable, "-c", "raise SystemExit(3)"], timeout=10)
    assert bad.exit_code == 3 and not bad.passed
    missing = run_check(tmp_path, "missing", ["definitely-not-a-command-xyz"], timeout=10)
    assert not missing.passed and "cannot start" in missing.output_tail

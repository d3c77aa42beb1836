"""The code stays typed (mypy --strict) and lint-clean (ruff): part of the test command, so CI holds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", "src", "tests", "bench")
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = _run("ruff", "format", "--check", "src", "tests", "bench")
    assert fmt.returncode == 0, fmt.stdout[-4000:]


def test_mypy_strict() -> None:
    res = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert res.returncode == 0, res.stdout[-4000:]

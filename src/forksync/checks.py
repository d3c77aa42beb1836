"""Run the fork's configured checks in the sync worktree, each with a time limit.

Commands are split like a shell would (shlex) but never run through one. The merged code is
upstream's and untrusted: every command runs through `sandbox` (no secret in reach, output
bounded, its whole process group killed at the end).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import time
from pathlib import Path

from . import sandbox
from .config import CheckCommand, Config
from .report import CheckRecord
from .secrets import redact

TAIL_LINES = 60
TAIL_CHARS = 6000
_PYTEST = re.compile(r"^=+ (?P<body>.*?) in [\d.]+s(?: \([^)]*\))? =+$", re.M)
_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|warnings?|deselected)")


def check_list(config: Config) -> list[tuple[str, list[str], float]]:
    """(name, argv, timeout) for every configured check."""
    out = []
    for item in config.checks.commands:
        if isinstance(item, CheckCommand):
            argv = item.run if isinstance(item.run, list) else shlex.split(item.run)
            name = item.name or " ".join(argv)
            out.append((name, argv, item.timeout or config.checks.timeout))
        else:
            argv = item if isinstance(item, list) else shlex.split(item)
            out.append((" ".join(argv), argv, config.checks.timeout))
    return out


_UNITTEST = re.compile(r"^Ran (\d+) tests? in [\d.]+s\s*\n\s*\n?(OK|FAILED)(?: \(([^)]*)\))?", re.M)


def parse_unittest(output: str) -> dict[str, int] | None:
    found = list(_UNITTEST.finditer(output))
    if not found:
        return None
    m = found[-1]
    ran = int(m.group(1))
    counts: dict[str, int] = {}
    for part in (m.group(3) or "").split(","):
        key, _, num = part.strip().partition("=")
        if num.isdigit():
            counts[{"failures": "failed", "errors": "errors", "skipped": "skipped"}.get(key, key)] = int(num)
    counts["passed"] = ran - counts.get("failed", 0) - counts.get("errors", 0) - counts.get("skipped", 0)
    return counts


def parse_pytest(output: str) -> dict[str, int] | None:
    matches = list(_PYTEST.finditer(output))
    if not matches:
        return parse_unittest(output)
    counts: dict[str, int] = {}
    for num, word in _COUNT.findall(matches[-1].group("body")):
        key = {"error": "errors", "warning": "warnings"}.get(word, word)
        counts[key] = counts.get(key, 0) + int(num)
    return counts or None


def tail(text: str) -> str:
    lines = text.splitlines()[-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]


def run_check(worktree: Path, name: str, argv: list[str], timeout: float) -> CheckRecord:
    """Run one command of the merged tree: sandboxed (see sandbox.py), bounded output, time limit."""
    start = time.monotonic()
    if not _startable(worktree, argv[0] if argv else ""):
        return CheckRecord(name, " ".join(argv), None, 0.0, output_tail=f"cannot start: {argv[:1]} not found")
    prepared = sandbox.prepare(argv, worktree, env={"CI": os.environ.get("CI", "true")})
    try:
        done = sandbox.run(prepared, timeout=timeout)
    except (FileNotFoundError, PermissionError) as exc:
        return CheckRecord(name, " ".join(argv), None, 0.0, output_tail=f"cannot start: {exc}")
    finally:
        prepared.close()
    text = redact(done.stdout.decode("utf-8", "replace"))
    duration = round(time.monotonic() - start, 3)
    return CheckRecord(
        name,
        " ".join(argv),
        done.returncode,
        duration,
        done.timed_out,
        passed=(done.returncode == 0),
        output_tail=tail(text),
        tests=parse_pytest(text),
    )


def _startable(worktree: Path, exe: str) -> bool:
    """The command exists (the sandbox would only say so in its own words after starting)."""
    if not exe:
        return False
    if "/" in exe:
        return (worktree / exe).exists()
    return shutil.which(exe) is not None


def run_checks(worktree: Path, config: Config) -> list[CheckRecord]:
    return [run_check(worktree, name, argv, timeout) for name, argv, timeout in check_list(config)]

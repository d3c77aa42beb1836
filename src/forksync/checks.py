"""Run the fork's configured checks in the sync worktree, each with a time limit.

Commands are split like a shell would (shlex) but never run through one; secrets are
removed from their environment, since the merged code is upstream's and untrusted.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import time
from pathlib import Path

from .config import CheckCommand, Config
from .report import CheckRecord
from .secrets import redact, scrubbed_env

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
    start = time.monotonic()
    env = scrubbed_env()
    env["CI"] = env.get("CI", "true")
    try:
        proc = subprocess.Popen(
            argv,
            cwd=worktree,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
    except (FileNotFoundError, PermissionError) as exc:
        return CheckRecord(name, " ".join(argv), None, 0.0, output_tail=f"cannot start: {exc}")
    try:
        out, _ = proc.communicate(timeout=timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        timed_out = True
    text = redact(out.decode("utf-8", "replace"))
    duration = round(time.monotonic() - start, 3)
    code = None if timed_out else proc.returncode
    return CheckRecord(
        name,
        " ".join(argv),
        code,
        duration,
        timed_out,
        passed=(code == 0),
        output_tail=tail(text),
        tests=parse_pytest(text),
    )


def run_checks(worktree: Path, config: Config) -> list[CheckRecord]:
    return [run_check(worktree, name, argv, timeout) for name, argv, timeout in check_list(config)]

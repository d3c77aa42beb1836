"""A mistake in the configuration is one line naming the file, the key and what to write instead."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from forksync.config import Config, parse_config
from forksync.errors import ConfigError

CASES: list[tuple[dict[str, Any], str]] = [
    ({"resolv": {}}, "unknown key 'resolv'; did you mean 'resolve'?"),
    ({"resolve": {"learn_limit": 3}}, "unknown key 'resolve.learn_limit'; did you mean 'learn-limit'?"),
    ({"resolve": 3}, "key 'resolve': Expected `object`, got `int` (got 3)"),
    ({"resolve": {"learn-limit": -1}}, "key 'resolve.learn-limit': Expected `int` >= 0 (got -1)"),
    ({"resolve": {"min-confidence": 2}}, "key 'resolve.min-confidence': Expected `float` <= 1.0 (got 2)"),
    (
        {"resolve": {"policies": [{"path": "x", "policy": "nope"}]}},
        "key 'resolve.policies[0].policy': not a known value; one of: keep-fork, take-upstream, union, "
        "regenerate, manual, merge (got 'nope')",
    ),
    (
        {"resolve": {"policies": [{"path": "x", "polcy": "union"}]}},
        "unknown key 'resolve.policies[0].polcy'; did you mean 'policy'?",
    ),
    (
        {"checks": {"commands": ["make", {"rn": "x"}]}},
        "unknown key 'checks.commands[1].rn'; did you mean 'run'?",
    ),
    ({"checks": {"commands": [{"name": "x"}]}}, "key 'checks.commands[0].run' is required"),
    ({"fork": {"sync-branch": "sync"}}, "key 'fork.sync-branch': must contain {version} (got 'sync')"),
    (
        {"version": {"file": "../x.toml"}},
        "key 'version.file': must be a path inside the repository (relative, without '..') (got '../x.toml')",
    ),
    (
        {"version": {"scheme": "{upstream}+{fork}"}},
        "key 'version.scheme': unknown placeholder 'fork'; use {upstream}, {n} or {local} "
        "(got '{upstream}+{fork}')",
    ),
    (
        {"notify": {"on": ["synced", "always"]}},
        "key 'notify.on[1]': not a known value; one of: synced, up-to-date, conflicts, failed, "
        "checks-failed (got 'always')",
    ),
    (
        {"security": {"allowed-events": ["push", "pr"]}},
        "key 'security.allowed-events': unknown event(s) pr; known: ",
    ),
]


@pytest.mark.parametrize(("data", "expected"), CASES, ids=[c[1].split(":")[0] for c in CASES])
def test_a_config_mistake_is_one_line_naming_the_key(data: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, ".forksync.toml")
    message = str(info.value)
    assert message.startswith(f".forksync.toml: {expected}") and "\n" not in message


def test_the_values_are_read_as_written() -> None:
    config = parse_config(
        {
            "resolve": {"min-confidence": 1, "policies": [{"path": "uv.lock", "policy": "regenerate"}]},
            "verify": {"tests": "off"},
            "checks": {"commands": ["make", ["pytest", "-q"], {"name": "lint", "run": "ruff check"}]},
        },
        "t.toml",
    )
    assert config.resolve.min_confidence == 1.0 and isinstance(config.resolve.min_confidence, float)
    assert config.resolve.policies[0].policy == "regenerate"
    assert config.verify.tests is False  # "off" means no test command
    assert [type(c).__name__ for c in config.checks.commands] == ["str", "list", "CheckCommand"]
    assert Config() == parse_config({}, "t.toml")


def test_a_bare_command_imports_no_validation_or_llm_library() -> None:
    """`forksync merge-driver` starts once per conflicted file: its imports are its start-up."""
    code = (
        "import sys, forksync.cli, forksync.commands.resolve, forksync.config; "
        "print([m for m in ('pydantic', 'anthropic', 'openai', 'httpx') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

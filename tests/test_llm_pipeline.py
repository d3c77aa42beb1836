"""The agent inside a whole sync of the embedded demo: the pipeline hands it what the engine left."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from forksync.commands.sync import execute
from tests.gitutil import git
from tests.standins.llm_api import LLMStandIn, Reply
from tests.test_llm_common import KEY_ENV, key_env_fixture, standin_fixture, submit  # noqa: F401

pytestmark = pytest.mark.usefixtures("key_env")
ENGINE = [
    "history",
    "toml",
    "python-syntax",
    "fork-markers",
    "finer",
    "trivial",
    "learned",
    "json",
    "yaml",
    "lineset",
    "policy",
]
_HUNK = re.compile(r"^## Hunk (\d+).*?^fork:\n(`{3,})\n(.*?)^\2$", re.S | re.M)


def keep_fork_side(body: dict) -> Reply:  # type: ignore[type-arg]
    """A scripted model that answers every hunk with the fork's side, as shown in the prompt."""
    prompt = body["messages"][0]["content"][0]["text"]
    return submit(*[(int(n), text, "keep the fork's version") for n, _, text in _HUNK.findall(prompt)])


def test_sync_with_the_agent_resolving_what_the_engine_left(
    demo: tuple[Path, Path, Path], standin: LLMStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, fork = demo
    canary = "canary-7d3e1f0a9b2c4e58"
    monkeypatch.setenv("ACME_DEPLOY_TOKEN", canary)
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config + f"[resolve]\ndisable = {json.dumps(ENGINE)}\n"
        f'[agent]\nprovider = "anthropic"\nbase-url = "{standin.url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "claude-sonnet-4-6"\nfix-checks = false\nconventions-file = "ACME_NOTES.md"\n'
    )
    (fork / "ACME_NOTES.md").write_text(f"Deploys use the token {canary}; keep the audit switch.\n")
    git(fork, "add", "ACME_NOTES.md")
    git(fork, "commit", "-qam", "agent on, engine off")
    standin.add(*[keep_fork_side] * 10)
    report = execute(fork, None, quiet=True)

    agent_files = {c.path for c in report.conflicts if any(h.by_agent for h in c.hunks)}
    assert agent_files and report.llm_calls
    assert all(c.ok and c.purpose.startswith("resolve:") for c in report.llm_calls)
    assert len(report.llm_calls) == len(standin.requests)
    for c in report.conflicts:
        for h in c.hunks:
            if h.by_agent:
                assert h.outcome == "resolved" and h.reason == "keep the fork's version"
    assert report.recommendation == "needs-review"
    assert any("LLM agent" in r for r in report.reasons)
    for call in report.llm_calls:
        assert Path(call.artifact).is_file() and canary not in Path(call.artifact).read_text()
    assert canary not in standin.all_text()
    assert "Deploys use the token [REDACTED]" in standin.all_text()  # the conventions did go, redacted
    # The fork's side really landed in the merge commit.
    router = git(fork, "show", f"{report.merge_commit}:tinyproxy/router.py")
    assert "<<<<<<<" not in router


def test_sync_where_the_agent_fixes_a_failing_check(
    demo: tuple[Path, Path, Path], standin: LLMStandIn
) -> None:
    import sys

    _, _, fork = demo
    config = (fork / ".forksync.toml").read_text()
    check = "import pathlib, sys; sys.exit(0 if pathlib.Path('NOTES.md').is_file() else 'NOTES.md missing')"
    config = re.sub(
        r"^commands = .*$",
        lambda _: (
            f'commands = [{{ name = "notes", run = [{json.dumps(sys.executable)}, "-c", '
            f"{json.dumps(check)}] }}]"
        ),
        config,
        flags=re.M,
    )
    (fork / ".forksync.toml").write_text(
        config
        + f'[agent]\nprovider = "openai"\nbase-url = "{standin.openai_url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "gpt-4.1"\n'
    )
    git(fork, "commit", "-qam", "a check that needs a fix")

    def model(body: dict) -> Reply:  # type: ignore[type-arg]
        turns = sum(1 for m in body["messages"] if m["role"] == "tool")
        if turns == 0:
            return Reply(
                tool_calls=[
                    ("apply_edit", {"path": "NOTES.md", "old_text": "", "new_text": "# Notes\n"}),
                    ("run_check", {"name": "notes"}),
                ]
            )
        return Reply(tool_calls=[("finish", {"rationale": "add the NOTES.md the notes check requires"})])

    standin.add(model, model)
    report = execute(fork, None, quiet=True)
    assert [c.purpose for c in report.llm_calls] == ["fix:notes:turn1", "fix:notes:turn2"]
    assert all(c.passed for c in report.checks)
    branch = report.sync_branch
    assert (
        git(fork, "log", "-1", "--format=%s", branch)
        == "fix(notes): add the NOTES.md the notes check requires"
    )
    assert (
        len(git(fork, "rev-list", "--parents", "-n", "1", f"{branch}~1").split()) == 3
    )  # the merge below it
    assert git(fork, "show", f"{branch}:NOTES.md") == "# Notes"


def test_sync_where_the_agent_names_sides_and_edits_outside_the_hunks(
    demo: tuple[Path, Path, Path], standin: LLMStandIn
) -> None:
    """Issue 14: a hunk answered by a side's name, an edit outside the hunks, both shown to the
    reviewer: the hunk's row says which side, the edit has a row of its own."""
    from forksync.render.pr_body import render_body

    _, _, fork = demo
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config + f"[resolve]\ndisable = {json.dumps(ENGINE)}\n"
        f'[agent]\nprovider = "anthropic"\nbase-url = "{standin.url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "claude-sonnet-4-6"\nfix-checks = false\n'
    )
    git(fork, "commit", "-qam", "agent on, engine off")
    edit = {
        "find": '    return "openai"',
        "replace": '    return "openai"  # the default',
        "rationale": "say so",
    }

    def by_name(body: dict) -> Reply:  # type: ignore[type-arg]
        prompt = body["messages"][0]["content"][0]["text"]
        hunks = [
            {"hunk": int(n), "decision": "fork", "rationale": "the fork's"}
            for n, _, _ in _HUNK.findall(prompt)
        ]
        edits = [edit] if "File: tinyproxy/router.py" in prompt else []
        return Reply(tool_calls=[("submit_resolution", {"hunks": hunks, "edits": edits})])

    standin.add(*[by_name] * 10)
    report = execute(fork, None, quiet=True)

    router = git(fork, "show", f"{report.merge_commit}:tinyproxy/router.py")
    assert '    return "openai"  # the default\n' in router and "<<<<<<<" not in router
    (rec,) = [c for c in report.conflicts if c.path == "tinyproxy/router.py"]
    assert all(h.reason == "kept the fork's lines: the fork's" for h in rec.hunks if h.by_agent)
    body = render_body(report)
    assert "↳ the agent edited outside the hunks: 1 line(s) from 'return \"openai\"' became 1: say so" in body
    assert report.recommendation == "needs-review"
    assert "the LLM agent edited 1 place(s) outside the conflict hunks: tinyproxy/router.py" in report.reasons
    assert rec.agent_edits == 1

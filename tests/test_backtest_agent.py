"""`forksync backtest --agent`: the agent measured on the repository's own merges (issue 14)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from forksync.cli import main
from tests.standins.llm_api import LLMStandIn
from tests.test_llm_common import (
    FORK_PY,
    GOOD,
    KEY_ENV,
    greet_merge,
    key_env_fixture,  # noqa: F401  (fixture)
    standin_fixture,  # noqa: F401  (fixture)
    submit,
)

pytestmark = pytest.mark.usefixtures("key_env")


def _committed_merge(tmp_path: Path, standin: LLMStandIn) -> tuple[Path, Path]:
    """A past merge a person resolved (the fork's audit call kept, upstream's signature taken)."""
    merge = greet_merge(tmp_path)
    resolved = FORK_PY.replace(
        'def greet(name):\n    audit(name)  # FORK: audit every greeting\n    return "Hello " + name\n', GOOD
    )
    merge.repo.write({"app.py": resolved})
    merge.repo.git("add", "app.py")
    merge.repo.git("commit", "-q", "--no-edit")
    config = tmp_path / "forksync.toml"
    config.write_text(
        f'[agent]\nprovider = "anthropic"\nbase-url = "{standin.url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "claude-sonnet-4-6"\ntimeout = 10.0\n'
    )
    return merge.repo.path, config


def _backtest(repo: Path, config: Path, *args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(
        main, ["backtest", "--repo", str(repo), "--config", str(config), "--merge", "HEAD", "--json", *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_agent_answers_are_scored_with_tokens_and_dollars(tmp_path: Path, standin: LLMStandIn) -> None:
    repo, config = _committed_merge(tmp_path, standin)
    standin.add(submit((1, GOOD, "keep the audit call, take upstream's signature")))
    data = _backtest(repo, config, "--agent", "--budget-usd", "1")
    (merge,) = data["merges"]
    (f,) = merge["files"]
    assert f["agent"] is True and f["verdict"] == "exact", f
    assert f["tokens"] > 0 and f["cost_usd"] > 0
    agent = data["summary"]["agent"]
    assert agent["files"] == 1 and agent["counts"]["exact"] == 1 and agent["cost_usd"] > 0
    assert len(standin.requests) == 1


def test_without_agent_the_same_file_stays_open_and_nothing_is_sent(
    tmp_path: Path, standin: LLMStandIn
) -> None:
    repo, config = _committed_merge(tmp_path, standin)
    data = _backtest(repo, config)
    (f,) = data["merges"][0]["files"]
    assert f["verdict"] == "unresolved" and f["agent"] is False
    assert "agent" not in data["summary"] and not standin.requests


def test_a_zero_budget_sends_nothing(tmp_path: Path, standin: LLMStandIn) -> None:
    repo, config = _committed_merge(tmp_path, standin)
    data = _backtest(repo, config, "--agent", "--budget-usd", "0")
    (f,) = data["merges"][0]["files"]
    assert f["verdict"] == "unresolved" and f["cost_usd"] == 0
    assert not standin.requests


def test_budget_without_agent_is_a_usage_error(tmp_path: Path, standin: LLMStandIn) -> None:
    repo, config = _committed_merge(tmp_path, standin)
    result = CliRunner().invoke(
        main, ["backtest", "--repo", str(repo), "--config", str(config), "--budget-usd", "1"]
    )
    assert result.exit_code == 2 and "--budget-usd needs --agent" in result.output


def test_resolve_agent_settles_a_merge_in_progress(tmp_path: Path, standin: LLMStandIn) -> None:
    """`forksync resolve --agent`: what the engine leaves open goes to the agent, on a developer's
    machine, and the accepted answer is written and staged like any other resolution."""
    merge = greet_merge(tmp_path)
    config = tmp_path / "forksync.toml"
    config.write_text(
        f'[agent]\nprovider = "anthropic"\nbase-url = "{standin.url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "claude-sonnet-4-6"\ntimeout = 10.0\n'
    )
    standin.add(submit((1, GOOD, "keep the audit call, take upstream's signature")))
    result = CliRunner().invoke(
        main, ["resolve", "--repo", str(merge.repo.path), "--config", str(config), "--agent"]
    )
    assert result.exit_code == 0, result.output
    assert GOOD in merge.repo.read("app.py") and "<<<<<<<" not in merge.repo.read("app.py")
    assert "app.py" not in merge.repo.git("diff", "--name-only", "--diff-filter=U")
    assert "1 call(s)" in result.stderr and "$0.0" in result.stderr


def test_resolve_agent_shows_each_edit_outside_the_hunks(tmp_path: Path, standin: LLMStandIn) -> None:
    """The terminal table has a line for each edit the agent made outside the hunks."""
    from tests.standins.llm_api import Reply

    merge = greet_merge(tmp_path)
    config = tmp_path / "forksync.toml"
    config.write_text(
        f'[agent]\nprovider = "anthropic"\nbase-url = "{standin.url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "claude-sonnet-4-6"\ntimeout = 10.0\n'
    )
    entry = {"hunk": 1, "decision": "resolve", "resolved": GOOD, "rationale": "both kept"}
    edit = {
        "find": '    return "Bye " + name',
        "replace": '    return "Bye " + name + "!"',
        "rationale": "match",
    }
    standin.add(Reply(tool_calls=[("submit_resolution", {"hunks": [entry], "edits": [edit]})]))
    result = CliRunner().invoke(
        main, ["resolve", "--repo", str(merge.repo.path), "--config", str(config), "--agent"]
    )
    assert result.exit_code == 0, result.output
    assert '    return "Bye " + name + "!"\n' in merge.repo.read("app.py")
    rows = [line for line in result.stdout.splitlines() if line.startswith("app.py")]
    assert len(rows) == 2 and rows[1].split()[1] == "↳"
    assert rows[1].endswith(
        "the agent edited outside the hunks: 1 line(s) from 'return \"Bye \" + name' became 1: match"
    )

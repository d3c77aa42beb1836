"""The claude-code provider: the real CLI against the loopback stand-in when it is installed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from forksync.errors import ForksyncError
from forksync.llm.agent import make_agent
from forksync.llm.claude_code import first_json_object, flatten
from forksync.llm.prompts import SUBMIT
from forksync.llm.providers import Message, Request, ToolCall, ToolResult
from tests.gitutil import Repo
from tests.standins.llm_api import LLMStandIn, Reply
from tests.test_llm_common import (
    agent_config,
    check_runner,
    key_env_fixture,  # noqa: F401  (fixture)
    standin_fixture,  # noqa: F401  (fixture)
)

pytestmark = pytest.mark.usefixtures("key_env")
HAVE_CLAUDE = shutil.which("claude") is not None


@pytest.mark.skipif(HAVE_CLAUDE, reason="claude is installed here")
def test_missing_cli_is_a_one_line_error(tmp_path: Path, standin: LLMStandIn) -> None:
    with pytest.raises(ForksyncError, match="needs the `claude` CLI on PATH") as info:
        make_agent(agent_config(standin, "claude-code"), tmp_path)
    assert "\n" not in str(info.value)


def test_conversation_is_flattened_with_the_schema_and_json_is_recovered() -> None:
    req = Request(
        "sys",
        (
            Message("user", "resolve hunk 1"),
            Message("assistant", tool_calls=(ToolCall("c1", "submit_resolution", {"hunks": []}),)),
            Message("user", tool_results=(ToolResult("c1", "hunk 1: markers", True),)),
        ),
        (SUBMIT,),
        SUBMIT.name,
    )
    text = flatten(req)
    assert "resolve hunk 1" in text and "[tool result (error)]\nhunk 1: markers" in text
    assert '"required": ["hunks"]' in text
    assert first_json_object('Sure! {"hunks": [{"hunk": 1}]} done') == {"hunks": [{"hunk": 1}]}
    assert first_json_object("no json {here") is None


@pytest.mark.skipif(not HAVE_CLAUDE, reason="the claude CLI is not on PATH (not installed by the tests)")
def test_cli_fix_against_the_standin(tmp_path: Path, standin: LLMStandIn) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "calc.py": "def add(a, b):\n    return a - b\n",
            "check.py": "import calc\nassert calc.add(2, 3) == 5\n",
        },
        "merge",
    )
    rerun = check_runner(repo.path, {"tests": [sys.executable, "check.py"]})
    calc = str(repo.path / "calc.py")

    def step(body: dict) -> Reply:  # type: ignore[type-arg]
        done = sum(
            1
            for m in body["messages"]
            for b in (m["content"] if isinstance(m["content"], list) else [])
            if b.get("type") == "tool_result"
        )
        if done == 0:
            return Reply(tool_calls=[("Read", {"file_path": calc})])
        if done == 1:
            return Reply(
                tool_calls=[("Edit", {"file_path": calc, "old_string": "a - b", "new_string": "a + b"})]
            )
        return Reply(text="add() subtracted; fixed")

    standin.add(*[step] * 6)
    bot = make_agent(agent_config(standin, "claude-code"), tmp_path / "artifacts")
    assert bot is not None
    (sha,) = bot.fix_checks(repo.path, [rerun("tests")], rerun)
    assert "a + b" in (repo.path / "calc.py").read_text() and sha == repo.head()

"""Shared builders for the LLM agent tests (real repositories, a loopback LLM API), and the
stand-in's own wire tests against the official SDKs."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from forksync.config import Config, parse_config
from forksync.git import Git
from forksync.report import CheckRecord
from forksync.resolve.engine import Chain, read_conflicts, resolve_all
from forksync.resolve.model import Context, FileResult, Versions
from tests.gitutil import Repo
from tests.standins.llm_api import LLMStandIn, Reply, approx_tokens

KEY_ENV = "FS_TEST_LLM_KEY"
KEY = "test-llm-key-0123456789"

BASE_PY = """import os


def greet(name):
    return "Hello " + name


def farewell(name):
    return "Bye " + name
"""

FORK_PY = """import os


def greet(name):
    audit(name)  # FORK: audit every greeting
    return "Hello " + name


def farewell(name):
    return "Bye " + name
"""

UPSTREAM_PY = """import os


def greet(name, punctuation="!"):
    return f"Hello {name}{punctuation}"


def farewell(name):
    return "Bye " + name
"""

GOOD = 'def greet(name, punctuation="!"):\n    audit(name)  # FORK: audit every greeting\n    return f"Hello {name}{punctuation}"\n'


@pytest.fixture(name="standin")
def standin_fixture() -> Iterator[LLMStandIn]:
    with LLMStandIn(api_key=KEY) as server:
        yield server


@pytest.fixture(name="key_env")
def key_env_fixture(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY)
    return KEY


def agent_config(standin: LLMStandIn, provider: str = "anthropic", **agent: Any) -> Config:
    url = standin.url if provider == "anthropic" else standin.openai_url
    data: dict[str, Any] = {
        "agent": {
            "provider": provider,
            "base-url": url,
            "api-key-env": KEY_ENV,
            "timeout": 10.0,
            "model": "claude-sonnet-4-6" if provider == "anthropic" else "gpt-4.1",
            **{key.replace("_", "-"): value for key, value in agent.items()},
        },
        "features": [
            {
                "name": "audit",
                "description": "every greeting is audited",
                "files": ["app.py"],
                "defines": ["audit"],
            }
        ],
    }
    return parse_config(data, "test")


class Merge:
    """A real repository stopped in a conflicted merge of upstream into the fork."""

    def __init__(
        self, tmp: Path, base: dict[str, str], fork: dict[str, str], upstream: dict[str, str]
    ) -> None:
        self.repo = Repo(tmp / "repo")
        self.base = self.repo.commit(base, "initial import")
        self.repo.git("checkout", "-q", "-b", "upstream")
        self.upstream = self.repo.commit(
            upstream, "Add punctuation to greet (#42)", author="Una Upstream <una@upstream.example>"
        )
        self.repo.git("checkout", "-q", "main")
        self.fork = self.repo.commit(
            fork,
            "Audit every greeting for compliance\n\nRequired by SOC2 control CC7.2.",
            author="Fiona Fork <fiona@fork.example>",
        )
        self.repo.git("merge", "-q", "--no-edit", "upstream", check=False)
        self.git = Git(self.repo.path)

    def context(self, config: Config) -> Context:
        return Context(self.repo.path, self.git, config, self.fork, self.upstream, self.base, "1.2.0")

    def engine(self, ctx: Context) -> tuple[list[Versions], list[FileResult]]:
        """The deterministic engine with an empty chain: every hunk is left for the agent."""
        versions = read_conflicts(self.git)
        return versions, resolve_all(ctx, versions, Chain([], []))


def agent_on_merge(
    tmp: Path,
    standin: LLMStandIn,
    sides: tuple[dict[str, Any], dict[str, Any], dict[str, Any]],
    *replies: Any,
    config: Config | None = None,
) -> tuple[Any, list[FileResult], list[FileResult]]:
    """A real merge of these (base, fork, upstream) files stopped in conflict, the engine off, then
    the agent on what it left: (the agent, the engine's results, the agent's results)."""
    from forksync.llm.agent import make_agent

    merge = Merge(tmp, *sides)
    cfg = config or agent_config(standin)
    ctx = merge.context(cfg)
    versions, results = merge.engine(ctx)
    standin.add(*replies)
    bot = make_agent(cfg, tmp / "artifacts")
    assert bot is not None
    return bot, results, bot.resolve_remaining(ctx, versions, results)


def greet_merge(tmp: Path) -> Merge:
    return Merge(tmp, {"app.py": BASE_PY}, {"app.py": FORK_PY}, {"app.py": UPSTREAM_PY})


def submit(*entries: tuple[int, str, str], decision: str = "resolve") -> Reply:
    hunks = [
        {"hunk": n, "decision": decision, "resolved": text, "rationale": why} for n, text, why in entries
    ]
    return Reply(tool_calls=[("submit_resolution", {"hunks": hunks})])


def check_runner(root: Path, commands: dict[str, list[str]]) -> Any:
    """What the pipeline's check stage would do: run a configured command in the worktree."""

    def rerun(name: str) -> CheckRecord:
        started = time.monotonic()
        proc = subprocess.run(commands[name], cwd=root, capture_output=True, text=True, check=False)
        return CheckRecord(
            name,
            " ".join(commands[name]),
            proc.returncode,
            time.monotonic() - started,
            passed=proc.returncode == 0,
            output_tail=(proc.stdout + proc.stderr)[-2000:],
        )

    return rerun


# -- the stand-in itself, driven by the official SDKs ---------------------------------------------


def test_standin_speaks_anthropic_messages_with_tools_and_streaming(standin: LLMStandIn) -> None:
    import anthropic

    standin.add(
        Reply(text="plain", tool_calls=[("submit_resolution", {"hunks": []})]),
        Reply(text="streamed answer", tool_calls=[("pick", {"side": "fork"})]),
    )
    client = anthropic.Anthropic(api_key=KEY, base_url=standin.url, max_retries=0)
    msg = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "hello there"}]
    )
    assert [b.type for b in msg.content] == ["text", "tool_use"]
    assert msg.content[1].input == {"hunks": []} and msg.stop_reason == "tool_use"
    body = standin.requests[0].body
    assert msg.usage.input_tokens == approx_tokens(["", body["messages"], []])
    with client.messages.stream(
        model="claude-sonnet-4-6", max_tokens=50, messages=[{"role": "user", "content": "again"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].text == "streamed answer"
    assert final.content[1].input == {"side": "fork"}
    assert final.usage.output_tokens > 1


def test_standin_speaks_openai_chat_completions_with_tools_and_streaming(standin: LLMStandIn) -> None:
    import openai

    standin.add(
        Reply(tool_calls=[("f", {"x": 1})]), Reply(text="a streamed text longer than one forty-char chunk")
    )
    client = openai.OpenAI(api_key=KEY, base_url=standin.openai_url, max_retries=0)
    resp = client.chat.completions.create(model="gpt-4.1", messages=[{"role": "user", "content": "hi"}])
    call = resp.choices[0].message.tool_calls[0]
    assert call.function.name == "f" and call.function.arguments == '{"x": 1}'
    assert resp.usage is not None and resp.usage.prompt_tokens > 0
    chunks = list(
        client.chat.completions.create(
            model="gpt-4.1",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "a streamed text longer than one forty-char chunk"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0


def test_importing_the_agent_does_not_import_the_sdks() -> None:
    code = "import sys, forksync.llm.agent; print([m for m in ('anthropic', 'openai', 'httpx') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

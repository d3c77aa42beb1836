"""Provider payloads: what each API is sent, in its own shape."""

from __future__ import annotations

import pytest

from forksync.llm import anthropic_provider, openai_provider
from forksync.llm.factory import make_provider
from forksync.llm.prompts import SUBMIT
from forksync.llm.providers import Message, Request, ToolCall, ToolResult
from tests.standins.llm_api import LLMStandIn, approx_tokens
from tests.test_llm_common import agent_config, key_env_fixture, standin_fixture, submit  # noqa: F401

CONVERSATION = Request(
    "sys",
    (
        Message("user", "resolve"),
        Message("assistant", "trying", (ToolCall("c1", "submit_resolution", {"hunks": []}),)),
        Message("user", tool_results=(ToolResult("c1", "hunk 1: markers", True),)),
    ),
    (SUBMIT,),
    SUBMIT.name,
    900,
)


def test_anthropic_payload_pairs_tool_use_with_tool_result() -> None:
    p = anthropic_provider.to_payload("claude-sonnet-4-6", CONVERSATION)
    assert p["tool_choice"] == {"type": "tool", "name": "submit_resolution"} and p["max_tokens"] == 900
    assistant, result = p["messages"][1]["content"], p["messages"][2]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use"]
    assert result == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "hunk 1: markers", "is_error": True}
    ]


@pytest.mark.parametrize(
    ("base_url", "cap_key"),
    [
        ("", "max_completion_tokens"),
        ("https://api.openai.com/v1", "max_completion_tokens"),
        ("http://localhost:11434/v1", "max_tokens"),
    ],
)
def test_openai_payload_shapes_and_token_cap_name(base_url: str, cap_key: str) -> None:
    p = openai_provider.to_payload("gpt-4.1", CONVERSATION, base_url)
    assert p[cap_key] == 900 and ({"max_tokens", "max_completion_tokens"} - {cap_key}).isdisjoint(p)
    roles = [m["role"] for m in p["messages"]]
    assert roles == ["system", "user", "assistant", "tool"]
    assert p["messages"][2]["tool_calls"][0]["function"] == {
        "name": "submit_resolution",
        "arguments": '{"hunks": []}',
    }
    assert p["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": "ERROR: hunk 1: markers"}
    assert p["tool_choice"] == {"type": "function", "function": {"name": "submit_resolution"}}


@pytest.mark.usefixtures("key_env")
def test_openai_provider_against_a_compatible_server(standin: LLMStandIn) -> None:
    provider = make_provider(agent_config(standin, "openai").agent)
    assert provider is not None
    standin.add(submit((1, "x\n", "why")))
    answer = provider.complete(CONVERSATION)
    assert answer.tool_calls[0].arguments["hunks"][0]["rationale"] == "why"
    assert standin.requests[0].body["max_tokens"] == 900  # a local server: the classic name
    body = standin.requests[0].body
    assert answer.input_tokens == approx_tokens([body["messages"], body["tools"]])  # from the usage field
    assert answer.output_tokens > 0

"""A loopback stand-in for the Anthropic Messages API and the OpenAI Chat Completions API.

It speaks the real wire formats (JSON and server-sent-event streaming, tool use, usage fields,
error bodies, retry headers) so the official SDKs run unmodified against it, and answers from a
script of replies. Token counts are an approximation, one token per 4 characters of the
request's system, messages and tools (and of the answer), which the benchmark also uses.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def approx_tokens(value: Any) -> int:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return (len(text) + 3) // 4


@dataclass
class Reply:
    """One scripted answer: text and/or tool calls, or an HTTP error; optionally late."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    status: int = 200
    error: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Script = Reply | Callable[[dict[str, Any]], Reply]


@dataclass
class Seen:
    api: str  # anthropic | openai | count_tokens
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: str


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


class LLMStandIn:
    def __init__(self, api_key: str | None = None) -> None:
        self.api_key = api_key
        self.script: deque[Script] = deque()
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    # -- life cycle ------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def openai_url(self) -> str:
        return self.url + "/v1"

    def __enter__(self) -> LLMStandIn:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    def add(self, *replies: Script) -> None:
        self.script.extend(replies)

    def bodies(self, api: str = "") -> list[dict[str, Any]]:
        return [s.body for s in self.requests if not api or s.api == api]

    def all_text(self) -> str:
        return "\n".join(s.raw for s in self.requests)

    # -- request handling ------------------------------------------------------------
    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            item = self.script.popleft() if self.script else None
        if item is None:
            return Reply(status=400, error="stand-in script exhausted")
        return item(body) if callable(item) else item

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length).decode("utf-8")
                body = json.loads(raw or "{}")
                path = self.path.split("?", 1)[0]
                api = (
                    "count_tokens"
                    if path.endswith("/messages/count_tokens")
                    else "anthropic"
                    if path.endswith("/messages")
                    else "openai"
                    if path.endswith("/chat/completions")
                    else ""
                )
                standin.requests.append(Seen(api, self.path, dict(self.headers.items()), body, raw))
                if not api:
                    return self._json(
                        404, {"error": {"type": "not_found_error", "message": f"no route {path}"}}
                    )
                if not self._authorized(api):
                    return self._error(
                        api, 401, "invalid x-api-key" if api != "openai" else "Incorrect API key"
                    )
                if api == "count_tokens":
                    return self._json(200, {"input_tokens": _input_tokens(body)})
                reply = standin._next(body)
                if reply.delay and standin._closing.wait(reply.delay):
                    return
                if reply.status != 200:
                    return self._error(api, reply.status, reply.error or "scripted error", reply.headers)
                if api == "anthropic":
                    msg = _anthropic_message(body, reply)
                    if body.get("stream"):
                        return self._sse(_anthropic_events(msg))
                    return self._json(200, msg)
                resp = _openai_completion(body, reply)
                if body.get("stream"):
                    include = bool((body.get("stream_options") or {}).get("include_usage"))
                    return self._sse(_openai_chunks(resp, include))
                return self._json(200, resp)

            def _authorized(self, api: str) -> bool:
                if standin.api_key is None:
                    return True
                if api == "openai":
                    return self.headers.get("authorization") == f"Bearer {standin.api_key}"
                bearer = self.headers.get("authorization") == f"Bearer {standin.api_key}"
                return bearer or self.headers.get("x-api-key") == standin.api_key

            def _error(
                self, api: str, status: int, message: str, headers: dict[str, str] | None = None
            ) -> None:
                kind = _ERROR_TYPES.get(status, "api_error")
                if api == "openai":
                    payload: dict[str, Any] = {"error": {"message": message, "type": kind, "code": None}}
                else:
                    payload = {"type": "error", "error": {"type": kind, "message": message}}
                self._json(status, payload, headers)

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", "req_" + uuid.uuid4().hex[:12])
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _sse(self, events: Iterator[tuple[str | None, str]]) -> None:
                try:
                    self.send_response(200)
                    self.send_header("content-type", "text/event-stream")
                    self.send_header("cache-control", "no-cache")
                    self.send_header("connection", "close")
                    self.end_headers()
                    for event, data in events:
                        chunk = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
                        self.wfile.write(chunk.encode())
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                self.close_connection = True

        return Handler


def _input_tokens(body: dict[str, Any]) -> int:
    return approx_tokens([body.get("system", ""), body.get("messages", []), body.get("tools", [])])


def _output_tokens(reply: Reply) -> int:
    return max(1, approx_tokens(reply.text) + sum(approx_tokens(args) for _, args in reply.tool_calls))


def _anthropic_message(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if reply.text:
        content.append({"type": "text", "text": reply.text})
    for name, args in reply.tool_calls:
        content.append(
            {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:20], "name": name, "input": args}
        )
    return {
        "id": "msg_" + uuid.uuid4().hex[:20],
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": "tool_use" if reply.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": _input_tokens(body), "output_tokens": _output_tokens(reply)},
    }


def _anthropic_events(msg: dict[str, Any]) -> Iterator[tuple[str | None, str]]:
    start = {
        **msg,
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": msg["usage"]["input_tokens"], "output_tokens": 1},
    }
    yield "message_start", json.dumps({"type": "message_start", "message": start})
    for i, block in enumerate(msg["content"]):
        if block["type"] == "text":
            yield (
                "content_block_start",
                json.dumps(
                    {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}}
                ),
            )
            text = block["text"]
            for j in range(0, len(text), 40):
                yield (
                    "content_block_delta",
                    json.dumps(
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "text_delta", "text": text[j : j + 40]},
                        }
                    ),
                )
        else:
            yield (
                "content_block_start",
                json.dumps(
                    {
                        "type": "content_block_start",
                        "index": i,
                        "content_block": {
                            "type": "tool_use",
                            "id": block["id"],
                            "name": block["name"],
                            "input": {},
                        },
                    }
                ),
            )
            args = json.dumps(block["input"])
            for j in range(0, len(args), 40):
                yield (
                    "content_block_delta",
                    json.dumps(
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "input_json_delta", "partial_json": args[j : j + 40]},
                        }
                    ),
                )
        yield "content_block_stop", json.dumps({"type": "content_block_stop", "index": i})
    yield (
        "message_delta",
        json.dumps(
            {
                "type": "message_delta",
                "delta": {"stop_reason": msg["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": msg["usage"]["output_tokens"]},
            }
        ),
    )
    yield "message_stop", json.dumps({"type": "message_stop"})


def _openai_completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": "call_" + uuid.uuid4().hex[:20],
                "type": "function",
                "function": {"name": name, "arguments": json.dumps(args)},
            }
            for name, args in reply.tool_calls
        ]
    prompt = approx_tokens([body.get("messages", []), body.get("tools", [])])
    completion = _output_tokens(reply)
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:20],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", ""),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


def _openai_chunks(resp: dict[str, Any], include_usage: bool) -> Iterator[tuple[str | None, str]]:
    base = {
        "id": resp["id"],
        "object": "chat.completion.chunk",
        "created": resp["created"],
        "model": resp["model"],
    }
    msg = resp["choices"][0]["message"]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, str]:
        return None, json.dumps({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    yield chunk({"role": "assistant", "content": ""})
    text = msg.get("content") or ""
    for j in range(0, len(text), 40):
        yield chunk({"content": text[j : j + 40]})
    for k, call in enumerate(msg.get("tool_calls", [])):
        yield chunk(
            {
                "tool_calls": [
                    {
                        "index": k,
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["function"]["name"], "arguments": ""},
                    }
                ]
            }
        )
        args = call["function"]["arguments"]
        for j in range(0, len(args), 40):
            yield chunk({"tool_calls": [{"index": k, "function": {"arguments": args[j : j + 40]}}]})
    yield chunk({}, resp["choices"][0]["finish_reason"])
    if include_usage:
        yield None, json.dumps({**base, "choices": [], "usage": resp["usage"]})
    yield None, "[DONE]"

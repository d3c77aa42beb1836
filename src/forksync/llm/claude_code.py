"""The Claude Code CLI, headless, as a provider: for teams that already run it.

Always an explicit tool list (none for answers, Read and Edit for fixes), a turn cap, bare mode
(no repository CLAUDE.md, settings or hooks: the tree is untrusted), and the checks' sandbox
(sandbox.py: a private HOME, no other secret, the git directory read-only). Exit 0 does not mean success (a 401 reports `success` with
`is_error`): the JSON result is checked, and the caller checks the files.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import sandbox
from ..config import AgentConfig
from ..errors import ConfigError
from .providers import Completion, ProviderError, Request, ToolCall, api_key, one_line

FIX_TOOLS = ("Read", "Edit")


def flatten(request: Request) -> str:
    """A whole conversation as one prompt (the CLI takes one prompt per run)."""
    parts = []
    for m in request.messages:
        if m.text:
            parts.append(f"[{m.role}]\n{m.text}")
        parts += [f"[assistant called {c.name}]\n{json.dumps(c.arguments)}" for c in m.tool_calls]
        parts += [f"[tool result{' (error)' if r.is_error else ''}]\n{r.content}" for r in m.tool_results]
    if request.force_tool:
        tool = next(t for t in request.tools if t.name == request.force_tool)
        parts.append(
            f"Answer with only one JSON object (no prose, no code fence) for `{tool.name}`, "
            f"matching this JSON schema:\n{json.dumps(tool.schema)}"
        )
    return "\n\n".join(parts)


def first_json_object(text: str) -> dict[str, Any] | None:
    start = text.find("{")
    while start >= 0:
        try:
            value, _ = json.JSONDecoder().raw_decode(text[start:])
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else None
    return None


class ClaudeCodeProvider:
    name = "claude-code"

    def __init__(self, model: str, cfg: AgentConfig) -> None:
        self.model = model
        self.cfg = cfg
        self.exe = shutil.which("claude")
        if self.exe is None:
            raise ConfigError(
                "[agent] provider 'claude-code' needs the `claude` CLI on PATH",
                hint="npm install -g @anthropic-ai/claude-code, or choose another provider",
            )
        self.key = api_key(cfg, "claude-code")

    def complete(self, request: Request) -> Completion:
        with tempfile.TemporaryDirectory(prefix="forksync-cc-") as tmp:
            result = self.run(Path(tmp), flatten(request), request.system, tools=(), max_turns=1)
        text = str(result.get("result", ""))
        calls = []
        if request.force_tool:
            obj = first_json_object(text)
            if obj is not None:
                calls.append(ToolCall("cc-1", request.force_tool, obj))
        return _completion(text, calls, result)

    def fix(
        self, worktree: Path, prompt: str, system: str, max_turns: int, max_budget_usd: float
    ) -> Completion:
        result = self.run(
            worktree, prompt, system, tools=FIX_TOOLS, max_turns=max_turns, max_budget_usd=max_budget_usd
        )
        return _completion(str(result.get("result", "")), [], result)

    def run(
        self,
        cwd: Path,
        prompt: str,
        system: str,
        *,
        tools: tuple[str, ...],
        max_turns: int,
        max_budget_usd: float | None = None,
    ) -> dict[str, Any]:
        assert self.exe is not None
        argv = [
            self.exe,
            "-p",
            "--bare",
            "--output-format",
            "json",
            "--model",
            self.model,
            "--max-turns",
            str(max_turns),
            "--append-system-prompt",
            system,
            "--tools",
            *(tools or ("",)),
        ]
        if tools:
            argv += ["--allowedTools", *tools]
        if tools:
            argv += ["--permission-mode", "acceptEdits"]
        if max_budget_usd is not None:
            argv += ["--max-budget-usd", f"{max_budget_usd:.4f}"]
        env = {
            "ANTHROPIC_API_KEY": self.key,  # its own key only: every other secret is scrubbed
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
            "CLAUDE_CODE_MAX_RETRIES": "3",
        }
        base = self.cfg.base_url or os.environ.get("ANTHROPIC_BASE_URL", "")
        if base:
            env["ANTHROPIC_BASE_URL"] = base
        # The tree is untrusted: the CLI runs in the same sandbox as the checks (private HOME,
        # read-only git directory), with the network it needs to reach the API.
        policy = replace(sandbox.current(), network=True)
        prepared = sandbox.prepare(argv, cwd, env=env, policy=policy, runs_repository_code=False)
        limit = self.cfg.timeout * max(1, max_turns)
        try:
            proc = sandbox.run(
                prepared,
                timeout=limit,
                input=prompt.encode(),
                merge_stderr=False,
                head=16 << 20,
                tail=1 << 20,
            )
        finally:
            prepared.close()
        if proc.timed_out:
            raise ProviderError(f"claude CLI timed out after {limit:.0f}s")
        out = proc.stdout.decode("utf-8", "replace")
        obj = first_json_object(out)
        if obj is None:
            err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
            raise ProviderError(
                f"claude CLI failed (exit {proc.returncode}): {one_line(err[-1] if err else out)}"
            )
        if obj.get("is_error") or obj.get("subtype") not in (None, "success"):
            raise ProviderError(
                f"claude CLI reported an error: {one_line(str(obj.get('result', obj.get('subtype'))))}"
            )
        return obj


def _completion(text: str, calls: list[ToolCall], result: dict[str, Any]) -> Completion:
    usage = result.get("usage") or {}
    tokens_in = sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")
    )
    cost = result.get("total_cost_usd")
    stop = re.sub(r"[^a-z_]", "", str(result.get("subtype", "")))
    return Completion(
        text,
        calls,
        tokens_in,
        int(usage.get("output_tokens") or 0),
        stop,
        raw=result,
        cost_usd=float(cost) if isinstance(cost, int | float) else None,
    )

"""The agent's ceiling on real history: what a perfect model could settle through forksync.

    python bench/agent_ceiling.py --repo /path/to/CartoDB-litellm.git [--tsv FILE] [--limit N] [--kind K]

Replays the TSV's merges as `forksync backtest --agent` does (the engine first; what it leaves
open goes to the agent through the real provider client), against a loopback Messages API whose
"model" answers every hunk with the text the merge actually committed there (aligned from the
merge commit with the learned rule's own alignment). So every answer is right by construction,
and the figures say what the hunk protocol and forksync's validation let through:

- of the files the engine leaves open, how many the protocol can express (every hunk aligned:
  the person edited nothing outside the conflict regions) and how many end exactly as committed;
- how many of those correct answers forksync's validation rejected, and why;
- prompt tokens per file, against sending the three whole versions and the whole result.

It measures; it asserts nothing. Results go to bench/results/agent_ceiling.json.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import os
import re
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # tests.standins: the loopback API the test suite uses

from forksync.backtest import MergeSpec, parents, replay, ws_normal  # noqa: E402
from forksync.config import parse_config  # noqa: E402
from forksync.git import Git  # noqa: E402
from forksync.llm.agent import Agent, make_agent  # noqa: E402
from forksync.resolve.conflicts import Hunk, decode, encode, marker_size, parse_merged, split_lines  # noqa: E402
from forksync.resolve.engine import labels_for  # noqa: E402
from forksync.resolve.learned import align  # noqa: E402
from forksync.resolve.model import Context, FileResult, Versions  # noqa: E402
from forksync.resolve.validate import parses  # noqa: E402
from tests.standins.llm_api import LLMStandIn, Reply, approx_tokens  # noqa: E402

DEFAULT_TSV = HERE.parent.parent / "shared" / "bench" / "cartodb-litellm-merges.tsv"
UI_BUNDLE = "litellm/proxy/_experimental/out/"
KEY_ENV = "FORKSYNC_BENCH_ORACLE_KEY"
HUNK = re.compile(r"^## Hunk (\d+)", re.M)
RETRY = re.compile(r"^- hunk (\d+):", re.M)
_CONFLICT = re.compile(r"^(<{7}|>{7})( |$)|^={7}$")


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if block.get("type") == "text":
            parts.append(block.get("text", ""))
        elif block.get("type") == "tool_result":
            inner = block.get("content")
            parts.append(inner if isinstance(inner, str) else json.dumps(inner))
    return "\n".join(parts)


def _as_file_ends(lines: tuple[str, ...], whole: bytes | None) -> tuple[str, ...]:
    """A side's lines as the agent is shown them: the file's last region ends as the file does."""
    if lines and whole and not whole.endswith(b"\n"):
        return (*lines[:-1], lines[-1].rstrip("\r\n"))
    return lines


def _side_of(answer: tuple[str, ...], sides: dict[str, tuple[str, ...]]) -> str:
    """The side whose lines the committed region is exactly (a model answers it by name), or ""."""
    return next((name for name, lines in sides.items() if lines == answer), "")


def _outside_edits(
    doc: Any, answers: dict[int, tuple[str, ...]], truth: list[str]
) -> list[dict[str, str]] | None:
    """The committed file's changes outside the hunks as anchored edits (forksync's protocol):
    each names whole lines outside the hunks, found once there, grown by unchanged lines until
    unique. None when a change cannot be put so (it touches a hunk's answer)."""
    lines: list[str] = []
    stable: list[bool] = []
    blocks: list[list[str]] = []
    for part in doc.parts:
        body = list(answers[part.index]) if isinstance(part, Hunk) else part
        lines += body
        stable += [not isinstance(part, Hunk)] * len(body)
        if not isinstance(part, Hunk):
            blocks.append(part)
    ops = difflib.SequenceMatcher(None, lines, truth, autojunk=False).get_opcodes()
    same = [False] * len(lines)
    for tag, i1, i2, _, _ in ops:
        if tag == "equal":
            same[i1:i2] = [True] * (i2 - i1)

    def count(find: list[str]) -> int:
        n = len(find)
        return sum(1 for b in blocks for k in range(len(b) - n + 1) if b[k : k + n] == find)

    spans: list[list[int]] = []  # [a, b, j1, j2]: lines[a:b] become truth[j1:j2]
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            continue
        if not all(stable[i1:i2]):
            return None
        if spans and i1 - spans[-1][1] <= 3 and all(stable[spans[-1][1] : i1]):  # close: one edit
            spans[-1][1], spans[-1][3] = i2, j2
        else:
            spans.append([i1, i2, j1, j2])
    out = []
    for a, b, j1, j2 in spans:
        while a >= b or count(lines[a:b]) != 1:
            if a > 0 and stable[a - 1] and same[a - 1] and b - a < 8:
                a, j1 = a - 1, j1 - 1
            elif b < len(lines) and stable[b] and same[b] and b - a < 8:
                b, j2 = b + 1, j2 + 1
            else:
                return None
        out.append(
            {"find": "".join(lines[a:b]), "replace": "".join(truth[j1:j2]), "rationale": "as committed"}
        )
    return out


class Oracle:
    """Wraps the real agent: before each file, scripts the loopback model with the committed text."""

    def __init__(self, agent: Agent, standin: LLMStandIn, git: Git, merges: dict[tuple[str, str], str]):
        self.agent = agent
        self.standin = standin
        self.git = git
        self.merges = merges  # (fork, upstream) -> merge sha
        self.files: list[dict[str, Any]] = []

    @property
    def calls(self) -> Sequence[Any]:
        return self.agent.calls

    def resolve_remaining(
        self, ctx: Context, versions: Sequence[Versions], results: Sequence[FileResult]
    ) -> list[FileResult]:
        v, res = versions[0], results[0]
        merge = self.merges.get((ctx.fork_commit or "", ctx.upstream_commit or ""))
        truth = self.git.show_file(merge, v.path) if merge else None
        row: dict[str, Any] = {"merge": merge, "path": v.path, "hunks": 0, "aligned": 0}
        answers: dict[int, tuple[str, ...]] = {}
        sides: dict[int, dict[str, tuple[str, ...]]] = {}
        edits: list[dict[str, str]] = []
        if truth is not None and res.content is not None and v.fork is not None and v.upstream is not None:
            doc = parse_merged(
                decode(res.content), marker_size(v.base or b"", v.fork, v.upstream), labels_for(ctx)
            )
            answers = align(doc.parts, split_lines(decode(truth)))
            last = doc.parts[-1] if doc.parts and isinstance(doc.parts[-1], Hunk) else None
            ends = {"fork": v.fork, "upstream": v.upstream}
            sides = {
                h.index: {
                    name: _as_file_ends(tuple(getattr(h, name)), ends[name] if h is last else None)
                    for name in ("fork", "upstream")
                }
                for h in doc.hunks
            }
            # Expressible by hunks: the committed file is exactly the document with these answers
            # (else the person also edited outside the conflict regions).
            unresolved = {h.index for h in res.hunks if h.outcome == "unresolved"}
            row["outside_edits"] = unresolved <= set(answers) and encode(doc.render(answers)) != truth
            if row["outside_edits"] and unresolved == {h.index for h in doc.hunks}:
                edits = _outside_edits(doc, answers, split_lines(decode(truth))) or []
            row["edits"] = len(edits)
            row["hunks"] = sum(1 for h in res.hunks if h.outcome == "unresolved")
            row["aligned"] = sum(1 for h in res.hunks if h.outcome == "unresolved" and h.index in answers)
            whole = [v.base or b"", v.fork, v.upstream, truth]
            row["whole_file_tokens"] = sum(approx_tokens(decode(x)) for x in whole)

        def reply(body: dict[str, Any]) -> Reply:
            last = _text(body["messages"][-1])
            numbers = [int(n) for n in HUNK.findall(last)] or [int(n) for n in RETRY.findall(last)]
            entries = [
                {"hunk": n, "decision": side, "rationale": "as committed"}
                if n in answers and (side := _side_of(answers[n], sides.get(n, {})))
                else {
                    "hunk": n,
                    "decision": "resolve",
                    "resolved": "".join(answers[n]),
                    "rationale": "as committed",
                }
                if n in answers
                else {
                    "hunk": n,
                    "decision": "leave",
                    "rationale": "the committed file cannot be aligned here",
                }
                for n in numbers
            ]
            first = not RETRY.findall(last)
            return Reply(
                tool_calls=[("submit_resolution", {"hunks": entries, "edits": edits if first else []})]
            )

        self.standin.script.clear()
        self.standin.add(*([reply] * 8))
        before = len(self.agent.calls)
        (out,) = self.agent.resolve_remaining(ctx, [v], [res])
        calls = list(self.agent.calls)[before:]
        row["input_tokens"] = sum(c.input_tokens for c in calls)
        row["requests"] = len(calls)
        row["output_tokens"] = sum(c.output_tokens for c in calls)
        marked = {n for n, lines in answers.items() if any(_CONFLICT.match(line) for line in lines)}
        row["truth_has_markers"] = sorted(marked)  # an accident in the ground truth, rightly refused
        row["rejected"] = [
            h.reason[:160]
            for h in out.hunks
            if h.outcome == "unresolved"
            and h.index in answers
            and h.index not in marked
            and "cannot be aligned" not in h.reason
        ]
        row["truth_parses"] = truth is None or parses(v.path, truth) is None
        refused = out.reason.split("edit(s) outside the hunks refused: ", 1)
        row["edits_refused"] = refused[1][:300] if len(refused) == 2 else ""
        row["outcome"] = out.outcome
        row["exact"] = truth is not None and out.outcome == "resolved" and out.content == truth
        row["ws_equal"] = (
            truth is not None
            and out.outcome == "resolved"
            and not row["exact"]
            and ws_normal(out.content or b"") == ws_normal(truth)
        )
        if truth is not None and out.outcome == "resolved" and not row["exact"]:
            got, want = decode(out.content or b"").splitlines(True), decode(truth).splitlines(True)
            diff = difflib.unified_diff(want, got, "committed", "result", n=1)
            row["diff"] = "".join(list(diff)[:24])
        self.files.append(row)
        return [out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repo", type=Path, required=True, help="a CartoDB/litellm git directory (bare is fine)")
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--kind", action="append", choices=("upstream_sync", "fork_branch", "other"))
    ap.add_argument("--merge", action="append", help="only this merge (a sha prefix; repeatable)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "agent_ceiling.json")
    args = ap.parse_args()
    with args.tsv.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh, delimiter="\t") if not args.kind or r["kind"] in args.kind]
    rows = [r for r in rows if not args.merge or any(r["merge"].startswith(m) for m in args.merge)]
    rows = rows[: args.limit] if args.limit else rows
    git = Git(args.repo)
    specs = [MergeSpec(r["merge"], "p2" if r["fork_side"] == "p2" else "p1", r["kind"]) for r in rows]
    merges: dict[tuple[str, str], str] = {}
    for spec in specs:
        ps = parents(git, spec.sha)
        if len(ps) == 2:
            fork, up = (ps[0], ps[1]) if spec.fork_side == "p1" else (ps[1], ps[0])
            merges[(fork, up)] = spec.sha
    os.environ[KEY_ENV] = "bench-oracle-key"
    with LLMStandIn(api_key="bench-oracle-key") as standin:
        config = parse_config(
            {
                "agent": {
                    "provider": "anthropic",
                    "base-url": standin.url,
                    "api-key-env": KEY_ENV,
                    "model": "claude-sonnet-4-6",
                    "max-cost-usd": 1_000_000.0,
                    "max-tokens": 10**12,
                    "timeout": 30.0,
                }
            },
            "bench",
        )
        agent = make_agent(config, Path("/tmp/forksync-agent-ceiling-artifacts"))
        assert agent is not None
        oracle = Oracle(agent, standin, git, merges)
        result = replay(git, config, specs, agent=oracle)
    files = [f for f in oracle.files if not f["path"].startswith(UI_BUNDLE)]
    aligned = [f for f in files if f["hunks"] and f["aligned"] == f["hunks"] and not f["truth_has_markers"]]
    by_hunks = [f for f in aligned if not f.get("outside_edits")]
    expressible = [f for f in aligned if not f.get("outside_edits") or f.get("edits")]
    exact = [f for f in expressible if f["exact"]]
    # Validation rightly refuses a committed file that no longer parses (an accident in the history).
    rejected = [r for f in expressible if f["truth_parses"] for r in f["rejected"]]
    broken = [f for f in expressible if not f["truth_parses"]]
    why = Counter(re.sub(r"'.*", "'…'", r.split(" (")[0]) for r in rejected)
    ratio = [f["whole_file_tokens"] / f["input_tokens"] for f in expressible if f.get("input_tokens")]
    summary = {
        "merges": len(result.replayed()),
        "files_left_open_by_engine": len(files),
        "committed_with_conflict_markers": sum(1 for f in files if f.get("truth_has_markers")),
        "every_hunk_aligned": len(aligned),
        "person_also_edited_outside_the_hunks": len(aligned) - len(by_hunks),
        "of_those_put_as_edits_outside_the_hunks": len(expressible) - len(by_hunks),
        "expressible_by_hunks": len(by_hunks),
        "expressible_by_hunks_and_edits": len(expressible),
        "exact_of_those_with_edits": sum(1 for f in expressible if f.get("edits") and f["exact"]),
        "exact_with_perfect_model": len(exact),
        "whitespace_equal_with_perfect_model": sum(1 for f in expressible if f["ws_equal"]),
        "exact_share_of_expressible": round(100 * len(exact) / len(expressible), 1) if expressible else 0.0,
        "exact_share_of_expressible_that_parse": round(100 * len(exact) / (len(expressible) - len(broken)), 1)
        if len(expressible) > len(broken)
        else 0.0,
        "committed_file_does_not_parse": len(broken),
        "correct_answers_rejected": len(rejected),
        "rejected_why": dict(why.most_common()),
        "files_with_a_correct_edit_refused": [
            f"{f['path']}: {f['edits_refused']}"
            for f in expressible
            if f.get("edits_refused") and f["truth_parses"]
        ],
        "output_tokens_total": sum(f.get("output_tokens", 0) for f in expressible),
        "input_tokens_per_file_median": statistics.median([f["input_tokens"] for f in expressible])
        if expressible
        else 0,
        "whole_file_over_hunk_tokens_median": round(statistics.median(ratio), 1) if ratio else 0.0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "files": oracle.files}, indent=2))
    for key, value in summary.items():
        print(f"{key:<36} {value}")
    print(f"JSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Ask the model for the hunks the engine left, one request per file, and check every answer.

The engine's FileResult content holds its own resolutions plus diff3 markers for what is left;
parsing it back gives exactly the pending hunks with their surroundings. A rejected answer is
retried once with the reason; after that the hunk stays for review with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BudgetExceeded
from ..resolve.conflicts import MergedDoc, decode, encode, has_markers, marker_size, parse_merged, split_lines
from ..resolve.engine import labels_for
from ..resolve.model import Context, FileResult, Hunk, HunkResult, Versions
from ..resolve.paths import matches
from ..resolve.validate import validation_error
from . import edits as outside
from . import history
from .answers import Need, block_open_after, marked_required, region_error, to_lines, unredact
from .prompts import CONTEXT_LINES, RESOLVE_SYSTEM, SUBMIT, FileView, HunkView, hunk_prompt, retry_prompt
from .providers import Message, ProviderError, Request, ToolCall, ToolResult
from .session import Session

_SCOPE = re.compile(r"^\s*(async\s+def|def|class|fn|func|function|impl|struct|interface)\b")


MAX_HUNK_CHARS = 48_000  # larger hunks can only be answered by a side: a rewrite could not fit the output cap
MAX_PROMPT_HUNK_CHARS = 240_000  # larger still are not sent at all (about 60,000 prompt tokens)
_SIDES = {"fork": "kept the fork's lines", "upstream": "took upstream's lines"}
MAX_BATCH_CHARS = 40_000  # hunks per request, by size of their sides
MAX_BATCH_HUNKS = 10
HEAD_LINES = 30  # the file's first lines are shown (imports live there) when no context shows them
MAX_OUTPUT = 16_384  # below the SDKs' limit for non-streamed calls


@dataclass
class Pending:
    result: HunkResult
    hunk: Hunk  # as parsed from the engine's content (index = position among pending)
    view: HunkView
    required: list[Need]


@dataclass
class Verdict:
    lines: tuple[str, ...] | None  # None: not resolved
    reason: str


def _utf8(v: Versions) -> bool:
    try:
        for side in (v.base, v.fork, v.upstream):
            (side or b"").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _end_as(side: Sequence[str], whole: Sequence[str]) -> Sequence[str]:
    """A side's last region as the file ends: without a final newline when the file has none."""
    if side and whole and not whole[-1].endswith("\n") and side[-1].rstrip("\r\n") == whole[-1]:
        return [*side[:-1], whole[-1]]
    return side


def _list(items: Any) -> list[Any]:
    """A list argument of a tool call; some OpenAI-compatible servers encode nested JSON twice."""
    if isinstance(items, str):
        try:
            items = json.loads(items)
        except json.JSONDecodeError:
            return []
    return items if isinstance(items, list) else []


def _head(doc: MergedDoc | None) -> list[str]:
    """The file's first lines, unless the first hunk's context already shows them."""
    first = doc.parts[0] if doc is not None and doc.parts else None
    if not isinstance(first, list) or len(first) <= CONTEXT_LINES:
        return []
    return first[: min(HEAD_LINES, len(first) - CONTEXT_LINES)]


def _accepted(verdicts: dict[int, Verdict]) -> dict[int, tuple[str, ...]]:
    """The hunks answered so far, by number: what a new answer must parse beside."""
    return {n: vd.lines for n, vd in verdicts.items() if vd.lines is not None}


def _size(p: Pending, base: bool = True) -> int:
    sides = (*p.hunk.fork, *p.hunk.upstream, *(p.hunk.base if base else ()))
    return sum(len(line) for line in sides)


def _batches(pending: list[Pending]) -> list[list[Pending]]:
    out: list[list[Pending]] = []
    size = 0
    for p in pending:
        if not out or len(out[-1]) >= MAX_BATCH_HUNKS or size + _size(p) > MAX_BATCH_CHARS:
            out.append([])
            size = 0
        out[-1].append(p)
        size += _size(p)
    return out


def conventions_text(root: Path, name: str) -> str:
    """The fork's conventions document named in the config, if it lies inside ``root``."""
    if not name:
        return ""
    base = root.resolve()
    path = (base / name).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return ""
    return path.read_text(encoding="utf-8", errors="replace")


def feature_notes(ctx: Context, path: str, text: str) -> list[str]:
    notes = []
    for f in ctx.config.features:
        if any(matches(g, path) for g in f.files) or any(d and d in text for d in f.defines):
            bits = [f.name + (f": {f.description}" if f.description else "")]
            if f.defines:
                bits.append("defines " + ", ".join(f.defines))
            if f.called:
                bits.append("must stay called: " + ", ".join(f.called))
            notes.append("; ".join(bits))
    return notes


def enclosing(lines: Sequence[str], first: str) -> str:
    indent = len(first) - len(first.lstrip())
    for line in reversed(lines):
        if _SCOPE.match(line) and len(line) - len(line.lstrip()) < max(indent, 1):
            return line.rstrip("\r\n")
    return ""


class AgentResolver:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.exhausted: BudgetExceeded | None = None
        self.stopped: ProviderError | None = None  # a fatal provider error: ask no more

    @property
    def rule(self) -> str:
        return f"agent:{self.session.provider.model}"

    def pending(self, ctx: Context, v: Versions, res: FileResult) -> tuple[Any, list[Pending]] | None:
        if (
            res.outcome == "resolved"
            or res.content is None
            or not res.hunks
            or res.rule.startswith("policy:")
        ):
            return None
        if v.fork is None or v.upstream is None:
            return None
        doc = parse_merged(
            decode(res.content), marker_size(v.base or b"", v.fork, v.upstream), labels_for(ctx)
        )
        left = [h for h in res.hunks if h.outcome == "unresolved"]
        if len(left) != len(doc.hunks) or not left:
            return None
        marker = ctx.config.fork.marker
        fork_lines = split_lines(decode(v.fork))
        upstream_lines = split_lines(decode(v.upstream))
        out: list[Pending] = []
        seen: list[str] = []
        inside = False
        it = iter(left)
        for i, part in enumerate(doc.parts):
            if not isinstance(part, Hunk):
                seen.extend(part)
                inside = block_open_after(part, marker, inside)
                continue
            hr = next(it)
            prev, nxt = doc.parts[i - 1] if i else None, doc.parts[i + 1] if i + 1 < len(doc.parts) else None
            before = prev[-CONTEXT_LINES:] if isinstance(prev, list) else []
            after = nxt[:CONTEXT_LINES] if isinstance(nxt, list) else []
            fork_side: Sequence[str] = part.fork
            upstream_side: Sequence[str] = part.upstream
            if nxt is None:  # git ends each side with a newline before its marker: end as the file does
                fork_side, upstream_side = (
                    _end_as(fork_side, fork_lines),
                    _end_as(upstream_side, upstream_lines),
                )
            view = HunkView(
                hr.index,
                part.base,
                fork_side,
                upstream_side,
                before,
                after,
                enclosing(seen, (part.fork or part.upstream or ("",))[0]),
            )
            if ctx.fork_commit:
                start = history.locate(fork_lines, part.fork, hr.fork_start) or hr.fork_start
                view.fork_commits = history.side_commits(
                    ctx.git, ctx.fork_commit, ctx.base_commit, v.path, start, len(part.fork)
                )
            if ctx.upstream_commit:
                start = history.locate(upstream_lines, part.upstream, hr.fork_start) or 0
                view.upstream_commits = history.side_commits(
                    ctx.git,
                    ctx.upstream_commit,
                    ctx.base_commit,
                    v.path,
                    start,
                    len(part.upstream) if start else 0,
                )
            out.append(Pending(hr, part, view, marked_required(view, inside, marker)))
            seen.extend(part.fork)
            inside = block_open_after(part.fork, marker, inside)
        return doc, out

    def file_view(
        self, ctx: Context, v: Versions, pending: list[Pending], doc: MergedDoc | None = None
    ) -> FileView:
        conv_name = ctx.config.agent.conventions_file
        conventions = conventions_text(ctx.repo, conv_name)
        text = "".join("".join((*p.hunk.fork, *p.hunk.upstream)) for p in pending)
        return FileView(
            v.path,
            ctx.config.fork.branch,
            ctx.upstream_version or "",
            [p.view for p in pending],
            conventions,
            conv_name,
            feature_notes(ctx, v.path, text),
            head=_head(doc),
        )

    def resolve(self, ctx: Context, v: Versions, res: FileResult) -> FileResult:
        """Ask in batches; a failed call leaves its hunks as they were. When the budget runs out the
        answers so far are kept, the rest is marked, and ``exhausted`` is set for the caller."""
        found = self.pending(ctx, v, res)
        if found is None:
            return res
        doc, pending = found
        by_number = {p.result.index: p for p in pending}
        verdicts: dict[int, Verdict] = {}
        edits: list[outside.Edit] = []
        refused: list[str] = []  # edits outside the hunks that validation refused, and why
        if not _utf8(v):  # the model would see replacement characters and write them back
            for n in by_number:
                verdicts[n] = Verdict(None, "not UTF-8 text: left for review")
            return self._result(v, res, doc, by_number, verdicts, edits, refused)
        fits = []
        for p in pending:
            if _size(p) > MAX_PROMPT_HUNK_CHARS:
                lines = max(len(p.hunk.fork), len(p.hunk.upstream))
                verdicts[p.result.index] = Verdict(None, f"hunk too large for the agent ({lines} lines)")
            else:
                p.view.rewrite = _size(p) <= MAX_HUNK_CHARS
                fits.append(p)
        batches = _batches(fits)
        for i, batch in enumerate(batches, 1):
            tag = f"#{i}" if len(batches) > 1 else ""
            if self.stopped is not None:
                break
            try:
                self._ask(ctx, v, doc, batch, by_number, verdicts, edits, refused, tag)
            except BudgetExceeded as exc:
                self.exhausted = exc
                for p in pending:
                    verdicts.setdefault(
                        p.result.index, Verdict(None, f"not sent to the agent: {exc.message}")
                    )
                break
        return self._result(v, res, doc, by_number, verdicts, edits, refused)

    def _ask(
        self,
        ctx: Context,
        v: Versions,
        doc: Any,
        batch: list[Pending],
        by_number: dict[int, Pending],
        verdicts: dict[int, Verdict],
        edits: list[outside.Edit],
        refused: list[str],
        tag: str,
    ) -> None:
        """One conversation about a batch of hunks: an answer, and at most one corrected answer."""
        view = self.file_view(ctx, v, batch, doc)
        system = RESOLVE_SYSTEM.replace("{marker}", ctx.config.fork.marker or "FORK")
        messages = [Message("user", hunk_prompt(view))]
        wanted = min(MAX_OUTPUT, max(1024, sum(_size(p, base=False) for p in batch) // 2 + 600))
        todo = [p.result.index for p in batch]
        for attempt in (1, 2):
            purpose = f"resolve:{v.path}{tag}" + (":retry" if attempt == 2 else "")
            try:
                answer = self.session.call(
                    purpose, Request(system, tuple(messages), (SUBMIT,), SUBMIT.name, wanted)
                )
            except ProviderError as exc:
                for n in todo:
                    verdicts[n] = Verdict(None, f"agent call failed: {exc}")
                if exc.fatal:
                    self.stopped = exc
                return
            entries = self._entries(answer.tool_calls)
            accepted = _accepted(verdicts)
            errors: dict[int, str] = {}
            candidates: dict[int, tuple[tuple[str, ...], str]] = {}
            for n in todo:
                entry = entries.get(n)
                if entry is None:
                    errors[n] = "no answer for this hunk"
                    verdicts[n] = Verdict(None, "agent gave no answer for this hunk")
                    continue
                rationale = " ".join(str(entry.get("rationale", "")).split())[:300] or "no rationale given"
                decision = entry.get("decision")
                if decision in _SIDES:
                    problem, lines = self._check_side(by_number[n], str(decision))
                    rationale = f"{_SIDES[str(decision)]}: {rationale}"
                elif decision == "resolve":
                    problem, lines = self._check_region(by_number[n], str(entry.get("resolved", "")))
                else:
                    verdicts[n] = Verdict(None, f"agent left it: {rationale}")
                    continue
                if problem:
                    errors[n] = problem
                    verdicts[n] = Verdict(None, f"agent answer rejected: {problem}")
                else:
                    candidates[n] = (lines, rationale)
            # The batch's answers are parsed together first: one hunk's right answer may only parse
            # beside another's (a `try:` opened in one hunk and closed in the next). Only when the
            # whole batch fails is each answer judged alone, to say which one is wrong.
            together = {**accepted, **{n: lines for n, (lines, _) in candidates.items()}}
            if candidates and self._parse_error(v, doc, by_number, together) is None:
                for n, (lines, rationale) in candidates.items():
                    verdicts[n] = Verdict(lines, rationale)
                candidates = {}
            for n, (lines, rationale) in candidates.items():
                problem = self._parse_error(v, doc, by_number, {**accepted, n: lines})
                if problem:
                    errors[n] = problem
                    verdicts[n] = Verdict(None, f"agent answer rejected: {problem}")
                else:
                    verdicts[n] = Verdict(lines, rationale)
                    accepted[n] = lines
            accepted = _accepted(verdicts)
            edit_errors = self._take_edits(ctx, v, doc, by_number, accepted, answer.tool_calls, edits)
            if not (errors or edit_errors) or attempt == 2:
                refused.extend(edit_errors)
                return
            todo = sorted(errors)
            feedback = retry_prompt(errors, edit_errors)
            messages.append(Message("assistant", answer.text, tuple(answer.tool_calls)))
            results = tuple(ToolResult(c.id, feedback, True) for c in answer.tool_calls)
            messages.append(Message("user", "" if results else feedback, tool_results=results))

    def _take_edits(
        self,
        ctx: Context,
        v: Versions,
        doc: MergedDoc,
        by_number: dict[int, Pending],
        accepted: dict[int, tuple[str, ...]],
        calls: Sequence[ToolCall],
        edits: list[outside.Edit],
    ) -> list[str]:
        """Apply the answer's edits outside the hunks that are anchored, small, and keep the file
        parsing; say why each other one was refused."""
        nl = "\r\n" if any(line.endswith("\r\n") for h in doc.hunks for line in h.fork) else "\n"
        errors = []
        for entry in (
            e for call in calls if call.name == SUBMIT.name for e in _list(call.arguments.get("edits"))
        ):
            edit = outside.parse(entry, nl)
            if isinstance(edit, str):
                errors.append(edit)
                continue
            if any((e.find, e.replace) == (edit.find, edit.replace) for e in edits):
                continue  # already applied (a retry or another batch repeating it): never twice
            before = list(doc.parts)
            problem = outside.apply(doc, edit, ctx.config.fork.marker, edits) or self._parse_error(
                v, doc, by_number, accepted
            )
            if problem:
                doc.parts = before
                errors.append(f"{problem} (find: {edit.find[0].strip()[:60]!r})")
            else:
                edits.append(edit)
        return errors

    @staticmethod
    def _entries(calls: Sequence[ToolCall]) -> dict[int, dict[str, Any]]:
        entries: dict[int, dict[str, Any]] = {}
        for call in calls:
            if call.name != SUBMIT.name:
                continue
            for item in _list(call.arguments.get("hunks")):
                if isinstance(item, dict) and isinstance(item.get("hunk"), int):
                    entries[item["hunk"]] = item
        return entries

    @staticmethod
    def _check_region(p: Pending, text: str) -> tuple[str | None, tuple[str, ...]]:
        """The answer as lines, or why it may not replace the hunk's region."""
        lines = unredact(to_lines(text, p.view), p.view)
        if lines is None:
            return "answer holds redacted text", ()
        return region_error(lines, p.view, p.required), lines

    @staticmethod
    def _check_side(p: Pending, side: str) -> tuple[str | None, tuple[str, ...]]:
        """One side's lines, as they are, checked like any answer (the fork's marked lines kept)."""
        lines = tuple(p.view.fork if side == "fork" else p.view.upstream)
        return region_error(lines, p.view, p.required), lines

    @staticmethod
    def _parse_error(
        v: Versions, doc: Any, by_number: dict[int, Pending], answers: dict[int, tuple[str, ...]]
    ) -> str | None:
        """Does the file parse with these answers, and the fork side for every hunk still open?"""
        fill = {q.hunk.index: answers.get(m, tuple(q.hunk.fork)) for m, q in by_number.items()}
        return validation_error(v, encode(doc.render(fill)))

    def _result(
        self,
        v: Versions,
        res: FileResult,
        doc: Any,
        by_number: dict[int, Pending],
        verdicts: dict[int, Verdict],
        edits: Sequence[outside.Edit] = (),
        refused: Sequence[str] = (),
    ) -> FileResult:
        resolved = {
            p.hunk.index: verdicts[n].lines
            for n, p in by_number.items()
            if n in verdicts and verdicts[n].lines is not None
        }
        content = encode(doc.render(resolved))
        complete = len(resolved) == len(by_number)
        if complete and (has_markers(content) or validation_error(v, content)):
            problem = validation_error(v, content) or "conflict markers left"
            verdicts = {n: Verdict(None, f"agent answers rejected together: {problem}") for n in by_number}
            resolved, content, complete, edits = {}, res.content or b"", False, ()
        hunks = []
        for h in res.hunks:
            vd = verdicts.get(h.index)
            if vd is None or h.outcome == "resolved":
                hunks.append(h)
            elif vd.lines is not None:
                hunks.append(
                    HunkResult(
                        h.index,
                        h.fork_start,
                        h.fork_lines,
                        h.upstream_lines,
                        "resolved",
                        self.rule,
                        0.8,
                        vd.reason,
                    )
                )
            else:
                hunks.append(
                    HunkResult(
                        h.index,
                        h.fork_start,
                        h.fork_lines,
                        h.upstream_lines,
                        "unresolved",
                        self.rule,
                        0.0,
                        vd.reason,
                    )
                )
        left = sum(1 for h in hunks if h.outcome == "unresolved")
        also = (
            f"; {len(edits)} edit(s) outside the hunks by the agent: " + "; ".join(e.rationale for e in edits)
            if edits
            else ""
        )
        if refused:
            also += f"; {len(refused)} edit(s) outside the hunks refused: " + "; ".join(refused)
        # The PR's resolution table shows hunks and details, not the file's reason: each edit outside
        # the hunks gets a line of its own there, so a reviewer sees every line the agent touched.
        details = (
            *res.details,
            *(outside.describe(e) for e in edits),
            *(f"an edit outside the hunks refused: {why}" for why in refused),
        )
        if complete:
            return FileResult(
                v.path,
                res.kind,
                "resolved",
                "hunks",
                f"every hunk resolved ({len(resolved)} by the agent){also}",
                content,
                tuple(hunks),
                details,
                True,
                len(edits),
            )
        reason = f"{left} of {len(hunks)} hunks left for review{also}"
        if self.exhausted is not None:
            reason += f"; not sent to the agent: {self.exhausted.message}"
        return FileResult(
            v.path, res.kind, "unresolved", "hunks", reason, content, tuple(hunks), details, True, len(edits)
        )

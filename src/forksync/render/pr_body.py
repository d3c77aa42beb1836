"""The pull request title and body, rendered from the report and nothing else.

Unresolved conflicts come first (a reviewer's first job), then the recommendation, the
release, every resolution with its rule and reason, checks, verification, cost, and how
to merge (a merge commit: squashing destroys the ancestry the next sync needs).

Upstream's text (paths, tags, commit subjects, release notes, reasons quoting them, check output)
is made inert by `render.inert`: it cannot close an issue, mention anyone, inject HTML or break
out of its code span or fence. Every list says "… and N more" when capped, and the body stays
under GitHub's size limit.
"""

from __future__ import annotations

import re

from ..report import ConflictRecord, Report
from ..secrets import redact
from . import inert

MAX_TABLE_ROWS = 200
MAX_ITEMS = 50  # any other list in the body
MAX_DETAILS = 20


def _cell(text: str) -> str:
    return inert.text(redact(text)).strip()


def _code(text: str) -> str:
    return inert.code(redact(text))


def _short(sha: str) -> str:
    return sha[:10] if sha else "—"


def _note(text: str) -> str:
    return f" ({_cell(text)})" if text else ""


def render_title(r: Report) -> str:
    tag = r.release.tag if r.release else "upstream"
    prefix = "[needs review] " if r.unresolved else ""
    return inert.no_triggers(f"{prefix}Sync upstream release {' '.join(redact(tag).split())}")[:256]


def _unresolved_section(r: Report) -> list[str]:
    out = [
        f"## ⚠️ {len(r.unresolved)} conflicted file(s) left for review",
        "",
        "This PR is a draft. Each file below says what was committed for it: conflict markers (the "
        "marker check keeps the PR from passing until they are gone), or one side's state with what "
        "the other side did. Resolve them on this branch."
        if any(c.committed for c in r.unresolved)
        else "Nothing was committed for these files.",
        "",
    ]
    for c in r.unresolved[:MAX_TABLE_ROWS]:
        out.append(f"- **{_code(c.path)}** ({_cell(c.kind)}): {_cell(c.reason)}")
        if c.committed_note:
            out.append(f"  - committed: {_cell(c.committed_note)}")
        open_hunks = [h for h in c.hunks if h.outcome != "resolved"]
        for h in open_hunks[:MAX_ITEMS]:
            lines = f"fork lines {h.fork_start}–{h.fork_start + max(h.fork_lines, 1) - 1}"
            out.append(f"  - hunk {h.index} ({lines}): {_cell(h.reason)}")
        if len(open_hunks) > MAX_ITEMS:
            out.append(f"  - … and {len(open_hunks) - MAX_ITEMS} more hunks")
    if len(r.unresolved) > MAX_TABLE_ROWS:
        out.append(f"- … and {len(r.unresolved) - MAX_TABLE_ROWS} more files (all in the JSON report)")
    out.append("")
    return out


def _conflict_rows(c: ConflictRecord) -> list[str]:
    rows = []
    if c.hunks:
        for h in c.hunks:
            who = " (agent)" if h.by_agent else ""
            rows.append(
                f"| {_code(c.path)} | {h.index} | {_code(h.rule)}{who} | {_cell(h.outcome)} | {_cell(h.reason)} |"
            )
    else:
        rows.append(
            f"| {_code(c.path)} | whole file | {_code(c.rule)} | {_cell(c.outcome)} | {_cell(c.reason)} |"
        )
    rows += inert.capped(
        c.details, MAX_DETAILS, lambda d: f"| | | | | ↳ {_cell(d)} |", "| | | | | ↳ … and {n} more |"
    )
    return rows


def render_body(r: Report) -> str:
    out: list[str] = []
    rel = r.release
    tag = rel.tag if rel else "?"
    if r.unresolved:
        out += _unresolved_section(r)
    badge = "✅ `ready`" if r.recommendation == "ready" else "🔍 `needs-review`"
    out += [f"## Upstream sync: {tag}", "", f"**Recommendation: {badge}**"]
    out += inert.capped(r.reasons, MAX_ITEMS, lambda x: f"- {_cell(x)}")
    out.append("")
    out += ["| | |", "|---|---|"]
    if rel:
        link = f"[{_cell(rel.tag)}]({_url(rel.url)})" if _url(rel.url) else _code(rel.tag)
        out.append(f"| Upstream release | {link} (commit `{_short(rel.commit)}`) |")
    if _url(r.compare_url):
        start = _short(r.compare_from) if re.fullmatch(r"[0-9a-f]{40,64}", r.compare_from) else r.compare_from
        start = start or (r.fork_version or "")
        out.append(
            f"| Compare | [{_cell(start)}...{_cell(tag)}]({_url(r.compare_url)}) (from the merge base) |"
        )
    out.append(
        f"| Fork | {_code(r.fork_branch)} at `{_short(r.fork_commit)}`, version {_cell(r.fork_version or 'unknown')}"
        f" ({_cell(r.fork_version_source)}) |"
    )
    if r.merge_commit:
        parents = ", ".join(f"`{_short(p)}`" for p in r.merge_parents)
        out.append(
            f"| Merge commit | `{_short(r.merge_commit)}` (parents: {parents or '—'}) on {_code(r.sync_branch)} |"
        )
    if r.lifecycle:
        out.append(f"| Sync branch | {_cell(r.lifecycle)} |")
    out.append(f"| Brought in | {r.upstream_commits} upstream commits, {r.files_changed} files changed |")
    if r.version_update:
        v = r.version_update
        change = (
            f"{_cell(str(v.old))} → **{_cell(v.new)}**"
            if v.old != v.new
            else f"**{_cell(v.new)}** (unchanged)"
        )
        out.append(f"| Version | {_code(v.file)}: {change if v.new else '—'}{_note(v.note)} |")
    if r.ignored_tags:
        tags = inert.capped(r.ignored_tags, MAX_ITEMS, _code, "… and {n} more")
        out.append("| Not stable (skipped) | " + ", ".join(tags) + " |")
    if r.skipped_releases:
        skipped = inert.capped([s.tag for s in r.skipped_releases], MAX_ITEMS, _code, "… and {n} more")
        out.append("| Also includes | " + ", ".join(skipped) + " |")
    resolved = len(r.conflicts) - len(r.unresolved)
    by_agent = sum(1 for c in r.conflicts if any(h.by_agent for h in c.hunks))
    out.append(
        f"| Conflicts | {len(r.conflicts)} files: {resolved} resolved ({by_agent} with the agent), "
        f"{len(r.unresolved)} left |"
    )
    if r.llm_calls:
        out.append(f"| LLM cost | ${r.cost_usd:.4f} ({r.tokens} tokens, {len(r.llm_calls)} calls) |")
    out.append("")

    out += _scan_section(r)
    if r.conflicts:
        out += [
            "### Conflict resolution",
            "",
            "| File | Hunk | Rule | Outcome | Why |",
            "|---|---|---|---|---|",
        ]
        rows = [row for c in r.conflicts for row in _conflict_rows(c)]
        out += rows[:MAX_TABLE_ROWS]
        if len(rows) > MAX_TABLE_ROWS:
            out.append(f"| … | | | | {len(rows) - MAX_TABLE_ROWS} more rows in the JSON report |")
        out.append("")

    out += ["### Checks", ""]
    if r.checks:
        out += ["| Check | Result | Time | Tests |", "|---|---|---|---|"]
        for c in r.checks:
            result = "✅ passed" if c.passed else ("⏱ timed out" if c.timed_out else f"❌ exit {c.exit_code}")
            tests = ", ".join(f"{v} {k}" for k, v in (c.tests or {}).items()) or "—"
            out.append(f"| {_code(c.command)} | {result} | {c.duration_s:.1f}s | {_cell(tests)} |")
        for c in r.checks:
            if not c.passed and c.output_tail:
                out += [
                    "",
                    f"<details><summary>Output of <code>{_cell(c.command)}</code> (tail)</summary>",
                    "",
                    inert.fenced(redact(c.output_tail)[-3000:]),
                    "</details>",
                ]
    elif r.scan is not None and r.scan.held:
        out.append("Not run: upstream code is held back by the supply-chain scan (above).")
    else:
        out.append("No checks configured (`[checks] commands`).")
    out.append("")

    if r.findings:
        out += ["### Verification findings", ""]
        for f in r.findings[:100]:
            where = _code(f"{f.path}:{f.line}" if f.line else f.path) if f.path else ""  # line 0: no line
            feat = f" [{_cell(f.feature)}]" if f.feature else ""
            out.append(f"- **{_cell(f.kind)}**{feat} {where} {_cell(f.message)}")
        if len(r.findings) > 100:
            out.append(f"- … and {len(r.findings) - 100} more (all in the JSON report)")
        out.append("")

    if r.agent_changes:
        out += ["### Files the agent's fixes changed", "", "Review each: the agent wrote them.", ""]
        out += [
            f"- {_code(a.path)} {a.change} (+{a.added_lines} −{a.removed_lines})"
            for a in r.agent_changes[:MAX_TABLE_ROWS]
        ]
        if len(r.agent_changes) > MAX_TABLE_ROWS:
            out.append(f"- … and {len(r.agent_changes) - MAX_TABLE_ROWS} more")
        out.append("")

    if r.llm_calls:
        out += ["### LLM usage", "", "| Purpose | Model | In | Out | Cost |", "|---|---|---|---|---|"]
        for call in r.llm_calls[:MAX_ITEMS]:
            out.append(
                f"| {_cell(call.purpose)} | {_cell(call.model)} | {call.input_tokens} | {call.output_tokens} "
                f"| ${call.cost_usd:.4f} |"
            )
        if len(r.llm_calls) > MAX_ITEMS:
            out.append(f"| … and {len(r.llm_calls) - MAX_ITEMS} more calls | | | | |")
        out.append("")

    notes = [s for s in ([rel] if rel else []) + list(r.skipped_releases) if s.notes]
    if notes:
        out += ["<details><summary>Release notes</summary>", ""]
        for s in notes[:10]:
            out += [f"#### {_code(s.tag)}", "", inert.fenced(redact(s.notes)[:4000]), ""]
        if len(notes) > 10:
            out += [f"… and {len(notes) - 10} more releases' notes", ""]
        out += ["</details>", ""]
    if r.top_commits:
        out += ["<details><summary>Upstream commits (newest first)</summary>", ""]
        out += [f"- {_cell(c)}" for c in r.top_commits[:MAX_ITEMS]]
        shown = min(len(r.top_commits), MAX_ITEMS)
        if max(r.upstream_commits, len(r.top_commits)) > shown:
            out.append(f"- … and {max(r.upstream_commits, len(r.top_commits)) - shown} more")
        out += ["", "</details>", ""]
    if r.top_files:
        out += ["<details><summary>Files upstream changed since the merge base</summary>", ""]
        out += [f"- {_code(f)}" for f in r.top_files[:MAX_ITEMS]]
        shown = min(len(r.top_files), MAX_ITEMS)
        if max(r.files_changed, len(r.top_files)) > shown:
            out.append(f"- … and {max(r.files_changed, len(r.top_files)) - shown} more")
        out += ["", "</details>", ""]
    if r.warnings:
        out += ["### Warnings", "", *inert.capped(r.warnings, MAX_ITEMS, lambda w: f"- {_cell(w)}"), ""]
    if r.config_sources:
        out += [
            "<details><summary>Configuration: where each value came from (fleet file or the fork's own)"
            "</summary>",
            "",
        ]
        out += inert.capped(
            sorted(r.config_sources.items()), MAX_ITEMS, lambda kv: f"- {_code(kv[0])}: {_cell(kv[1])}"
        )
        out += ["", "</details>", ""]
    out += [
        "### How to merge",
        "",
        "Use **Create a merge commit**. Do not squash or rebase: the next sync needs upstream's history in "
        "the fork's ancestry (a squashed sync once lost 4,201 upstream commits' history and inflated every "
        "later diff).",
        "",
        f"<sub>forksync run {_code(r.run_id)}</sub>",
    ]
    return inert.cap_body("\n".join(out) + "\n")


def _scan_section(r: Report) -> list[str]:
    """Each supply-chain finding with its path, severity and reason; what was held back and why."""
    scan = r.scan
    if scan is None:
        return []
    out = ["### Supply-chain scan", ""]
    if scan.held:
        out += [f"**⛔ Upstream code was not run.** {_cell(scan.held)}", ""]
    elif scan.approved and any(f.severity == "high" for f in scan.findings):
        out += ["High-severity findings were approved for this release: upstream code ran.", ""]
    icons = {"high": "🔴 high", "medium": "🟠 medium", "low": "⚪ low"}
    out += inert.capped(
        scan.findings,
        MAX_TABLE_ROWS,
        lambda f: f"- **{icons.get(f.severity, _cell(f.severity))}** {_code(f.path)} {_cell(f.reason)}",
    )
    if not scan.findings:
        out.append(f"No finding in {scan.files_changed} changed file(s).")
    extra = [*scan.notes, f"GuardDog: {scan.guarddog}" if scan.guarddog else ""]
    out += [f"- {_cell(n)}" for n in extra if n]
    out.append("")
    return out


def _url(url: str) -> str:
    """A link target that cannot end the Markdown link early or smuggle in HTML: http(s) only."""
    url = redact(url)
    if not url.startswith(("https://", "http://")) or any(c in url for c in " <>()[]\"'`\n"):
        return ""
    return url

"""The recommendation, `ready` or `needs-review`, as one pure function of the report.

`ready` is a promise to a reviewer that the PR can be merged as it stands, so it is given
only when every condition below holds; otherwise each failing condition is one reason, and
the body lists them all. Nothing is silently chosen: whatever the agent wrote (a resolved hunk
or a fix commit), a duplicate that git's clean merge produced, a lock file taken without being
regenerated, all keep the PR in review unless a rule the user configured allows it.

1. nothing is left unresolved (always the first reason);
2. every check ran and passed, and checks are configured at all;
3. verification found nothing (markers, lost changes, clean-merge duplicates, …);
4. no hunk or file was resolved by the LLM agent, unless ``[agent] allow-ready``, and the agent
   changed nothing outside the conflict hunks (``allow-ready`` does not cover that);
5. no file was changed by the agent's fix commits, unless ``[agent] allow-ready`` or every
   changed path matches ``[agent] allow-paths``;
6. no lock file was taken from upstream without being regenerated (LESSONS 7);
7. upstream's version file agrees with the release tag (LESSONS 2);
8. the supply-chain scan of the release found nothing (and, on a high finding, says that
   upstream code was held back until a person approves the release);
9. the earlier stages recorded no reason of their own (e.g. the LLM budget ran out).
"""

from __future__ import annotations

from collections import Counter

from .config import Config
from .report import CheckRecord, Recommendation, Report
from .resolve.paths import matches
from .resolve.policy import is_lock_file

__all__ = ["agent_resolved", "recommend", "unallowed_agent_changes"]


def agent_resolved(r: Report) -> int:
    """Hunks (or whole files without hunks) the LLM agent resolved."""
    hunks = sum(1 for c in r.conflicts for h in c.hunks if h.by_agent and h.outcome == "resolved")
    files = sum(
        1 for c in r.conflicts if not c.hunks and c.outcome == "resolved" and c.rule.startswith("agent")
    )
    return hunks + files


def unallowed_agent_changes(r: Report, config: Config) -> list[str]:
    """Paths the agent's fixes changed that no user rule allows (``allow-ready``, ``allow-paths``)."""
    if config.agent.allow_ready:
        return []
    allowed = config.agent.allow_paths
    return [a.path for a in r.agent_changes if not any(matches(glob, a.path) for glob in allowed)]


def _version_disagrees(r: Report) -> bool:
    v = r.version_update
    if v is not None and v.upstream_tree_version is not None and r.release is not None:
        from .releases import parse_version

        return parse_version(v.upstream_tree_version) != parse_version(r.release.version)
    # Without a version update (``[version] update = false``) the version stage left a warning.
    return any(w.startswith("upstream's ") and " says " in w for w in r.warnings)


def _first_few(paths: list[str], n: int = 5) -> str:
    """The first ``n`` paths of a reason, and how many more there are."""
    return ", ".join(paths[:n]) + (f" and {len(paths) - n} more" if len(paths) > n else "")


def recommend(r: Report, config: Config) -> tuple[Recommendation, list[str]]:
    """``(recommendation, reasons)``: ``ready`` exactly when there is no reason. Pure: reads the
    report and the configuration, changes neither; running it twice gives the same answer."""
    reasons: list[str] = []
    if r.unresolved:
        reasons.append(f"{len(r.unresolved)} conflicted file(s) left for review")
    failed = [c for c in r.checks if not c.passed]
    if failed:
        open_paths = [c.path for c in r.unresolved]
        names = [
            c.name + (" (its output names only files left for review)" if _only_open(c, open_paths) else "")
            for c in failed
        ]
        reasons.append("failing checks: " + ", ".join(names))
    if not config.checks.commands:
        reasons.append("no checks configured")
    if r.findings:
        kinds = Counter(f.kind for f in r.findings)
        detail = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        reasons.append(f"{len(r.findings)} verification finding(s): {detail}")
    hunks = agent_resolved(r)
    if hunks and not config.agent.allow_ready:
        reasons.append(f"{hunks} hunk(s) resolved by the LLM agent")
    outside = [c for c in r.conflicts if c.agent_edits]
    if outside:
        # Lines no conflict touched, changed by a model: always a person's call, whatever allow-ready says.
        n = sum(c.agent_edits for c in outside)
        shown = _first_few([c.path for c in outside])
        reasons.append(f"the LLM agent edited {n} place(s) outside the conflict hunks: {shown}")
    changed = unallowed_agent_changes(r, config)
    if changed:
        reasons.append(f"the agent's fixes changed {len(changed)} file(s): {_first_few(changed)}")
    stale = [c.path for c in r.conflicts if c.rule == "policy:take-upstream" and is_lock_file(c.path)]
    if stale:
        # A regenerate policy's command has run by now; take-upstream's never does, and
        # upstream's lock lacks the fork's own dependencies until it is regenerated.
        reasons.append(
            f"lock file(s) taken from upstream, regenerate them: {', '.join(stale[:5])} "
            "(or set a `regenerate` policy with the lock command)"
        )
    if _version_disagrees(r):
        reasons.append("upstream's version file disagrees with the release tag")
    reasons += _scan_reasons(r)
    # Reasons the stages recorded themselves (kept after the computed ones, without repeats).
    computed = set(reasons)
    reasons += [x for x in r.reasons if x not in computed and not _is_computed(x)]
    reasons = list(dict.fromkeys(reasons))
    return ("needs-review" if reasons else "ready"), reasons


def _scan_reasons(r: Report) -> list[str]:
    scan = r.scan
    if scan is None or not scan.findings:
        return []
    counts = Counter(f.severity for f in scan.findings)
    detail = ", ".join(f"{counts[s]} {s}" for s in ("high", "medium", "low") if counts[s])
    out = [f"{len(scan.findings)} supply-chain scan finding(s): {detail}"]
    if scan.held:
        out.append("upstream code not run: " + scan.held)
    return out


_COMPUTED_PREFIXES = (
    "conflicted file(s) left for review",
    "failing checks: ",
    "no checks configured",
    "verification finding(s)",
    "hunk(s) resolved by the LLM agent",
    "the agent's fixes changed ",
    "place(s) outside the conflict hunks",
    "lock file(s) taken from upstream",
    "upstream's version file disagrees",
    "supply-chain scan finding(s)",
    "upstream code not run: ",
)


def _is_computed(reason: str) -> bool:
    """A reason an earlier ``recommend`` computed (a resumed report carries them): recomputed, not kept."""
    return any(p in reason for p in _COMPUTED_PREFIXES)


def _only_open(check: CheckRecord, open_paths: list[str]) -> bool:
    """Does a failing check point only at files committed with markers? Then the reviewer fixes
    it by resolving them; the check still failed and stays a reason."""
    import re

    named = set(re.findall(r"[\w./-]+\.\w+", check.output_tail))
    tracked = {n for n in named if "/" in n}
    return (
        bool(open_paths)
        and bool(tracked)
        and all(any(p == n or p.endswith("/" + n) or n.endswith(p) for p in open_paths) for n in tracked)
    )

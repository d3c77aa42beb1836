"""The per-fork reports of one fleet run, read as untrusted data, and the fleet's history.

Each fork's job leaves a folder holding `report.json` (what `forksync sync`/`publish` wrote) and
`fleet-entry.json` (its name and where its configuration came from). A report that is missing,
too large or not a report is one problem line, never a crash. The history (`fleet-state.json`)
keeps each fork's last run (what `fleet plan` compares against) and its recent runs (for the
page's trend, days behind, pull request age and cost this month).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..report import Report
from .model import Fleet

MAX_REPORT = 8 * 1024 * 1024
HISTORY = 60  # runs kept per fork
ENTRY_FILE = "fleet-entry.json"
_URL = re.compile(r"^https?://[^\s\"'<>()\\]+$")


@dataclass(frozen=True)
class Run:
    """One fork's run, reduced to what the fleet views show."""

    at: str
    release: str
    status: str
    conflicts: int
    resolved: int
    cost_usd: float
    pr_url: str = ""

    @classmethod
    def from_report(cls, report: Report) -> Run:
        pr = report.pull_request
        return cls(
            report.finished_at or report.started_at,
            report.release.tag if report.release else "",
            report.status,
            len(report.conflicts),
            len(report.conflicts) - len(report.unresolved),
            report.cost_usd,
            pr.url if pr and safe_url(pr.url) else "",
        )


@dataclass
class ForkRow:
    """One fork in the summary, its dashboard issue and the page."""

    name: str
    repository: str
    status: str  # a report's status, or "no report" / "problem"
    report: Report | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    problem: str = ""
    behind_releases: int = 0
    behind_days: int | None = None
    pr_age_days: int | None = None
    cost_month_usd: float = 0.0
    trend: list[tuple[int, int]] = field(default_factory=list)  # (resolved, conflicts), oldest first
    last_at: str = ""  # when the fork's last run finished (this run's, or an earlier one's)
    fresh: bool = False  # the fork ran in this fleet run

    @property
    def pr_url(self) -> str:
        pr = self.report.pull_request if self.report else None
        return pr.url if pr and safe_url(pr.url) else ""


def safe_url(url: str) -> bool:
    """Only plain http(s) addresses become links (a report is untrusted data)."""
    return bool(_URL.match(url)) and len(url) < 2000


def _finite(data: Any) -> bool:
    text = json.dumps(data, allow_nan=True)
    return "NaN" not in text and "Infinity" not in text


def read_report(path: Path) -> Report:
    """A report.json, checked: size-capped, a JSON object, NaN refused, shaped as a Report."""
    if path.stat().st_size > MAX_REPORT:
        raise ValueError(f"larger than {MAX_REPORT // 1024 // 1024} MB")
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not _finite(data):
        raise ValueError("not a report")
    report = Report.from_dict(data)
    if not isinstance(report.status, str) or not isinstance(report.conflicts, list):
        raise ValueError("not a report")
    return report


def read_entry(folder: Path) -> dict[str, Any]:
    path = folder / ENTRY_FILE
    if not path.is_file() or path.stat().st_size > 1024 * 1024:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def collect(fleet: Fleet, folder: Path) -> tuple[dict[str, tuple[Report, dict[str, str]]], list[str]]:
    """Reports found under ``folder`` (any depth up to 3) by fork name, and problem lines."""
    found: dict[str, tuple[Report, dict[str, str]]] = {}
    problems: list[str] = []
    names = {f.name for f in fleet.forks}
    paths = sorted(
        p for pattern in ("report.json", "*/report.json", "*/*/report.json") for p in folder.glob(pattern)
    )
    for path in paths:
        entry = read_entry(path.parent)
        name = entry.get("name") if isinstance(entry.get("name"), str) else path.parent.name
        name = str(name).removeprefix("forksync-report-")
        if name not in names:
            problems.append(
                f"{_clip(str(path.relative_to(folder)))}: no fork named {_clip(name)!r} in the fleet file"
            )
            continue
        try:
            report = read_report(path)
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            problems.append(f"{name}: unreadable report ({type(exc).__name__}: {_clip(str(exc))})")
            continue
        raw = entry.get("provenance")
        provenance = (
            {str(k): str(v) for k, v in raw.items() if v in ("fleet", "fork")}
            if isinstance(raw, dict)
            else {}
        )
        found[name] = (report, provenance)
    return found, problems


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- the history ---------------------------------------------------------------------------
def load_state(path: Path | None) -> dict[str, Any]:
    """The fleet state, or an empty one (a missing or damaged file only loses the history)."""
    if path is None or not path.is_file():
        return {"version": 1, "forks": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {"version": 1, "forks": {}}
    if not isinstance(data, dict) or not isinstance(data.get("forks"), dict):
        return {"version": 1, "forks": {}}
    return data


def last_runs(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each fork's last run as `fleet plan` compares it."""
    out = {}
    for name, value in state.get("forks", {}).items():
        if isinstance(value, dict) and isinstance(value.get("last"), dict):
            out[str(name)] = value["last"]
    return out


def record(state: dict[str, Any], name: str, report: Report) -> None:
    """Add a run to a fork's history, once (a report read twice is not a second run)."""
    forks = state.setdefault("forks", {})
    entry = forks.setdefault(name, {"runs": []})
    run = Run.from_report(report)
    entry["last"] = {
        "release": run.release,
        "release_commit": report.release.commit if report.release else "",
        "fork_commit": report.fork_commit,
        "status": run.status,
        "at": run.at,
    }
    runs = [r for r in entry.get("runs", []) if isinstance(r, dict) and r.get("at") != run.at]
    runs.append(run.__dict__.copy())
    entry["runs"] = runs[-HISTORY:]


def _when(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _runs(state: dict[str, Any], name: str) -> list[Run]:
    raw = state.get("forks", {}).get(name, {}).get("runs", [])
    out = []
    for r in raw if isinstance(raw, list) else []:
        try:
            out.append(Run(**{k: r[k] for k in Run.__dataclass_fields__ if k in r}))
        except TypeError:
            continue
    return out


def figures(row: ForkRow, runs: list[Run], now: datetime) -> None:
    """Fill the row's derived figures from the fork's history (pure: no I/O)."""
    month = now.strftime("%Y-%m")
    row.cost_month_usd = round(
        sum(r.cost_usd for r in runs if r.at.startswith(month) and math.isfinite(r.cost_usd)), 4
    )
    row.trend = [(r.resolved, r.conflicts) for r in runs[-10:]]
    report = row.report
    if report is None:
        return
    if report.status != "up-to-date" and report.release is not None:
        row.behind_releases = 1 + len(report.skipped_releases)
        since = next(
            (
                r.at
                for i, r in enumerate(runs)
                if r.status != "up-to-date" and all(x.status != "up-to-date" for x in runs[i:])
            ),
            "",
        )
        start = _when(since)
        row.behind_days = max(0, (now - start).days) if start else None
    if row.pr_url:
        first = next((r.at for r in runs if r.pr_url == row.pr_url), "")
        opened = _when(first)
        row.pr_age_days = max(0, (now - opened).days) if opened else None


def build_rows(
    fleet: Fleet,
    reports: dict[str, tuple[Report, dict[str, str]]],
    state: dict[str, Any],
    problems: dict[str, str],
    now: datetime,
) -> list[ForkRow]:
    """One row per fork in the fleet file, in its order; the state is updated with this run."""
    rows = []
    for fork in fleet.forks:
        row = ForkRow(fork.name, fork.repository, "no report")
        if fork.problem or fork.name in problems:
            row.status, row.problem = "problem", fork.problem or problems[fork.name]
        if fork.name in reports:
            report, provenance = reports[fork.name]
            record(state, fork.name, report)
            row.status, row.report, row.provenance = report.status, report, provenance
            row.fresh = True
        runs = _runs(state, fork.name)
        if runs:
            row.last_at = runs[-1].at
            if row.status == "no report":
                row.status = f"not due (last: {runs[-1].status})"
        figures(row, runs, now)
        rows.append(row)
    return rows


def now_utc() -> datetime:
    return datetime.now(UTC)

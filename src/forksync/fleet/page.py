"""The fleet's static HTML page: one row per fork, coloured by status, with how far behind
upstream it is (releases and days), the open pull request's age, this month's cost and the
trend of conflicts resolved automatically.

One self-contained file (inline CSS and SVG, no script, no external asset, a CSP that forbids
loading anything), so it works opened from disk and from GitHub Pages. Every value is escaped
with `html.escape`; only plain http(s) URLs become links.
"""

from __future__ import annotations

from html import escape

from .aggregate import ForkRow, safe_url

_COLOURS = {
    "synced": "ok",
    "up-to-date": "ok",
    "conflicts-left": "warn",
    "checks-failed": "bad",
    "verify-failed": "warn",
    "failed": "bad",
    "problem": "bad",
}


def status_class(row: ForkRow) -> str:
    if row.status == "synced" and row.report and row.report.recommendation != "ready":
        return "warn"
    return _COLOURS.get(row.status, "idle")


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _trend(points: list[tuple[int, int]]) -> str:
    """Bars of the share of conflicted files resolved automatically, oldest first."""
    if not points:
        return "—"
    bars, words = [], []
    for i, (resolved, total) in enumerate(points):
        share = resolved / total if total else 1.0
        height = round(2 + 18 * share)
        bars.append(f'<rect x="{i * 7}" y="{20 - height}" width="5" height="{height}"/>')
        words.append(f"{resolved}/{total}")
    label = _e("resolved automatically, oldest first: " + ", ".join(words))
    return (
        f'<svg class="trend" width="{7 * len(points)}" height="20" role="img" aria-label="{label}">'
        f"<title>{label}</title>{''.join(bars)}</svg> {_e(words[-1])}"
    )


def _num(value: int | None, unit: str) -> str:
    return "—" if value is None else f"{value} {unit}"


def render_page(rows: list[ForkRow], title: str, generated_at: str, problems: list[str]) -> str:
    body = []
    for row in rows:
        r = row.report
        pr = r.pull_request if r else None
        pr_cell = "—"
        if pr is not None:
            text = f"#{pr.number}" if isinstance(pr.number, int) else "pull request"
            pr_cell = f'<a href="{_e(pr.url)}">{_e(text)}</a>' if safe_url(pr.url) else _e(text)
            if row.pr_age_days is not None:
                pr_cell += f" ({row.pr_age_days} d)"
        release = _e(r.release.tag) if r and r.release else "—"
        detail = _e(row.problem or (r.error.get("message", "") if r and r.error else ""))
        behind = "0" if row.behind_releases == 0 and r else _num(row.behind_releases or None, "release(s)")
        body.append(
            f'<tr class="{status_class(row)}" data-fork="{_e(row.name)}">'
            f'<td class="fork">{_e(row.name)}<br><small>{_e(row.repository)}</small></td>'
            f'<td class="status">{_e(row.status)}</td>'
            f"<td>{release}</td>"
            f"<td>{behind}</td>"
            f"<td>{_num(row.behind_days, 'd')}</td>"
            f"<td>{pr_cell}</td>"
            f"<td>{len(r.unresolved) if r else '—'}</td>"
            f"<td>${row.cost_month_usd:.2f}</td>"
            f"<td>{_trend(row.trend)}</td>"
            f"<td>{_e(row.last_at) or '—'}</td>"
            f"<td>{detail}</td></tr>"
        )
    problem_list = "".join(f"<li>{_e(p)}</li>" for p in problems)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1f2328; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ border-bottom: 1px solid #d0d7de; padding: .35em .6em; text-align: left; vertical-align: top; }}
th {{ background: #f6f8fa; }}
tr.ok td.status {{ background: #dafbe1; }}
tr.warn td.status {{ background: #fff8c5; }}
tr.bad td.status {{ background: #ffebe9; }}
tr.idle td.status {{ background: #f6f8fa; }}
svg.trend rect {{ fill: #1f883d; }}
small {{ color: #59636e; }}
</style>
</head>
<body>
<h1>{_e(title)}</h1>
<p>{len(rows)} forks; generated {_e(generated_at)}.</p>
<table id="fleet">
<thead><tr><th>fork</th><th>status</th><th>release</th><th>behind (releases)</th><th>behind (days)</th>
<th>open pull request (age)</th><th>open conflicts</th><th>cost this month</th>
<th>resolved automatically (trend)</th><th>last run</th><th>detail</th></tr></thead>
<tbody>
{chr(10).join(body)}
</tbody>
</table>
{f"<h2>Problems</h2><ul>{problem_list}</ul>" if problems else ""}
</body>
</html>
"""

"""The fleet's HTML page: one row per fork, every report value escaped, no external asset;
parsed with a real HTML parser, and rendered by headless Chromium when it is installed."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from forksync.fleet.aggregate import ForkRow, Run, figures
from forksync.fleet.page import render_page
from forksync.report import ConflictRecord, PullRequestRecord, ReleaseInfo, Report

EVIL = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
NOW = datetime(2026, 12, 20, tzinfo=UTC)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.tags: set[str] = set()
        self.links: list[str] = []
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.add(tag)
        if tag == "tr" and a.get("data-fork"):
            self.rows[str(a["data-fork"])] = str(a.get("class"))
        if tag == "a":
            self.links.append(str(a.get("href")))
        self.sources += [
            str(v) for k, v in attrs if k in ("src", "srcset") or (k == "href" and tag == "link")
        ]


def _rows() -> list[ForkRow]:
    rows = []
    for i in range(20):
        report = Report(
            f"r{i}", "2026-12-01T03:00:00Z", "/r", "main", "u", finished_at="2026-12-01T03:01:00Z"
        )
        report.status = ["synced", "conflicts-left", "up-to-date", "failed"][i % 4]  # type: ignore[assignment]
        report.recommendation = "ready"
        report.release = ReleaseInfo(f"v1.{i}.0" if i != 5 else EVIL, "1.0", "c" * 40)
        report.conflicts = [
            ConflictRecord(EVIL, "content", "unresolved" if i % 4 == 1 else "resolved", "", "")
        ]
        url = f"https://github.com/acme/f{i}/pull/{i + 1}" if i != 7 else "javascript:alert(1)"
        report.pull_request = PullRequestRecord(url, i + 1, "created")
        if i == 3:
            report.error = {"kind": "upstream", "message": EVIL}
        row = ForkRow(
            f"f{i:02d}" if i != 9 else "f09", f"acme/f{i}", report.status, report=report, fresh=True
        )
        runs = [
            Run(f"2026-12-{d:02d}T03:00:00Z", "v1", report.status, 4, d % 5, 0.25, url) for d in range(1, 16)
        ]
        figures(row, runs, NOW)
        row.last_at = runs[-1].at
        rows.append(row)
    rows.append(ForkRow("broken", "acme/broken", "problem", problem=EVIL))
    return rows


def _check(page: _Page) -> None:
    assert sorted(page.rows) == sorted([f"f{i:02d}" for i in range(20)] + ["broken"])
    assert page.rows["f00"] == "ok" and page.rows["f01"] == "warn" and page.rows["f03"] == "bad"
    assert page.rows["broken"] == "bad"
    assert "script" not in page.tags and "img" not in page.tags and not page.sources
    assert all(link.startswith("https://") for link in page.links) and len(page.links) == 19


def test_the_page_has_one_escaped_row_per_fork(tmp_path: Path) -> None:
    text = render_page(_rows(), "fleet <b>", "2026-12-20 03:00 UTC", [EVIL])
    page = _Page()
    page.feed(text)
    _check(page)
    assert "default-src 'none'" in text and "http" not in text.split("<body>")[0].replace("http-equiv", "")
    row = _rows()[0]
    assert row.behind_releases == 1 and row.behind_days == 18 and row.pr_age_days == 18
    assert row.cost_month_usd == 3.75 and len(row.trend) == 10


def test_the_page_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip(
            "Chromium is not installed (apt-get install -y chromium); the page is checked by html.parser"
        )
    path = tmp_path / "index.html"
    path.write_text(render_page(_rows(), "fleet", "2026-12-20 03:00 UTC", []))
    res = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--dump-dom",
            path.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    page = _Page()
    page.feed(res.stdout)  # the DOM as Chromium built it
    _check(page)
    assert "<tbody>" in res.stdout and "alert(2)" in res.stdout  # shown as text, never run

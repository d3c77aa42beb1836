"""`forksync fleet plan | config | report`: the three steps of a fleet run around CI's matrix.

plan    which forks are due (`git ls-remote` only), as matrices for GitHub Actions' `fromJSON`
config  one matrix job's effective configuration: fleet defaults, the fork's entry, the fork's
        own `.forksync.toml` read from its production branch's commit (never a merged tree)
report  the per-fork reports aggregated: job summary, dashboard issues, HTML page, history
"""

from __future__ import annotations

import json
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

from ..config import CONFIG_FILE, config_section, load_config_text, parse_config
from ..errors import ConfigError
from ..fleet.model import Fleet, effective, load_fleet


def _problems(lines: list[str]) -> None:
    for line in lines:
        print(f"forksync: fleet: {line}", file=sys.stderr)


def plan(
    fleet_file: Path,
    jobs: int,
    state_path: Path | None,
    chunks: int,
    github_output: Path | None,
    out: Path | None,
    gitlab_pipeline: Path | None = None,
) -> int:
    from ..fleet.aggregate import last_runs, load_state
    from ..fleet.plan import MATRIX_LIMIT, make_plan
    from ..fleet.plan import github_output as output_lines

    if jobs < 1 or chunks < 1:
        raise ConfigError("--jobs and --chunks must be at least 1")
    fleet = load_fleet(fleet_file)
    result = make_plan(fleet, last_runs(load_state(state_path)), jobs=jobs)
    if github_output is not None:
        with github_output.open("a", encoding="utf-8") as fh:
            fh.write(output_lines(result, MATRIX_LIMIT, chunks))
    text = json.dumps(result.to_dict(), indent=2)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")
    if gitlab_pipeline is not None:
        from ..fleet.gitlab import render_child

        gitlab_pipeline.write_text(render_child(result), encoding="utf-8")
    print(text)
    _problems(result.problems)
    print(
        f"forksync: fleet: {len(result.due)} due, {len(result.settled)} settled, "
        f"{len(result.problems)} problem(s), {result.git_calls} git calls",
        file=sys.stderr,
    )
    return 0


def _fork_file(repo: Path, branch: str, remote: str) -> dict[str, Any] | None:
    """The fork's own configuration (`.forksync.toml`, else pyproject's `[tool.forksync]`) as
    committed on its production branch, if any."""
    from ..git import Git, check_ref_name

    git = Git(repo)
    check_ref_name(branch, "fork branch")
    for ref in (f"refs/heads/{branch}", f"refs/remotes/{remote}/{branch}"):
        if git.rev_parse(ref) is None:
            continue
        blob = git.show_file(ref, CONFIG_FILE)
        if blob is None:  # else [tool.forksync] in pyproject.toml, as `sync` reads it
            section = config_section("pyproject.toml", git.show_file(ref, "pyproject.toml"))
            if section is not None:
                parse_config(section, f"pyproject.toml [tool.forksync] on {branch}")
            return section
        try:
            text = blob.decode("utf-8")
            load_config_text(text, f"{CONFIG_FILE} on {branch}")  # one line naming the bad key
            data = tomllib.loads(text)
        except UnicodeDecodeError:
            raise ConfigError(f"{CONFIG_FILE} on {branch} is not UTF-8") from None
        return data
    raise ConfigError(
        f"the fork has no branch '{branch}' in {repo}", hint="check out the fork's production branch"
    )


def config(fleet_file: Path, name: str, repo: Path, out: Path) -> int:
    import tomlkit

    from ..fleet.aggregate import ENTRY_FILE
    from ..fleet.model import fleet_config

    fleet = load_fleet(fleet_file)
    fork = fleet.fork(name)
    if fork.problem:
        raise ConfigError(fork.problem)
    base = fleet_config(fleet, fork)
    result = effective(fleet, fork, _fork_file(repo, base.fork.branch, base.fork.remote))
    text = f"# {name}: written by `forksync fleet config` (fleet.toml + the fork's {CONFIG_FILE})\n"
    text += tomlkit.dumps({**result.data, "sources": result.provenance})  # shown in the PR
    load_config_text(text, "effective config")  # what we write must load
    out.mkdir(parents=True, exist_ok=True)
    (out / "forksync.toml").write_text(text, encoding="utf-8")
    entry = {"name": fork.name, "repository": fork.repository, "provenance": result.provenance}
    (out / ENTRY_FILE).write_text(json.dumps(entry, indent=2) + "\n", encoding="utf-8")
    print(out / "forksync.toml")
    return 0


def report(
    fleet_file: Path,
    reports: Path,
    state_path: Path | None,
    plan_path: Path | None,
    summary_path: Path | None,
    html_path: Path | None,
    dashboard: bool,
    as_json: bool,
) -> int:
    from ..fleet import aggregate
    from ..fleet.page import render_page
    from ..fleet.render import summary

    fleet = load_fleet(fleet_file)
    if not reports.is_dir():
        raise ConfigError(f"--reports {reports}: not a folder")
    found, problems = aggregate.collect(fleet, reports)
    planned = _plan_problems(plan_path, fleet)
    problems = [*(f"{k}: {v}" if k else v for k, v in planned.items()), *problems]
    state = aggregate.load_state(state_path)
    now = aggregate.now_utc()
    rows = aggregate.build_rows(fleet, found, state, planned, now)
    problems += [f"{r.name}: {r.problem}" for r in rows if r.problem and r.name not in planned]
    updated: list[dict[str, Any]] = []
    if dashboard:
        from ..fleet.dashboard import update_all

        done, failed = update_all(fleet, rows)
        problems += failed
        updated = [{"fork": d.fork, "action": d.action, "issue": d.issue.number} for d in done]
    text = summary(rows, problems, fleet.settings.page_title)
    step_summary = summary_path or (
        Path(os.environ["GITHUB_STEP_SUMMARY"]) if os.environ.get("GITHUB_STEP_SUMMARY") else None
    )
    if step_summary is not None:
        with step_summary.open("a", encoding="utf-8") as fh:
            fh.write(text)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        stamp = now.strftime("%Y-%m-%d %H:%M UTC")
        html_path.write_text(render_page(rows, fleet.settings.page_title, stamp, problems), encoding="utf-8")
    if state_path is not None:
        state_path.parent.mkdir(parents=True, exist_ok=True)
        state_path.write_text(json.dumps(state, indent=1) + "\n", encoding="utf-8")
    if as_json:
        data = {
            "forks": [{"name": r.name, "status": r.status, "pull_request": r.pr_url} for r in rows],
            "dashboards": updated,
            "problems": problems,
        }
        print(json.dumps(data, indent=2))
    else:
        print(text, end="")
    return 0


def _plan_problems(path: Path | None, fleet: Fleet) -> dict[str, str]:
    """The plan's problem lines by fork name (a line that names no fork is kept under '')."""
    if path is None:
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--plan {path}: cannot read: {exc}") from None
    lines = data.get("problems", []) if isinstance(data, dict) else []
    names = {f.name for f in fleet.forks}
    out: dict[str, str] = {}
    for line in lines if isinstance(lines, list) else []:
        name, _, rest = str(line).partition(": ")
        if name in names:
            out[name] = rest
        else:
            out[""] = (out.get("", "") + "; " + str(line)).strip("; ")
    return out

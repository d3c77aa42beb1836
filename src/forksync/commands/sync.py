"""`forksync sync`: run the pipeline and print the summary (or the JSON report)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..config import load_fork_config
from ..errors import ConfigError
from ..pipeline import SyncOptions, run_sync
from ..render.summary import render_summary
from ..report import Report
from ..ui import Progress


def ci_run_url() -> str:
    server, repo, run = (
        os.environ.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    )
    return f"{server}/{repo}/actions/runs/{run}" if server and repo and run else ""


def execute(
    repo: Path,
    config_path: Path | None,
    *,
    release: str | None = None,
    dry_run: bool = False,
    no_push: bool = False,
    resume: bool = False,
    quiet: bool = False,
    export_dir: Path | None = None,
) -> Report:
    from ..git import Git

    top = Git(repo).run("rev-parse", "--show-toplevel", check=False)
    root = Path(top.out.strip()) if top.returncode == 0 else repo
    config, _source = load_fork_config(root, config_path)  # never a sync branch's (upstream's) copy
    options = SyncOptions(
        release=release,
        dry_run=dry_run,
        no_push=no_push,
        resume=resume,
        run_url=ci_run_url(),
        export_dir=export_dir,
    )
    report = run_sync(repo, config, options, Progress(quiet=quiet))
    if export_dir is not None:
        from ..handoff import write_export

        write_export(Git(root), report, export_dir)
    return report


def check_report_path(path: Path) -> None:
    """Checked before the run (part of the precheck): a sync is never pushed only for its
    report to be lost at the end."""
    folder = path.parent
    if path.is_dir():
        raise ConfigError(f"--report {path} is a folder", hint="name a file")
    if not folder.is_dir():
        raise ConfigError(f"--report {path}: folder {folder} does not exist")
    if not os.access(path if path.exists() else folder, os.W_OK):
        raise ConfigError(f"--report {path} is not writable")


def emit(report: Report, report_path: Path | None, as_json: bool, *, show_body: bool = False) -> None:
    """A finished run's output, for `sync` and `publish` alike: the JSON report (to --report and/or
    stdout), else the terminal summary (and the body a dry run would post), and its error line."""
    if report_path is not None:
        report_path.write_text(report.to_json(), encoding="utf-8")
    if as_json:
        print(report.to_json())
        return
    print(render_summary(report))
    if show_body and report.pr_body:
        print("\n--- pull request that would be opened ---\n")
        print(f"# {report.pr_title}\n\n{report.pr_body}")
    if report.error:
        print(f"forksync: error: {report.error.get('message', '')}", file=sys.stderr)


def run(
    repo: Path,
    config_path: Path | None,
    *,
    release: str | None,
    dry_run: bool,
    no_push: bool,
    resume: bool,
    report_path: Path | None,
    as_json: bool,
    export_dir: Path | None = None,
) -> int:
    if export_dir is not None and (dry_run or no_push):
        raise ConfigError("--export cannot be combined with --dry-run or --no-push")
    if report_path is not None:
        check_report_path(report_path)
    report = execute(
        repo,
        config_path,
        release=release,
        dry_run=dry_run,
        no_push=no_push,
        resume=resume,
        quiet=as_json,
        export_dir=export_dir,
    )
    emit(report, report_path, as_json, show_body=dry_run)
    if export_dir is not None:
        # The run's own outcome travels in the export; `forksync publish` exits with it.
        print(
            f"exported to {export_dir}: `forksync publish --from {export_dir}` takes it from here",
            file=sys.stderr,
        )
        return 0
    return report.exit_code

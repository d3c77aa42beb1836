"""`forksync publish --from DIR`: push and open the pull request for what `sync --export` built."""

from __future__ import annotations

from pathlib import Path

from ..config import load_config
from ..errors import ConfigError
from ..git import Git
from ..publish import publish_export
from ..ui import Progress
from .sync import check_report_path, ci_run_url, emit


def run(repo: Path, config_path: Path | None, source: Path, report_path: Path | None, as_json: bool) -> int:
    if not source.is_dir():
        raise ConfigError(f"{source} is not a folder", hint="pass the folder `forksync sync --export` wrote")
    if report_path is not None:
        check_report_path(report_path)  # before anything is pushed, not after
    top = Git(repo).run("rev-parse", "--show-toplevel", check=False)
    root = Path(top.out.strip()) if top.returncode == 0 else repo
    config, _source = load_config(root, config_path)  # the fork's own config, never the export's
    report = publish_export(root, config, source, Progress(quiet=as_json), ci_run_url())
    emit(report, report_path, as_json)
    return report.exit_code

"""Command-line entry point: parse arguments, dispatch to one module per command.

Kept light on purpose: `forksync merge-driver` runs once per conflicted file, so nothing
heavy (LLM SDKs, HTTP clients, rich) is imported before a command needs it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from .errors import ExitCode, ForksyncError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    from .secrets import redact

    click.echo(f"forksync: error: {redact(message)}", err=True)
    sys.exit(code)


def handled(fn: F) -> F:
    """One line per failure, a distinct exit code, no traceback (FORKSYNC_DEBUG=1 shows it)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            code = fn(*args, **kwargs)
        except ForksyncError as exc:
            if os.environ.get("FORKSYNC_DEBUG"):
                raise
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt as exc:
            _fail(
                str(exc) or "interrupted", getattr(exc, "exit_code", 130)
            )  # signals.Interrupted: 128+signum
        except Exception as exc:
            if os.environ.get("FORKSYNC_DEBUG"):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} (set FORKSYNC_DEBUG=1 for a traceback)",
                ExitCode.INTERNAL,
            )
        sys.exit(int(code or 0))

    return wrapper  # type: ignore[return-value]


repo_option = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The fork's repository.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file (default: .forksync.toml, or pyproject's [tool.forksync]).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="forksync")
def main() -> None:
    """Keep a long-lived fork in sync with its upstream's stable releases."""


@main.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to build the demo (default: a new temporary folder).",
)
@json_option
@handled
def demo(directory: Path | None, as_json: bool) -> int:
    """Build a throwaway upstream and fork with real conflicts, and sync them."""
    from .commands.demo import run

    return run(directory, as_json)


@main.command()
@repo_option
@config_option
@json_option
@handled
def check(repo: Path, config_path: Path | None, as_json: bool) -> int:
    """Is a newer upstream release waiting? Exit 0 when up to date, 10 when a sync is due."""
    from .commands.check import run

    return run(repo, config_path, as_json)


@main.command()
@repo_option
@config_option
@click.option("--release", default=None, help="Sync this upstream tag instead of the newest stable one.")
@click.option(
    "--dry-run", is_flag=True, help="Do everything in a throwaway worktree; keep no branch, push nothing."
)
@click.option("--no-push", is_flag=True, help="Keep the sync branch local; write no pull request.")
@click.option("--resume", is_flag=True, help="Continue (or roll back) the last interrupted run.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JSON report here.",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Push nothing: write the report and the sync branch (a git bundle) here for `forksync publish`.",
)
@json_option
@handled
def sync(
    repo: Path,
    config_path: Path | None,
    release: str | None,
    dry_run: bool,
    no_push: bool,
    resume: bool,
    report_path: Path | None,
    as_json: bool,
    export_dir: Path | None,
) -> int:
    """Merge the newest upstream stable release into a sync branch and open its pull request."""
    from .commands.sync import run

    return run(
        repo,
        config_path,
        release=release,
        dry_run=dry_run,
        no_push=no_push,
        resume=resume,
        report_path=report_path,
        as_json=as_json,
        export_dir=export_dir,
    )


@main.command()
@repo_option
@config_option
@click.option(
    "--from",
    "source",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder `forksync sync --export` wrote (untrusted: checked, never executed).",
)
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the JSON report here.",
)
@json_option
@handled
def publish(
    repo: Path, config_path: Path | None, source: Path, report_path: Path | None, as_json: bool
) -> int:
    """Push the sync branch another job exported and open its pull request; notify."""
    from .commands.publish import run

    return run(repo, config_path, source, report_path, as_json)


@main.command()
@repo_option
@click.option("--upstream", "upstream_url", default="", help="Upstream git URL to write into the config.")
@click.option("--force", is_flag=True, help="Overwrite existing files.")
@click.option(
    "--action",
    default=None,
    help="forksync's action as OWNER/REPO@<commit> (default: where this forksync was installed from).",
)
@click.option(
    "--token",
    type=click.Choice(["app", "pat", "github-token"]),
    default="app",
    show_default=True,
    help="How the publishing job authenticates (README: GitHub Actions setup).",
)
@click.option(
    "--fleet",
    "fleet_mode",
    is_flag=True,
    help="A control repository: write fleet.toml (if missing) and the fleet workflow instead.",
)
@handled
def init(repo: Path, upstream_url: str, force: bool, action: str | None, token: str, fleet_mode: bool) -> int:
    """Write a commented .forksync.toml and the GitHub Actions workflow."""
    if fleet_mode:
        from .commands.init import run_fleet

        return run_fleet(repo, force, action)
    from .commands.init import run

    return run(repo, upstream_url, force, action, token)


@main.command()
@repo_option
@json_option
@handled
def status(repo: Path, as_json: bool) -> int:
    """Show the state of the last run."""
    from .commands.status import run

    return run(repo, as_json)


@main.command()
@repo_option
@config_option
@click.option(
    "--fork",
    "fork_side",
    type=click.Choice(["ours", "theirs"]),
    default="ours",
    show_default=True,
    help="Which side of the merge in progress carries the fork's customizations.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be resolved.")
@click.option(
    "--agent", "use_agent", is_flag=True, help="Send what the engine leaves open to the configured [agent]."
)
@json_option
@handled
def resolve(
    repo: Path, config_path: Path | None, fork_side: str, dry_run: bool, use_agent: bool, as_json: bool
) -> int:
    """Resolve the conflicts of a merge in progress. Exit 0 when none is left, 1 otherwise."""
    from .commands.resolve import run

    return run(repo, config_path, fork_side, dry_run, as_json, use_agent=use_agent)


@main.command("merge-driver")
@click.argument("base", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("current", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("other", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("path", required=False, default="")
@click.option("--fork", "fork_side", type=click.Choice(["ours", "theirs"]), default="ours", show_default=True)
@handled
def merge_driver(base: Path, current: Path, other: Path, path: str, fork_side: str) -> int:
    """A git merge driver: `forksync merge-driver %O %A %B %P` in .git/config."""
    from .commands.resolve import merge_driver as run

    return run(base, current, other, path, fork_side)


@main.command()
@repo_option
@config_option
@click.option("--limit", type=int, default=50, show_default=True, help="Replay at most this many merges.")
@click.option("--merge", "merges", multiple=True, help="Replay only this merge commit (repeatable).")
@click.option(
    "--calibrate",
    is_flag=True,
    help="Record each rule's measured precision; later resolutions are capped by it.",
)
@click.option(
    "--agent", "use_agent", is_flag=True, help="Send what the engine leaves open to the configured [agent]."
)
@click.option(
    "--budget-usd",
    type=float,
    default=None,
    help="With --agent: the most the whole replay may spend (default: [agent] max-cost-usd).",
)
@json_option
@handled
def backtest(
    repo: Path,
    config_path: Path | None,
    limit: int,
    merges: tuple[str, ...],
    calibrate: bool,
    use_agent: bool,
    budget_usd: float | None,
    as_json: bool,
) -> int:
    """Replay past conflicted merges and compare the engine with what was committed."""
    from .commands.backtest import run

    return run(
        repo,
        config_path,
        limit,
        list(merges),
        as_json,
        calibrate=calibrate,
        use_agent=use_agent,
        budget_usd=budget_usd,
    )


@main.command()
@repo_option
@config_option
@click.option(
    "--against", default=None, help="The pre-merge fork commit to compare with (default: first parent)."
)
@json_option
@handled
def verify(repo: Path, config_path: Path | None, against: str | None, as_json: bool) -> int:
    """Check that the fork's customizations survived the last merge."""
    from .commands.verify import run

    return run(repo, config_path, against, as_json)


@main.group()
def fleet() -> None:
    """Many forks from one control repository (fleet.toml): plan, configure, report."""


fleet_file_option = click.option(
    "--file",
    "fleet_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("fleet.toml"),
    show_default=True,
    help="The fleet file.",
)
state_option = click.option(
    "--state",
    "state_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The fleet's history (fleet-state.json), as `fleet report` writes it.",
)


@fleet.command("plan")
@fleet_file_option
@click.option("--jobs", type=int, default=8, show_default=True, help="git ls-remote calls at once.")
@state_option
@click.option(
    "--chunks", type=int, default=1, show_default=True, help="Matrix jobs in the workflow (256 forks each)."
)
@click.option(
    "--github-output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append due=N and matrix-<i>=JSON lines here (e.g. $GITHUB_OUTPUT).",
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write the plan here."
)
@click.option(
    "--gitlab-pipeline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a GitLab child pipeline (parallel:matrix of the due forks) here.",
)
@handled
def fleet_plan(
    fleet_file: Path,
    jobs: int,
    state_path: Path | None,
    chunks: int,
    github_output: Path | None,
    out: Path | None,
    gitlab_pipeline: Path | None,
) -> int:
    """Print the matrix (JSON) of the forks due for a sync; problems on stderr, one line each."""
    from .commands.fleet import plan

    return plan(fleet_file, jobs, state_path, chunks, github_output, out, gitlab_pipeline)


@fleet.command("config")
@fleet_file_option
@click.option("--fork", "name", required=True, help="The fork's name in the fleet file.")
@repo_option
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write into."
)
@handled
def fleet_config(fleet_file: Path, name: str, repo: Path, out: Path) -> int:
    """Write one fork's effective config (OUT/forksync.toml) and where each key came from."""
    from .commands.fleet import config

    return config(fleet_file, name, repo, out)


@fleet.command("report")
@fleet_file_option
@click.option(
    "--reports",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder holding one folder per fork with its report.json (the downloaded artifacts).",
)
@state_option
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The plan's JSON (its problems are listed).",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Append the Markdown summary here (default: $GITHUB_STEP_SUMMARY when set).",
)
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the fleet's HTML page here.",
)
@click.option("--dashboard", is_flag=True, help="Create or update each fork's dashboard issue.")
@json_option
@handled
def fleet_report(
    fleet_file: Path,
    reports: Path,
    state_path: Path | None,
    plan_path: Path | None,
    summary_path: Path | None,
    html_path: Path | None,
    dashboard: bool,
    as_json: bool,
) -> int:
    """Aggregate the forks' reports: job summary, dashboard issues, HTML page, history."""
    from .commands.fleet import report

    return report(fleet_file, reports, state_path, plan_path, summary_path, html_path, dashboard, as_json)


@main.group()
def features() -> None:
    """The fork's feature manifest."""


@features.command("discover")
@repo_option
@config_option
@click.option("--write", is_flag=True, help="Write the proposal to the manifest file.")
@handled
def features_discover(repo: Path, config_path: Path | None, write: bool) -> int:
    """Propose a feature manifest from the fork's own commits."""
    from .commands.features import discover

    return discover(repo, config_path, write)


if __name__ == "__main__":
    main()

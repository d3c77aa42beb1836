"""The outward half of a sync: push the sync branch, open or update its pull request, notify.

Shared by the single-process `forksync sync` and by `forksync publish`, the privileged job of
the split workflow, which pushes a branch that an unprivileged job built. Nothing here runs
repository code; pushes are never forced.
"""

from __future__ import annotations

import base64
import os
import re
import time
from pathlib import Path

from . import secrets
from .config import Config
from .errors import ExitCode, ForgeError, GitError
from .git import Git, cause, check_ref_name
from .handoff import PUBLISHABLE, Manifest, RefusedError
from .notify.base import EventKind
from .report import PullRequestRecord, Report, StageRecord
from .ui import Progress


def token_push_env(remote_url: str, token_env: str = "") -> dict[str, str]:
    """Git environment that authenticates an HTTPS push with the forge token, as actions/checkout
    does, but through the environment: the token is never in argv nor written to .git/config (so
    the checkout can use `persist-credentials: false`). Empty without a token or for other URLs."""
    names = [token_env] if token_env else ["GITHUB_TOKEN", "GH_TOKEN"]
    token = next((os.environ[n] for n in names if os.environ.get(n)), "")
    if not token or not re.match(r"^https://[^/@\s]+/", remote_url):
        return {}
    secrets.register(token)
    basic = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    secrets.register(basic)
    return {
        "GIT_CONFIG_COUNT": "1",
        "GIT_CONFIG_KEY_0": f"http.{remote_url}.extraheader",
        "GIT_CONFIG_VALUE_0": f"AUTHORIZATION: basic {basic}",
    }


def push_branch(
    git: Git,
    remote: str,
    branch: str,
    source: str,
    progress: Progress,
    env: dict[str, str] | None = None,
    lease: str | None = None,
) -> None:
    """Push ``source`` to ``remote``'s ``branch``; a rejection (someone else's commits) is a
    ForgeError and never answered by forcing. ``lease``: the remote tip a rebuild may replace
    (only forksync's own commits; `--force-with-lease` refuses if anyone pushed since)."""
    if git.run("remote", "get-url", "--", remote, check=False).returncode != 0:
        raise GitError(f"no remote '{remote}' to push {branch} to", hint="add it, or run with --no-push")
    progress.stage("push", f"pushing {branch} to {remote}")
    pusher = Git(git.cwd, env=env) if env else git
    force = [f"--force-with-lease=refs/heads/{branch}:{lease}"] if lease else []
    res = pusher.remote(
        "push", "--quiet", "--porcelain", *force, remote, f"{source}:refs/heads/{branch}", timeout=1800
    )
    if res.returncode != 0:
        text = (res.err + res.out).lower()
        if "rejected" in text or "non-fast-forward" in text or "fetch first" in text:
            raise ForgeError(
                f"{remote}/{branch} has commits this run does not have",
                hint="someone else pushed to the sync branch; forksync never force-pushes",
            )
        raise ForgeError(f"cannot push {branch} to {remote}: {cause(res.err)}")


def rebuild_lease(git: Git, remote: str, branch: str, tip: str, env: dict[str, str] | None) -> str | None:
    """The remote tip that ``tip`` may replace: only when every commit it would drop is forksync's
    own (its trailer), as the exporting run decided; checked here again, never taken from the export."""
    from .lifecycle import people_commits

    private = f"refs/forksync/publish/remote/{branch}"
    fetcher = Git(git.cwd, env=env) if env else git
    res = fetcher.remote(
        "fetch", "--quiet", "--no-tags", remote, f"+refs/heads/{branch}:{private}", timeout=600
    )
    old = git.rev_parse(private) if res.returncode == 0 else None
    if old is None or git.is_ancestor(old, tip):
        return None
    # someone else's commits: no lease, so the push is refused and says so
    return None if people_commits(git, old, tip) else old


def open_pull_request(config: Config, repo: Path, report: Report, version: str, progress: Progress) -> None:
    """Open the sync PR or update the open one; record it (and the forge's warnings) in the report."""
    from .forges import make_forge
    from .forges.base import PullRequestSpec

    r = report
    cfg = config.forge
    forge = make_forge(config, repo)
    draft = cfg.draft or bool(r.unresolved) or bool(r.scan and r.scan.held)
    spec = PullRequestSpec(
        title=r.pr_title,
        body=r.pr_body,
        head=r.sync_branch,
        base=cfg.base or config.fork.branch,
        labels=tuple(r.labels),
        draft=draft,
        reviewers=tuple(cfg.reviewers),
        team_reviewers=tuple(cfg.team_reviewers),
        assignees=tuple(cfg.assignees),
        sync_label=cfg.label_sync,
        version=version,
        comment=f"forksync re-ran this sync ({r.run_id}): recommendation `{r.recommendation}`.",
    )
    result = forge.publish(spec)
    r.warnings.extend(result.warnings)
    pr = result.pull_request
    r.pull_request = PullRequestRecord(
        pr.url, pr.number, result.action, draft, pr.title, [p.url for p in result.superseded]
    )
    progress.stage("pr", f"pull request {result.action}: {pr.url}")


def event_kind(report: Report) -> EventKind:
    """What a notification says about this run."""
    status = report.status
    if status == "up-to-date" or status == "failed" or status == "checks-failed":
        return status
    if status == "conflicts-left":
        return "conflicts"
    if report.pull_request and report.pull_request.action in ("updated", "unchanged"):
        return "pr-updated"
    return "pr-created"


def notify_report(config: Config, report: Report, run_url: str) -> None:
    """Tell Slack / webhooks about the run; a failed notification is recorded, never raised."""
    from .notify.base import Event
    from .notify.registry import make_notifiers, notify_all, problems

    report.warnings.extend(problems(config))
    notifiers = make_notifiers(config)
    if notifiers:
        report.notifications.extend(notify_all(notifiers, Event(event_kind(report), report, run_url)))


# -- `forksync publish --from DIR`: the privileged job of the split workflow ---------------------
INCOMING_REF = "refs/forksync/incoming/"
_EXIT_FOR_STATUS = {
    "up-to-date": ExitCode.OK,
    "synced": ExitCode.OK,
    "conflicts-left": ExitCode.CONFLICTS_LEFT,
    "checks-failed": ExitCode.CHECKS_FAILED,
    "verify-failed": ExitCode.VERIFY_FAILED,
}
# Fetching from the bundle runs no hook (reference-transaction hooks included) and checks every object.
_SAFE_FETCH = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "fetch.fsckObjects=true",
    "-c",
    "transfer.fsckObjects=true",
)


def publish_export(repo: Path, config: Config, directory: Path, progress: Progress, run_url: str) -> Report:
    """Publish what `sync --export` left in ``directory``: everything in it is checked as data
    (handoff) and against git before anything is pushed; the PR body is rendered here."""
    from . import handoff, state

    git = Git(repo)
    top = git.run("rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise GitError(f"{repo} is not a git repository", hint="pass --repo with the fork's checkout")
    git = Git(Path(top.out.strip()))
    manifest, report, bundle = handoff.read_export(directory)
    # Nothing the export says is posted verbatim: title, body, labels and PR record are ours.
    report.pr_title, report.pr_body, report.pull_request = "", "", None
    report.notifications, report.repo, report.worktree = [], str(git.cwd), ""
    recheck_recommendation(report, config)
    if bundle is not None:
        try:
            tip = _import_bundle(git, config, manifest, report, bundle)
            from .render.pr_body import render_body, render_title

            report.pr_title, report.pr_body = render_title(report), render_body(report)
            branch = report.sync_branch
            remote = config.fork.remote
            url = git.run("remote", "get-url", "--", remote, check=False).out.strip()
            started = time.monotonic()
            env = token_push_env(url, config.forge.token_env)
            lease = rebuild_lease(git, remote, branch, tip, env)
            push_branch(git, remote, branch, tip, progress, env=env, lease=lease)
            report.stages.append(StageRecord("push", "done", round(time.monotonic() - started, 3)))
            version = report.release.version if report.release else ""
            started = time.monotonic()
            open_pull_request(config, git.cwd, report, version, progress)
            report.stages.append(StageRecord("pr", "done", round(time.monotonic() - started, 3)))
        except ForgeError as exc:  # the export was sound: say what failed, as a sync would
            report.status, report.exit_code = "failed", exc.exit_code
            report.error = {"kind": exc.kind, "message": str(exc)}
        finally:
            git.run("update-ref", "-d", INCOMING_REF + report.run_id, check=False)
    notify_report(config, report, run_url)
    state.save_report(git.common_dir(), report)
    return report


def _import_bundle(git: Git, config: Config, manifest: Manifest, report: Report, bundle: Path) -> str:
    """Fetch the bundle's one branch into a private ref and check what the report claims:
    the branch is the one this release's sync uses, its tip descends from a commit of the fork's
    branch and from the release commit upstream's tag names right now."""
    rel = report.release
    if rel is None or report.status not in PUBLISHABLE:
        raise RefusedError(f"a run with status {report.status!r} has nothing to publish")
    claims = (manifest.sync_branch, manifest.fork_commit, manifest.release_tag, manifest.release_commit)
    if claims != (report.sync_branch, report.fork_commit, rel.tag, rel.commit):
        raise RefusedError("the manifest and the report disagree")
    if (manifest.fork_branch, report.fork_branch) != (config.fork.branch, config.fork.branch):
        raise RefusedError(
            f"the export was made for branch {report.fork_branch!r}, not {config.fork.branch!r}"
        )
    expected = expected_sync_branch(config, rel.tag, rel.version)
    if report.sync_branch != expected or expected == config.fork.branch:
        raise RefusedError(
            f"the export pushes to {report.sync_branch!r}; the sync of {rel.tag} uses {expected!r}"
        )
    upstream = _upstream_url(git.cwd, config)
    advertised = git.ls_remote_tags(upstream).get(rel.tag)
    if advertised != rel.commit:
        raise RefusedError(
            f"the report says {rel.tag} is {rel.commit[:12]}, upstream says {(advertised or 'no such tag')[:12]}"
        )
    if git.run("bundle", "verify", "--quiet", str(bundle), check=False).returncode != 0:
        raise RefusedError("the bundle does not verify against this repository (git bundle verify)")
    heads = git.out("bundle", "list-heads", str(bundle)).splitlines()
    if heads != [f"{manifest.tip} refs/heads/{report.sync_branch}"]:
        raise RefusedError(
            f"the bundle must hold exactly refs/heads/{report.sync_branch} at the manifest's tip"
        )
    ref = INCOMING_REF + report.run_id if re.match(r"^[\w.-]+$", report.run_id) else ""
    if not ref:
        raise RefusedError("the report's run id is not a plain name")
    res = git.run(
        *_SAFE_FETCH,
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--no-recurse-submodules",
        str(bundle),
        f"refs/heads/{report.sync_branch}:{ref}",
        check=False,
    )
    tip = git.rev_parse(ref)
    if res.returncode != 0 or tip != manifest.tip:
        raise RefusedError(
            f"cannot fetch the bundle's branch: {res.err.splitlines()[-1] if res.err else tip}"
        )
    fork_ref = git.rev_parse(f"refs/remotes/{config.fork.remote}/{config.fork.branch}") or git.rev_parse(
        f"refs/heads/{config.fork.branch}"
    )
    if fork_ref is None:
        raise GitError(
            f"fork branch '{config.fork.branch}' not found", hint="check out the fork with fetch-depth: 0"
        )
    if not git.is_ancestor(report.fork_commit, fork_ref):
        raise RefusedError(
            f"the report's fork commit {report.fork_commit[:12]} is not on {config.fork.branch}"
        )
    if not git.is_ancestor(report.fork_commit, tip):
        raise RefusedError(f"the bundle's tip does not descend from {config.fork.branch}")
    if not git.is_ancestor(rel.commit, tip):
        raise RefusedError(f"the bundle's tip does not contain the release commit of {rel.tag}")
    if report.merge_commit and not git.is_ancestor(report.merge_commit, tip):
        raise RefusedError("the bundle's tip does not contain the report's merge commit")
    return ref


def expected_sync_branch(config: Config, tag: str, version: str) -> str:
    """The sync branch a sync of ``tag`` uses (as the pipeline names it)."""
    from .releases import parse_version, tag_version, version_text

    known = {str(v) for v in (tag_version(tag, config), parse_version(version_text(tag))) if v is not None}
    if version not in known:
        raise RefusedError(f"the report's version {version!r} is not the version of {tag}")
    return check_ref_name(config.fork.sync_branch.format(version=f"v{version}", tag=tag), "sync branch")


def _upstream_url(repo: Path, config: Config) -> str:
    from .releases import configured_upstream_url

    url = configured_upstream_url(Git(repo), repo, config)
    secrets.strip_credentials(url)  # registers user:token for redaction, as a sync does
    return url


def recheck_recommendation(report: Report, config: Config) -> None:
    """`ready` only if the export's own data bears it out; labels always from the config."""
    from .verdict import recommend

    claimed = report.recommendation
    report.recommendation, report.reasons = recommend(report, config)  # the one definition of ready
    if claimed == "ready" and report.recommendation != "ready":
        report.reasons.append("the exported recommendation contradicts the export's own data")
    if report.status in _EXIT_FOR_STATUS:
        report.exit_code = _EXIT_FOR_STATUS[report.status]
    elif report.status == "failed" and not report.exit_code:
        report.exit_code = ExitCode.INTERNAL
    cfg = config.forge
    ready = report.recommendation == "ready"
    report.labels = [cfg.label_sync, cfg.label_ready if ready else cfg.label_review, *cfg.extra_labels]

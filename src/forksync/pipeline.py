"""The sync pipeline, top to bottom: detect → fetch → scan → branch → merge → resolve → version →
commit → checks → verify → recommend → push → pull request → notify.

Each stage is a method that records itself in the report (saved after every stage). All
work happens in a separate worktree under the git directory: the user's checkout, index,
stash and the fork's production branch are never written. The merge is always a real
two-parent merge of the exact release tag (LESSONS 1–3), and a conflict is never a dead
end: by default what is left is committed with markers and handed to a reviewer.
"""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from packaging.version import Version

from . import checks as checks_mod
from . import guard, lifecycle, mergetree, sandbox, signals, state, versioning
from . import releases as releases_mod
from .config import Config
from .errors import ConfigError, ExitCode, ForgeError, ForksyncError, GitError, UpstreamError
from .forked import Forked
from .git import Git, cause, check_ref_name
from .lifecycle import Action
from .report import (
    AgentChange,
    CheckRecord,
    ConflictRecord,
    Finding,
    HunkRecord,
    ReleaseInfo,
    Report,
    StageRecord,
    VersionUpdate,
)
from .resolve.conflicts import has_markers
from .resolve.model import Context, FileResult, Versions
from .secrets import redact, strip_credentials
from .ui import Progress

if TYPE_CHECKING:
    from .llm.agent import Agent

BOT_NAME = "forksync[bot]"
BOT_EMAIL = lifecycle.BOT_EMAIL
UPSTREAM_REF_PREFIX = "refs/forksync/upstream/"
T = TypeVar("T")
ZERO_SHA = "0" * 40
VERIFY_TASK = "forksync verify"
WORKTREE_PREFIX = "forksync-wt-"
GUARDED_STAGES = ("checks", "verify", "repair")  # stages that may run repository code


@dataclass
class SyncOptions:
    release: str | None = None
    dry_run: bool = False
    no_push: bool = False
    resume: bool = False
    run_url: str = ""
    export_dir: Path | None = None  # `--export DIR`: push nothing; `forksync publish` takes it from there


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sync:
    """One run. ``run()`` returns the final report; it never raises for expected failures."""

    def __init__(self, repo: Path, config: Config, options: SyncOptions, progress: Progress) -> None:
        from . import secrets

        secrets.register_config(config)  # every secret known before anything can print one
        secrets.register_checkout(repo)
        self.git = Git(repo)
        top = self.git.run("rev-parse", "--show-toplevel", check=False)
        if top.returncode != 0:
            raise GitError(f"{repo} is not a git repository", hint="pass --repo with the fork's checkout")
        self.repo = Path(top.out.strip())
        self.git = Git(self.repo)
        self.common = self.git.common_dir()
        self.config = config
        self.opts = options
        self.ui = progress
        self.worktree: Path | None = None
        self.wt: Git | None = None
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:6]
        self.report = Report(
            run_id=run_id,
            started_at=_now(),
            repo=str(self.repo),
            fork_branch=config.fork.branch,
            upstream_url="",
            dry_run=options.dry_run,
            config_sources=dict(config.sources),
        )

    # -- driver ---------------------------------------------------------------------
    def run(self) -> Report:
        notes: list[str] = []
        with signals.interruptible(), state.locked(self.common, notes):
            self.report.warnings.extend(notes)
            self._previous = state.load_last(self.common)  # before this run's report replaces it
            state.save_report(self.common, self.report)
            self._sweep_worktrees()
            try:
                with sandbox.using(self._sandbox_policy()):
                    if checks_mod.check_list(self.config):  # refuse before merging, not after
                        sandbox.preflight(self.common)
                    self._pipeline()
            except ForksyncError as exc:
                self.report.status = "failed"
                self.report.exit_code = exc.exit_code
                self.report.error = {"kind": exc.kind, "message": redact(str(exc))}
                self._rollback()
            except signals.Interrupted as exc:
                self._interrupted(exc)
            finally:
                with signals.deferred():
                    self._cleanup()
                    self.report.finished_at = _now()
                    state.save_report(self.common, self.report)
        if self.report.status == "failed" or (self.report.exit_code and self.report.status != "interrupted"):
            self._notify_safely()
        return self.report

    def _sandbox_policy(self) -> sandbox.Policy:
        sec = self.config.security
        return sandbox.Policy(sec.sandbox, sec.sandbox_network, sec.allow_unsandboxed)

    def _interrupted(self, exc: signals.Interrupted) -> None:
        """A signal stopped the run: say where, so that `--resume` can finish it."""
        stage = getattr(self, "_current_stage", None) or "start"
        self.report.stages.append(StageRecord(stage, "interrupted", 0.0, exc.name))
        self.report.status = "interrupted"
        self.report.exit_code = exc.exit_code
        self.report.error = {"kind": "interrupted", "message": f"{exc} during stage {stage}"}

    def _pipeline(self) -> None:
        from . import gate

        gate.check(self.config.security)
        if self.opts.resume and not self.opts.release:
            self._resume_target()
        release = self._stage("detect", self.detect)
        if release is None:
            self.report.status = "up-to-date"
            self._notify_safely()
            return
        self._stage("precheck", self.precheck)
        self._stage("fetch", self.fetch)
        self._stage("scan", self.scan)  # before anything from the release runs
        self._stage("branch", self.branch)
        if self.plan.action is Action.STOP:
            self.report.status = "stopped"
            self.report.warnings.append(self.plan.why)
            self.ui.stage("branch", self.plan.why)
            return
        conflicted = self._stage("merge", self.merge)
        results = self._stage("resolve", lambda: self.resolve(conflicted)) if conflicted else []
        left = [r for r in results if r.outcome != "resolved"]
        if left and self.config.resolve.on_conflict == "stop":
            self.report.status = "conflicts-left"
            self.report.exit_code = ExitCode.CONFLICTS_LEFT
            self.report.reasons.append(
                f'{len(left)} conflicted file(s) left; on-conflict = "stop": nothing committed'
            )
            self.report.pr_title, self.report.pr_body = self._render()
            self._rollback()
            self._stage("notify", self._notify_safely)
            return
        self._stage("version", self.set_version)
        self._stage("commit", lambda: self.commit(left))
        self._stage("checks", self.run_checks)
        self._stage("verify", self.verify)
        self._stage("repair", self.repair)
        self._recommend()
        self.report.pr_title, self.report.pr_body = self._render()
        if self.opts.dry_run:
            self._final_status()
            self.report.status = "dry-run"
            self._mark("push", "skipped", "dry run")
            return
        if self.opts.export_dir is not None:
            self._mark("push", "skipped", "exported for `forksync publish`")
        elif self.opts.no_push:
            self._mark("push", "skipped", "--no-push")
        else:
            self._stage("push", self.push)
            self._stage("pr", self.publish)
        self._final_status()
        self._stage("notify", self._notify_safely)

    def _resume_target(self) -> None:
        """--resume: finish the last interrupted run's release, not whatever is newest now."""
        last = getattr(self, "_previous", None)
        if last is None or last.status not in ("running", "interrupted") or last.release is None:
            self.report.warnings.append("nothing to resume: the last run finished; running a normal sync")
            return
        self.opts.release = last.release.tag
        done = ", ".join(s.name for s in last.stages if s.status == "done")
        self.report.warnings.append(
            f"resuming run {last.run_id} for {last.release.tag} (done: {done or 'nothing'})"
        )

    def _stage(self, name: str, fn: Callable[[], T]) -> T:
        start = time.monotonic()
        if os.environ.get("FORKSYNC_FAIL_AT") == name:  # fault injection for the crash tests
            raise ForksyncError(f"injected failure at stage {name}")
        if os.environ.get("FORKSYNC_KILL_AT") == name:
            os._exit(137)
        self._current_stage = name
        try:
            result = fn()
            if name in GUARDED_STAGES:
                self._check_untouched()
        except ForksyncError:
            self.report.stages.append(StageRecord(name, "failed", round(time.monotonic() - start, 3)))
            raise
        self.report.stages.append(StageRecord(name, "done", round(time.monotonic() - start, 3)))
        state.save_report(self.common, self.report)
        return result

    def _mark(self, name: str, status: str, note: str) -> None:
        self.report.stages.append(StageRecord(name, status, 0.0, note))

    # -- detect -----------------------------------------------------------------------
    def upstream_url(self) -> str:
        """The URL git fetches from; credentials in it are registered as secrets here, and only
        `strip_credentials(url)` is ever stored (report, merge message, last.json)."""
        url = self._upstream_url()
        strip_credentials(url)  # registers user:token for redaction
        return url

    def _upstream_url(self) -> str:
        return releases_mod.configured_upstream_url(self.git, self.repo, self.config)

    def fork_commit(self) -> str:
        branch = check_ref_name(self.config.fork.branch, "fork branch")
        sha = self.git.rev_parse(f"refs/heads/{branch}") or self.git.rev_parse(
            f"refs/remotes/{self.config.fork.remote}/{branch}"
        )
        if sha is None:
            raise GitError(
                f"fork branch '{branch}' not found", hint="set [fork] branch to the production branch"
            )
        return sha

    def detect(self) -> releases_mod.Release | None:
        url = self.upstream_url()
        self.report.upstream_url = strip_credentials(url)
        fork = self.fork_commit()
        self.report.fork_commit = fork
        self._check_checkout()
        remote = self.config.fork.remote
        if (
            not (self.opts.no_push or self.opts.dry_run)
            and self.git.run("remote", "get-url", "--", remote, check=False).returncode != 0
        ):
            raise GitError(
                f"no remote '{remote}' to push the sync branch to",
                hint="add it, set [fork] remote, or run with --no-push",
            )
        self.ui.stage("detect", f"listing upstream tags of {url}")
        releases, tags = releases_mod.detect(self.git, self.config, url)
        self.version_plan = self._version_plan(fork)
        if self.version_plan.note:  # said up front, before anything is merged
            hint = f"; set [version] {self.version_plan.hint}" if self.version_plan.hint else ""
            self.report.warnings.append(self.version_plan.note + hint)
        current, source = self._current_version(releases, fork)
        self.report.fork_version, self.report.fork_version_source = (
            (str(current) if current else None),
            source,
        )
        if self.opts.release:
            tag = check_ref_name(self.opts.release, "release tag")
            if tag not in tags:
                raise UpstreamError(
                    f"release tag '{tag}' not found upstream", hint="pick one from `git ls-remote --tags`"
                )
            version = releases_mod.parse_version(releases_mod.version_text(tag))
            if version is None:
                raise UpstreamError(f"cannot read a version from tag '{tag}'")
            target = next(
                (r for r in releases if r.tag == tag), releases_mod.Release(tag, version, tags[tag])
            )
        else:
            target = releases[0]
            if current is not None and target.version <= current:
                self.ui.stage(
                    "detect", f"up to date: fork is at {current}, newest upstream stable is {target.tag}"
                )
                self.report.release = self._info(target)
                return None
        self.report.release = self._info(target)
        self.releases = releases  # "also includes" is decided by ancestry after the fetch (`measure`)
        stable = {r.tag for r in releases}
        newer = []
        for tag in tags:
            v = releases_mod.loose_version(tag)
            if tag not in stable and v is not None and (current is None or v > current):
                newer.append((v, tag))
        self.report.ignored_tags = [t for _, t in sorted(newer, reverse=True)[:20]]
        self.ui.stage("detect", f"fork at {current or 'unknown'} ({source}); syncing {target.tag}")
        self.target = target
        return target

    def _info(self, r: releases_mod.Release) -> ReleaseInfo:
        from .forges.urls import release_url

        return ReleaseInfo(
            r.tag,
            r.version_str,
            r.commit,
            r.url or release_url(self.report.upstream_url, r.tag),
            r.notes,
            r.published_at,
        )

    def _current_version(self, releases: list[releases_mod.Release], fork: str) -> tuple[Version | None, str]:
        """The last release merged into the fork (by ancestry), else the version file."""
        for rel in releases:
            if self.git.has_object(rel.commit) and self.git.is_ancestor(rel.commit, fork):
                return rel.version, f"last merged release {rel.tag}"
        file = self.version_plan.file or self.config.version.file
        text = self.git.show_file(fork, file)
        if text is not None:
            value = versioning.read_version_text(text.decode("utf-8", "replace"), file)
            parsed = releases_mod.parse_version(value or "")
            if parsed is not None:
                newest = releases[0].version if releases else None
                if newest is not None and parsed > newest:
                    # LESSONS 18: a version ahead of every stable release must not block detection.
                    self.report.warnings.append(
                        f"{self.config.version.file} says {parsed}, ahead of the newest stable release {newest}; "
                        "ignored (no merged release found in history)"
                    )
                    return None, f"{self.config.version.file} (ignored: ahead of upstream)"
                return parsed, self.config.version.file
        return None, "unknown"

    def _version_plan(self, commit: str) -> versioning.VersionPlan:
        """Which file holds the fork's version at ``commit`` (a dynamic pyproject is followed)."""

        def read(path: str) -> str | None:
            data = self.git.show_file(commit, path)
            return data.decode("utf-8", "replace") if data is not None else None

        return versioning.plan_version(self.config.version.file, self.config.version.update, read)

    def _check_checkout(self) -> None:
        """A real sync refuses a dirty checkout of the production branch (its changes would be
        missing from the sync); a dry run or `check` reads history only and never minds."""
        if self.opts.dry_run:
            return
        if self.git.current_branch() == self.config.fork.branch and self.git.is_dirty():
            raise GitError(
                f"the checkout of '{self.config.fork.branch}' has uncommitted changes",
                hint="commit or stash them: forksync syncs committed history only",
            )

    # -- fetch, branch, merge -------------------------------------------------------
    def fetch(self) -> None:
        if self.git.out("rev-parse", "--is-shallow-repository") == "true":
            raise GitError(
                "the fork's clone is shallow; the merge needs its history",
                hint="clone with full history (actions/checkout: fetch-depth: 0)",
            )
        tag = self.target.tag
        ref = UPSTREAM_REF_PREFIX + tag
        self.ui.stage("fetch", f"fetching {tag} from upstream")
        res = self.git.remote(
            "fetch",
            "--no-tags",
            "--quiet",
            "--",
            self.upstream_url(),
            f"+refs/tags/{tag}:{ref}",
            timeout=1800,
        )
        if res.returncode != 0:
            raise UpstreamError(f"cannot fetch {tag} from upstream: {cause(res.err)}")
        commit = self.git.rev_parse(ref)
        if commit is None:
            raise UpstreamError(f"fetched {tag} but it does not point to a commit")
        if self.target.commit and commit != self.target.commit:
            raise UpstreamError(
                f"upstream tag {tag} moved while syncing ({self.target.commit[:10]} → {commit[:10]})"
            )
        self.upstream_commit = commit
        self.report.release = (
            ReleaseInfo(**{**self.report.release.__dict__, "commit": commit}) if self.report.release else None
        )
        self.measure(commit)

    def measure(self, commit: str) -> None:
        """What the merge brings, from the actual merge base of the fork's tip and the release:
        the commits (fork..release), the releases among them ("also includes") and the compare
        link. Needs the release's objects (after `fetch`)."""
        fork = self.report.fork_commit
        self.base_commit = self.git.merge_base(fork, commit)
        brought = set(self.git.out("rev-list", f"{fork}..{commit}").split())
        self.report.upstream_commits = len(brought)
        log = self.git.out("log", "--no-merges", "--format=%h %s", "-n", "20", f"{fork}..{commit}")
        self.report.top_commits = [line for line in log.splitlines() if line]
        if self.base_commit:
            stat = self.git.out("diff", "--name-only", "--no-renames", self.base_commit, commit)
            files = [f for f in stat.splitlines() if f]
            self.report.files_changed = len(files)
            self.report.top_files = files[:30]
        releases: list[releases_mod.Release] = getattr(self, "releases", [])
        current = releases_mod.parse_version(self.report.fork_version or "")
        self.report.skipped_releases = [
            self._info(r) for r in releases_mod.included_releases(releases, self.target, current, brought)
        ]
        from .forges.urls import compare_url

        previous = next((r for r in releases if r.tag == self._previous_tag()), None)
        start = releases_mod.compare_from(self.base_commit, previous) if self.base_commit else ""
        self.report.compare_from = start
        self.report.compare_url = (
            compare_url(self.report.upstream_url, start, self.target.tag) if start else ""
        )

    def _previous_tag(self) -> str | None:
        version = self.report.fork_version
        if not version:
            return None
        src = self.report.fork_version_source
        if src.startswith("last merged release "):
            return src.removeprefix("last merged release ")
        return None

    def _sync_branch_name(self) -> str:
        version = self.target.version_str
        name = self.config.fork.sync_branch.format(version=f"v{version}", tag=self.target.tag)
        return check_ref_name(name, "sync branch")

    def precheck(self) -> None:
        """Before anything is fetched or pushed: the version file is readable and, when the run
        will push, the forge token is present and accepted. The same call tells whether the sync
        branch's pull request was merged or closed by a person (see `lifecycle`)."""
        self.pr_state: lifecycle.PrState = "none"
        self.pr_ref = "the pull request"
        plan = getattr(self, "version_plan", None) or self._version_plan(self.report.fork_commit)
        if self.config.version.update and plan.file is not None:  # None: a version from git tags
            data = self.git.show_file(self.report.fork_commit, plan.file)
            if data is None:
                raise GitError(
                    f"version file {plan.file} not found in the fork",
                    hint="set [version] file, or update = false",
                )
            if versioning.read_version_text(data.decode("utf-8", "replace"), plan.file) is None:
                raise GitError(
                    f"no version found in {plan.file}", hint="set [version] file, or update = false"
                )
        if self.opts.dry_run or self.opts.no_push:
            return
        from .forges import make_forge

        try:
            forge = make_forge(self.config, self.repo)
            name = self._sync_branch_name()
            pr = forge.pull_request_for(name)
            # Older open sync PRs of the same production branch (newest first): a person's work
            # there is carried on by this release's branch (`_carry_candidate`).
            synced = forge.find_open_sync_prs(self.config.forge.label_sync)
        except (ConfigError, ForgeError) as exc:
            if self.opts.export_dir is None:
                raise
            # The export job holds no write token (and may hold none at all): the publishing job
            # checks its own token; here the pull request's state is simply not known.
            self.report.warnings.append(f"pull request state not read in the export job: {exc}")
            return
        heads, base = {p.head for p in synced}, self.config.forge.base or self.config.fork.branch
        self.older_heads = [
            p.head for p in reversed(synced) if p.head != name and (p.base == base or p.base in heads)
        ]
        if pr is not None:
            self.pr_state = "merged" if pr.state == "merged" else "closed" if pr.state == "closed" else "open"
            self.pr_ref = f"pull request {pr.url or pr.number}"

    def branch(self) -> None:
        """Name the sync branch and decide, from the branch, its pull request and the production
        branch, where this run starts (the lifecycle table in the README): never rewinding
        anyone's commits, rebuilding only a branch that holds forksync's own."""
        name = self._sync_branch_name()
        self.report.sync_branch = name
        self.branch_ref = f"refs/heads/{name}"
        remote_has = self._fetch_remote_branch(name)
        local = self.git.rev_parse(self.branch_ref)
        fork = self.report.fork_commit
        if local and remote_has and not self.opts.dry_run and not self.git.is_ancestor(remote_has, local):
            # A local branch of forksync's own commits only (an older run here) follows the remote.
            if not self.git.is_ancestor(local, remote_has) and self._people_commits(local, fork):
                raise GitError(
                    f"local and remote '{name}' have diverged",
                    hint="delete one of them; forksync never force-pushes",
                )
            self.git.run("update-ref", self.branch_ref, remote_has, local)
            local = remote_has
        tip = local or remote_has
        facts = self._branch_facts(tip, fork)
        carried = self._carry_candidate(fork) if tip is None else None
        if carried is not None:
            facts = replace(facts, carry_from=carried[0])
            tip = None
        self.plan = lifecycle.decide(facts, getattr(self, "pr_state", "none"), getattr(self, "pr_ref", ""))
        rebuild = self.plan.action in (Action.CREATE, Action.REBUILD, Action.STOP)
        if self.plan.action is Action.CARRY and carried is not None:
            tip = carried[1]
        start = fork if rebuild or tip is None else tip
        if start != fork:  # the merge's own base, for the resolvers
            self.base_commit = self.git.merge_base(start, self.upstream_commit)
        self.branch_old = None if self.opts.dry_run else local
        self.push_lease = remote_has if self.plan.lease and remote_has and remote_has != start else None
        self.start_commit = start
        self.fork_before = start  # what verification compares with; see _settle_fork_before
        self.report.lifecycle = self.plan.why
        self.ui.stage(
            "branch", f"{'(dry run) ' if self.opts.dry_run else ''}{name} from {start[:10]}: {self.plan.why}"
        )

    def _carry_candidate(self, fork: str) -> tuple[str, str] | None:
        """An older open sync branch holding people's commits and no conflict markers: a newer
        release starts from it, so that superseding its PR does not drop their work."""
        for head in getattr(self, "older_heads", []):
            sha = self._fetch_remote_branch(check_ref_name(head, "sync branch"))
            if (
                sha is None
                or self.git.is_ancestor(self.upstream_commit, sha)
                or not self._people_commits(sha, fork)
            ):
                continue
            grep = self.git.run("grep", "-l", "-I", "-e", "^<<<<<<< ", sha, check=False).out
            paths = [line.split(":", 1)[1] for line in grep.splitlines() if ":" in line]
            if not any(has_markers(self.git.show_file(sha, p) or b"") for p in paths):
                return head, sha
        return None

    def _branch_facts(self, tip: str | None, fork: str) -> lifecycle.BranchFacts:
        if tip is None:
            return lifecycle.BranchFacts()
        return lifecycle.BranchFacts(
            exists=True,
            has_release=self.git.is_ancestor(self.upstream_commit, tip),
            people_commits=len(self._people_commits(tip, fork)),
            main_moved=not self.git.is_ancestor(fork, tip),
        )

    def _people_commits(self, tip: str, fork: str) -> list[str]:
        """Commits on the sync branch that neither the fork, the release nor forksync made."""
        return lifecycle.people_commits(self.git, tip, fork, self.upstream_commit)

    def _trailer(self, message: str) -> str:
        """forksync's mark on its own commits: a branch of only these may be rebuilt."""
        return f"{message.rstrip()}\n\n{lifecycle.TRAILER}: {self.report.run_id}\n"

    def _fetch_remote_branch(self, name: str) -> str | None:
        exporting = self.opts.export_dir is not None
        if (self.opts.no_push and not exporting) or self.opts.dry_run:
            return None
        remote = self.config.fork.remote
        if self.git.run("remote", "get-url", "--", remote, check=False).returncode != 0:
            return None
        tracking = f"refs/remotes/{remote}/{name}"
        res = self.git.remote(
            "fetch", "--quiet", "--no-tags", "--prune", remote, f"+refs/heads/{name}:{tracking}", timeout=600
        )
        if res.returncode != 0:
            if "couldn't find remote ref" in res.err:
                return None  # no such branch on the remote (yet)
            if not exporting:
                raise GitError(f"cannot read {name} from {remote}: {cause(res.err)}")
            # An export continues the published sync branch, so that `forksync publish` fast-forwards
            # it; without credentials to fetch, the copy the checkout already has (fetch-depth: 0) serves.
        return self.git.rev_parse(tracking)

    def _identity_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if not (
            os.environ.get("GIT_AUTHOR_NAME") or self.git.run("config", "user.name", check=False).out.strip()
        ):
            env.update(GIT_AUTHOR_NAME=BOT_NAME, GIT_COMMITTER_NAME=BOT_NAME)
        if not (
            os.environ.get("GIT_AUTHOR_EMAIL")
            or self.git.run("config", "user.email", check=False).out.strip()
        ):
            env.update(GIT_AUTHOR_EMAIL=BOT_EMAIL, GIT_COMMITTER_EMAIL=BOT_EMAIL)
        return env

    def merge(self) -> bool:
        """Merge the release with git's own machinery, on objects only; True when it conflicts.
        A branch that already holds the release is taken as it is (a person's resolution
        included) and its verdict recomputed from its tip; main is merged in when it moved."""
        start = self.start_commit
        self.already_merged = self.git.is_ancestor(self.upstream_commit, start)
        if self.already_merged:
            self._adopt_tip(start)
            if self.plan.action is Action.MERGE_MAIN:
                self._merge_main()
            self.tree_merge = mergetree.TreeMerge(
                self.git.out("rev-parse", f"{self.start_commit}^{{tree}}"), True
            )
            return False
        self.ui.stage("merge", f"merging {self.target.tag} ({self.report.upstream_commits} upstream commits)")
        self.tree_merge = mergetree.merge_tree(self.git, start, self.upstream_commit)
        return not self.tree_merge.clean

    def _find_sync_merge(self, tip: str) -> list[str] | None:
        """The merge that brought the release into the branch: [merge, fork parent, release]."""
        log = self.git.out("rev-list", "--merges", "--parents", tip, f"^{self.upstream_commit}")
        for line in log.splitlines():
            shas = line.split()
            if len(shas) >= 3 and self.upstream_commit in shas[2:]:
                return shas
        return None

    def _adopt_tip(self, tip: str) -> None:
        """The verdict of a branch that already holds the release, from its tip and nothing else:
        the files of the sync merge that still hold markers are open; those a person resolved
        are recorded as theirs; verification compares the tip with the fork (`verify`)."""
        found = self._find_sync_merge(tip)
        if found is None:  # merged some other way (a fast-forward, or a person's own merge)
            self.report.merge_commit = tip
            self.report.merge_parents = self.git.out("rev-list", "--parents", "-n", "1", tip).split()[1:]
            self.report.warnings.append(f"{self.target.tag} is already merged into {self.report.sync_branch}")
            return
        merge, fork_parent = found[0], found[1]
        self.report.merge_commit, self.report.merge_parents = merge, found[1:]
        self.fork_before = fork_parent
        previous = state.find_report_for_branch(self.common, self.report.sync_branch)
        if previous is not None and previous.merge_commit == merge and previous.conflicts:
            records = previous.conflicts
        else:  # another machine's run (CI): what the merge itself says
            conflicted = sorted(mergetree.merge_tree(self.git, fork_parent, self.upstream_commit).entries)
            records = [self._record_from_commit(merge, path) for path in conflicted]
        markers = {r.path: has_markers(self.git.show_file(tip, r.path) or b"") for r in records}
        still_open = set(lifecycle.open_conflicts([r.path for r in records], markers))
        self.report.conflicts = [self._at_tip(r, r.path in still_open, merge, tip) for r in records]

    def _at_tip(self, r: ConflictRecord, still_open: bool, merge: str, tip: str) -> ConflictRecord:
        """A conflict record as the tip has it: open exactly when the file there holds markers."""
        if still_open:
            return (
                r
                if r.outcome != "resolved"
                else replace(r, outcome="unresolved", reason="markers at the tip")
            )
        return r if r.outcome == "resolved" else self._resolved_by_person(r, merge, tip)

    def _record_from_commit(self, merge: str, path: str) -> ConflictRecord:
        if has_markers(self.git.show_file(merge, path) or b""):
            return ConflictRecord(
                path, "content", "unresolved", "none", "left for review by an earlier run", []
            )
        return ConflictRecord(
            path, "content", "resolved", "earlier run", "resolved by an earlier forksync run", []
        )

    def _resolved_by_person(self, r: ConflictRecord, merge: str, tip: str) -> ConflictRecord:
        who = self.git.out("log", "-n", "1", "--format=%an%x1f%h", f"{merge}..{tip}", "--", r.path)
        name, _, sha = who.partition("\x1f")
        reason = f"resolved on the sync branch by {name or 'a person'}" + (f" in {sha}" if sha else "")
        hunks = [replace(h, outcome="resolved", rule="person", reason=reason) for h in r.hunks]
        return replace(r, outcome="resolved", rule="person", reason=reason, hunks=hunks)

    def _merge_main(self) -> None:
        """Main moved and the branch holds people's commits: merge main in (never rebase)."""
        fork, branch = self.report.fork_commit, self.config.fork.branch
        merged = mergetree.merge_tree(self.git, self.start_commit, fork)
        if not merged.clean:
            paths = ", ".join(sorted(merged.entries)[:5])
            self.report.reasons.append(
                f"{branch} moved to {fork[:10]} but merging it into {self.report.sync_branch} conflicts "
                f"({paths}): merge {branch} into the branch by hand"
            )
            return
        message = self._trailer(
            f"Merge {branch} ({fork[:10]}) into {self.report.sync_branch}\n\n"
            "The production branch moved after the sync; the sync branch holds people's commits, so it "
            "is merged, never rebuilt."
        )
        self.start_commit = mergetree.commit_tree(
            self.git, merged.tree, [self.start_commit, fork], message, self._identity_env()
        )
        self.ui.stage("merge", f"merged {branch} ({fork[:10]}) into {self.report.sync_branch}")

    # -- resolve ----------------------------------------------------------------------
    def context(self) -> Context:
        new = self._version_value()[0]
        return Context(
            repo=self.repo,
            git=self.git,
            config=self.config,
            fork_commit=self.start_commit,
            upstream_commit=self.upstream_commit,
            base_commit=self.base_commit,
            upstream_version=self.target.tag,
            new_version=new,
        )

    def resolve(self, conflicted: bool) -> list[FileResult]:
        from .resolve import engine

        ctx = self.context()
        versions, missing = engine.versions_from_stages(self.git, self.tree_merge.entries)
        self.missing_blobs = missing
        self.ui.stage("resolve", f"{len(versions)} conflicted file(s)")
        results = engine.resolve_all(ctx, versions)
        results = [self._with_git_message(r) for r in results]
        results += [
            FileResult(
                path,
                "missing-blob",
                "unresolved",
                "none",
                "a version of this file is not in the repository (partial clone?): left for review",
                None,
                write=False,
            )
            for path in missing
        ]
        left = [r for r in results if r.outcome != "resolved"]
        agent_files: set[str] = set()
        if left and self.config.agent.provider != "none":
            results, agent_files = self._agent_resolve(ctx, versions, results)
        self.results = results
        self.versions = {v.path: v for v in versions}
        self.report.conflicts = [self._record(r, r.path in agent_files) for r in results]
        done = sum(1 for r in results if r.outcome == "resolved")
        self.ui.stage("resolve", f"resolved {done} of {len(results)}; {len(results) - done} left for review")
        return results

    def _with_git_message(self, r: FileResult) -> FileResult:
        """Give git's own account (rename/delete, modify/delete…) to files nothing resolved."""
        msgs = self.tree_merge.messages.get(r.path)
        if r.outcome == "resolved" or not msgs or r.hunks:
            return r
        return replace(r, reason=f"{r.reason}; git: {msgs[0]}")

    def _agent_resolve(
        self, ctx: Context, versions: list[Versions], results: list[FileResult]
    ) -> tuple[list[FileResult], set[str]]:
        from .llm.agent import make_agent

        agent = make_agent(self.config, state.state_dir(self.common) / "artifacts" / self.report.run_id)
        if agent is None:
            return results, set()
        before = {r.path: r.outcome for r in results}
        try:
            new_results: list[FileResult] = list(agent.resolve_remaining(ctx, versions, results))
        finally:
            self.report.llm_calls.extend(agent.calls)
            self._agent_notes(agent)
        changed = {
            r.path
            for r in new_results
            if any(h.rule.startswith("agent") for h in r.hunks)
            or (r.rule.startswith("agent") and before.get(r.path) != r.outcome)
        }
        self._agent = agent
        return new_results, changed

    def _agent_notes(self, agent: Agent) -> None:
        """The agent's own notes (budget reached, hunks it declined) belong in the report, once."""
        notes = list(agent.warnings)
        if agent.exhausted:
            notes.append(f"LLM budget reached: {agent.exhausted}")
        for note in notes:
            if note not in self.report.warnings:
                self.report.warnings.append(note)
        if agent.exhausted and "LLM budget reached" not in " ".join(self.report.reasons):
            self.report.reasons.append("LLM budget reached before the agent finished")

    @staticmethod
    def _record(r: FileResult, by_agent: bool) -> ConflictRecord:
        return ConflictRecord(
            r.path,
            r.kind,
            r.outcome,
            r.rule,
            r.reason,
            [
                HunkRecord(
                    h.index,
                    h.fork_start,
                    h.fork_lines,
                    h.upstream_lines,
                    h.outcome,
                    h.rule,
                    h.confidence,
                    h.reason,
                    by_agent=h.rule.startswith("agent"),
                )
                for h in r.hunks
            ],
            list(r.details),
            agent_edits=r.agent_edits,
        )

    # -- version, commit ----------------------------------------------------------------
    def _entries_for_results(self, index: mergetree.TempIndex) -> None:
        """Write every resolution, and for each path left for review what `mergetree.review_entry`
        decides (markers wherever the path can hold them, else the fork's state), recording in the
        report what was committed there and what the other side did."""
        blobs: list[tuple[str, str, bytes]] = []  # (mode, path, content)
        removals: list[tuple[str, str, str]] = []
        keep: list[tuple[str, str, str]] = []
        records = {c.path: c for c in self.report.conflicts}
        for res in getattr(self, "results", []):
            stages = self.tree_merge.entries.get(res.path, {})
            v = self.versions.get(res.path)
            if v is not None and res.outcome == "resolved":
                mode = v.fork_mode or v.upstream_mode or "100644"
                if res.content is None:
                    removals.append(("0", "", res.path))
                elif mode == "160000":
                    keep.append((mode, res.content.decode().strip(), res.path))
                else:
                    blobs.append((mode, res.path, res.content))
                continue
            marked = res.content if res.content is not None and has_markers(res.content) else None
            if marked is None and v is not None and v.kind in ("content", "add/add"):
                from .resolve.conflicts import merge_file

                doc = merge_file(v.base or b"", v.fork or b"", v.upstream or b"", labels=self._labels())
                marked = doc.render().encode("utf-8", "surrogateescape")
            said = [m for m in self.tree_merge.messages.get(res.path, []) if m.startswith("CONFLICT")]
            entry = mergetree.review_entry(stages, v, marked, self._labels(), said[0] if said else "")
            if entry.content is not None:
                blobs.append((entry.mode, res.path, entry.content))
            elif entry.sha:
                keep.append((entry.mode, entry.sha, res.path))
            else:
                removals.append(("0", "", res.path))
            if res.path in records:
                records[res.path].committed, records[res.path].committed_note = entry.committed, entry.note
        shas = index.hash_blobs(data for _, _, data in blobs)
        entries = [(mode, sha, path) for (mode, path, _), sha in zip(blobs, shas, strict=True)]
        # Every stage of a path goes before its new entry is added.
        removals += [("0", "", path) for path in self.tree_merge.displaced]  # folded back (mergetree)
        index.set_entries([("0", "", path) for _, _, path in entries + keep])
        index.set_entries(removals + keep + entries)

    def _labels(self) -> tuple[str, str, str]:
        return (f"fork ({self.config.fork.branch})", "base", f"upstream ({self.target.tag})")

    def _fork_file_version(self) -> str | None:
        """The version the fork's own file says (at the production branch's tip), if any."""
        plan = getattr(self, "version_plan", None) or self._version_plan(self.report.fork_commit)
        file = plan.file or self.config.version.file
        data = self.git.show_file(self.report.fork_commit, file)
        return (
            versioning.read_version_text(data.decode("utf-8", "replace"), file) if data is not None else None
        )

    def _version_value(self) -> tuple[str, str]:
        """The version the sync commits and, when it is not the scheme's, why (never lowered)."""
        new = versioning.new_version(
            self.config.version.scheme, self.target.version, self.report.fork_version
        )
        return versioning.keep_or_set(self._fork_file_version(), new)

    def set_version(self) -> None:
        """Decide the new version; it is written into the merge commit by `commit`."""
        cfg = self.config.version
        plan = getattr(self, "version_plan", None) or self._version_plan(self.report.fork_commit)
        file = plan.file or cfg.file
        upstream_text = self.git.show_file(self.upstream_commit, file)
        up_tree = (
            versioning.read_version_text(upstream_text.decode("utf-8", "replace"), file)
            if upstream_text is not None
            else None
        )
        if up_tree is not None and releases_mod.parse_version(up_tree) != self.target.version:
            # LESSONS 2: the tree must be the release's; say so when upstream's own file disagrees.
            self.report.warnings.append(
                f"upstream's {file} at {self.target.tag} says {up_tree}, not {self.target.version_str}"
            )
        self.version_target = self._version_value()[0] if plan.file is not None else None
        self.version_file = plan.file
        self.upstream_tree_version = up_tree
        if plan.file is None and plan.note:  # dynamic: nothing to write, and the report says why
            self.report.version_update = VersionUpdate(cfg.file, None, "", up_tree, plan.note)

    def _apply_version(self, index: mergetree.TempIndex) -> None:
        new = getattr(self, "version_target", None)
        file: str | None = getattr(self, "version_file", None)
        if new is None or file is None:
            return
        found = index.blob(file)
        if found is None:
            raise GitError(
                f"version file {file} not found in the fork", hint="set [version] file, or update = false"
            )
        mode, data = found
        if has_markers(data):
            self.report.warnings.append(f"{file} still has conflict markers; version not updated")
            return
        with tempfile.TemporaryDirectory(prefix="forksync-version-") as tmp:
            path = Path(tmp) / Path(file).name
            path.write_bytes(data)
            current = versioning.read_version_text(data.decode("utf-8", "replace"), file)
            if current != new:
                versioning.write_version(path, new)
            content = path.read_bytes()
        if content != data:
            (sha,) = index.hash_blobs([content])
            index.set_entries([(mode, sha, file)])
        _, note = self._version_value()
        old = self._fork_file_version() or current  # the file's own value before the sync
        self.report.version_update = VersionUpdate(file, old, new, self.upstream_tree_version, note)
        if note and f"{file}: {note}" not in self.report.warnings:
            self.report.warnings.append(f"{file}: {note}")
        self.ui.stage("version", f"{file}: {old} → {new}" + (f" ({note})" if note else ""))

    def _merge_message(self, left: list[FileResult]) -> str:
        tag = getattr(self, "target", None)
        name = tag.tag if tag else "upstream"
        lines = [
            f"Merge upstream release {name} into {self.report.sync_branch or self.config.fork.branch}",
            "",
            f"Upstream: {strip_credentials(self.report.upstream_url)}",
            "Synced by forksync.",
        ]
        if left:
            committed = {c.path: c.committed for c in self.report.conflicts}
            lines += ["", "Conflicts left for review (what this commit holds there):"]
            lines += [f"  {r.path} ({committed.get(r.path) or 'nothing recorded'})" for r in left]
        from .render.inert import no_triggers

        return no_triggers(redact("\n".join(lines)))  # a path like "fixes #3" closes nothing on merge

    def _keep_fork_config(self, index: mergetree.TempIndex) -> None:
        """Upstream never configures the fork: its changes to the fork's config are undone."""
        from .resolve.fork_config import GUARDED, keep_fork_config

        for name in GUARDED:
            found = index.blob(name)
            sides = (self.base_commit, self.report.fork_commit, self.upstream_commit)
            base, fork, upstream = (self.git.show_file(c, name) if c else None for c in sides)
            kept = keep_fork_config(name, base, fork, upstream, found[1] if found else None)
            if kept is None:
                continue
            self.report.reasons.append(kept.reason)
            if kept.content is None:
                index.set_entries([("0", "0" * 40, name)])
            elif found is None or kept.content != found[1]:
                (sha,) = index.hash_blobs([kept.content])
                index.set_entries([(found[0] if found else "100644", sha, name)])

    def commit(self, left: list[FileResult]) -> None:
        """Build the merged tree in a private index and commit it with both parents."""
        index = mergetree.TempIndex(self.git, self.tree_merge.tree, state.state_dir(self.common) / "tmp")
        try:
            if not self.already_merged:
                self._entries_for_results(index)
                self._keep_fork_config(index)
            self._apply_version(index)
            tree = index.write_tree()
        finally:
            index.close()
        env = self._identity_env()
        if self.already_merged:
            if tree == self.git.out("rev-parse", f"{self.start_commit}^{{tree}}"):
                self.head = self.start_commit
                self._settle_fork_before()
                if self.head != self.branch_old:
                    self._advance_branch(self.head)
                return
            head = mergetree.commit_tree(
                self.git,
                tree,
                [self.start_commit],
                self._trailer(f"Set version to {self.version_target}"),
                env,
            )
            parents = [self.start_commit]
        else:
            message = self._trailer(self._merge_message(left))
            head = mergetree.commit_tree(
                self.git, tree, [self.start_commit, self.upstream_commit], message, env
            )
            parents = self.git.out("rev-list", "--parents", "-n", "1", head).split()[1:]
            if parents != [self.start_commit, self.upstream_commit]:
                raise GitError(
                    f"merge commit {head[:10]} does not have the fork and the release as its parents"
                )
            self.report.merge_parents = parents
        self.head = head
        if not self.already_merged:
            self.report.merge_commit = head
        self._settle_fork_before()
        self._advance_branch(head)
        self.ui.stage(
            "commit",
            f"{'merge ' if len(parents) == 2 else ''}commit {head[:10]} "
            f"(parents {', '.join(p[:10] for p in parents)})",
        )

    def _settle_fork_before(self) -> None:
        """What verification compares the tip with: the production branch when the tip holds it
        (a fresh merge, or main merged in), else the fork side of the sync merge."""
        fork = self.report.fork_commit
        if self.fork_before != fork and self.git.is_ancestor(fork, self.head):
            self.fork_before = fork
        self.base_commit = self.git.merge_base(self.fork_before, self.upstream_commit)

    def _advance_branch(self, head: str) -> None:
        """Move the sync branch to ``head`` only from the value it had (compare and swap)."""
        if self.opts.dry_run:
            return
        old = self.branch_old or ZERO_SHA
        res = self.git.run("update-ref", "-m", "forksync sync", self.branch_ref, head, old, check=False)
        if res.returncode != 0:
            raise GitError(
                f"{self.report.sync_branch} moved while syncing", hint="run again; nothing was lost"
            )
        self.branch_old = head

    # -- checks, verify, recommendation -------------------------------------------------
    def _ensure_worktree(self) -> Path:
        """A checkout of the sync commit, made only when something must run on the files."""
        if self.worktree is not None:
            return self.worktree
        # Outside the git directory: repository code run there must not reach `../../config`
        # (the checkout's token), and the Claude Code CLI refuses to edit under `.git/`.
        path = Path(tempfile.mkdtemp(prefix=WORKTREE_PREFIX))
        state.remember_worktree(self.common, path)
        # Files written by as many processes as there are cores (git >= 2.32; older git ignores it):
        # litellm's 6,291 files (272 MB) take 3.8 s instead of 6.1 s on two cores.
        self.git.run(
            "-c", "checkout.workers=0", "worktree", "add", "--quiet", "--detach", str(path), self.head
        )
        self._snapshot = self._take_snapshot(path)  # before any repository code runs
        self.worktree = path
        self.wt = Git(path, env=self._identity_env())
        self.report.worktree = str(path)
        state.save_report(self.common, self.report)
        return path

    def _check_untouched(self) -> None:
        """Refs, git config and hooks, forksync's own code: changed only by forksync itself."""
        before = getattr(self, "_snapshot", None)
        if before is None:
            return
        expected = {} if self.opts.dry_run else {self.branch_ref: self.branch_old}
        guard.assert_unchanged(before, self._take_snapshot(self.worktree), expected)

    def _take_snapshot(self, worktree: Path | None) -> guard.Snapshot:
        extra = {"worktree:.git": worktree / ".git"} if worktree is not None else {}
        return guard.take(self.git, self.common, extra)

    def scan(self) -> None:
        """The supply-chain scan of what the release brings (forksync.supply_chain); a high
        finding holds back every stage that runs upstream code until a person approves."""
        from . import supply_chain

        sec = self.config.security
        if not sec.supply_chain_scan:
            self._mark("scan", "skipped", "[security] supply-chain-scan = false")
            return
        tag = self.target.tag
        result = supply_chain.scan_release(self.git, self.base_commit, self.upstream_commit)
        result.approved = supply_chain.approved(
            tag, sec.approved_releases, os.environ.get(supply_chain.APPROVE_ENV)
        )
        result.held = supply_chain.held_reason(result, tag, result.approved)
        self.report.scan = result
        self.ui.stage("scan", f"supply-chain scan: {supply_chain.summary(result) or 'no finding'}")

    def _held(self, stage: str = "") -> bool:
        """A stage that would run upstream code is skipped while the scan holds the release."""
        scan = self.report.scan
        if scan is None or not scan.held:
            return False
        if stage:
            self.ui.stage(stage, "not run: held by the supply-chain scan")
        return True

    def run_checks(self) -> None:
        if self._held("checks"):
            return
        commands = checks_mod.check_list(self.config)
        regen = self._regenerate_commands()
        if not commands and not regen:
            return
        worktree = self._ensure_worktree()
        if regen:
            self._regenerate(worktree, regen)
        results = []
        for name, argv, timeout in commands:
            self.ui.stage("checks", f"running {name}")
            rec = checks_mod.run_check(worktree, name, argv, timeout)
            self.ui.stage(
                "checks", f"{name}: {'passed' if rec.passed else 'FAILED'} in {rec.duration_s:.1f}s"
            )
            results.append(rec)
        self.report.checks = results

    def repair(self) -> None:
        """The agent's turn: verification findings first, then failing checks; one commit per fix."""
        if self._held("repair"):
            return
        failed = [c for c in self.report.checks if not c.passed]
        findings = [f for f in self.report.findings if f.kind != "markers"]
        cfg = self.config.agent
        if not (failed or findings) or cfg.provider == "none" or not cfg.fix_checks or self.opts.dry_run:
            return
        agent = getattr(self, "_agent", None)
        if agent is None:
            from .llm.agent import make_agent

            agent = make_agent(self.config, state.state_dir(self.common) / "artifacts" / self.report.run_id)
        if agent is None:
            return
        worktree = self._ensure_worktree()
        commands = {n: (a, t) for n, a, t in checks_mod.check_list(self.config)}
        tasks = ([self._findings_record(findings)] if findings else []) + failed

        def rerun(name: str) -> CheckRecord:
            if name == VERIFY_TASK:
                return self._findings_record(self._verify_findings(worktree, "WORKTREE"))
            argv, timeout = commands[name]
            return checks_mod.run_check(worktree, name, argv, timeout)

        calls_before = len(agent.calls)
        before = self.head
        try:
            commits = agent.fix_checks(worktree, tasks, rerun)
        finally:
            self.report.llm_calls.extend(agent.calls[calls_before:])
            self._agent_notes(agent)
        if commits:
            self._adopt_worktree_head()
            self.report.agent_changes = self._agent_changes(before, self.head)
            self.report.checks = [checks_mod.run_check(worktree, n, a, t) for n, (a, t) in commands.items()]
            self.verify()
            self.report.warnings.append(f"the agent committed {len(commits)} fix(es) on the sync branch")

    def _agent_changes(self, before: str, after: str) -> list[AgentChange]:
        """Every file the agent's commits changed, file by file: each is the reviewer's to check."""
        if before == after:
            return []
        status = self.git.out("diff", "--name-status", "--no-renames", "-z", before, after).split("\0")
        counts = self.git.out("diff", "--numstat", "--no-renames", "-z", before, after).split("\0")
        lines: dict[str, tuple[int, int]] = {}
        for rec in counts:
            added, removed, path = [*rec.split("\t", 2), "", ""][:3]
            if path:  # binary files count "-"
                lines[path] = (int(added) if added.isdigit() else 0, int(removed) if removed.isdigit() else 0)
        words = {"A": "added", "D": "deleted"}
        return [
            AgentChange(path, words.get(code[:1], "modified"), *lines.get(path, (0, 0)))
            for code, path in zip(status[0::2], status[1::2], strict=False)
            if path
        ]

    @staticmethod
    def _findings_record(findings: list[Finding]) -> CheckRecord:
        """Verification findings as a failing "check", so the agent repairs them like any other."""
        lines = [
            f"{f.kind}: {f.path}:{f.line}: {f.message}" + (f" [feature {f.feature}]" if f.feature else "")
            for f in findings
        ]
        return CheckRecord(
            VERIFY_TASK,
            VERIFY_TASK,
            0 if not findings else 1,
            0.0,
            passed=not findings,
            output_tail="\n".join(lines)[-6000:],
        )

    def _adopt_worktree_head(self) -> None:
        assert self.wt is not None
        head = self.wt.out("rev-parse", "HEAD")
        if head != self.head and self.git.is_ancestor(self.head, head):
            self.head = head
            self._advance_branch(head)

    def _regenerate_commands(self) -> list[list[str]]:
        from .resolve.policy import regenerate_commands

        return regenerate_commands(self.context(), getattr(self, "results", []))

    def _regenerate(self, worktree: Path, commands: list[list[str]]) -> None:
        """Run `regenerate` policies' commands (e.g. a lock-file tool) and commit what they change."""
        assert self.wt is not None
        for argv in commands:
            rec = checks_mod.run_check(
                worktree, "regenerate: " + " ".join(argv), argv, self.config.checks.timeout
            )
            if not rec.passed:
                self.report.warnings.append(
                    f"regenerate command {' '.join(argv)} failed: {rec.output_tail[-200:]}"
                )
        self._check_untouched()  # before git runs in the worktree those commands wrote to
        self.wt.run("add", "-A", check=False)
        if self.wt.run("diff", "--cached", "--quiet", check=False).returncode != 0:
            message = self._trailer("Regenerate generated files after the sync")
            self.wt.run("commit", "--quiet", "--no-verify", "-m", message)
            self._adopt_worktree_head()

    def verify(self) -> None:
        findings: list[Finding] = []
        # The marker gate: no conflict markers anywhere but in files knowingly left for review.
        left = {c.path for c in self.report.unresolved}
        changed = self.git.out(
            "diff", "--name-only", "--no-renames", "--diff-filter=AM", self.fork_before, self.head
        )
        candidates = [p for p in changed.splitlines() if p and p not in left]
        if candidates:
            grep = self.git.run(
                "grep", "-l", "-I", "-e", "^=======$", self.head, "--", *candidates[:5000], check=False
            )
            for line in grep.out.splitlines():
                path = line.split(":", 1)[1] if ":" in line else line
                data = self.git.show_file(self.head, path)
                if data is not None and has_markers(data):
                    findings.append(Finding("markers", f"conflict markers committed in {path}", path=path))
        # git's clean merges are checked in a child process while verification runs here (which
        # itself spreads its checks over two processes): on a two-core runner, 0.1 s of the stage.
        with Forked(self._clean_merge_findings) as clean:
            if self.config.verify.enabled:
                repo = self.worktree if self.worktree is not None else self.repo
                findings += self._verify_findings(repo, "HEAD" if self.worktree is not None else self.head)
            findings += clean.result()
        self.report.findings = findings

    def _clean_merge_findings(self) -> list[Finding]:
        """Duplicate keys, definitions or imports that git's clean merge of a file changed on both
        sides introduced (verify/duplicates.py); conflicted paths went through the resolvers."""
        if not self.config.verify.enabled or getattr(self, "already_merged", False):
            return []
        from .verify.duplicates import clean_merge_findings

        conflicted = {c.path for c in self.report.conflicts}
        return clean_merge_findings(
            self.git, self.base_commit, self.start_commit, self.upstream_commit, self.head, conflicted
        )

    def _verify_findings(self, repo: Path, merged: str) -> list[Finding]:
        from .verify import verify as run_verify

        notes: list[str] = []
        findings = run_verify(
            repo,
            self.config,
            fork_before=self.fork_before,
            upstream=self.upstream_commit,
            merged=merged,
            base=self.base_commit,
            run_tests=self.worktree is not None and not self._held(),
            open_paths={c.path for c in self.report.unresolved},
            notes=notes,
        )
        self.report.warnings.extend(n for n in notes if n not in self.report.warnings)
        return findings

    def _recommend(self) -> None:
        from .verdict import recommend

        r = self.report
        r.recommendation, r.reasons = recommend(r, self.config)
        cfg = self.config.forge
        r.labels = [
            cfg.label_sync,
            cfg.label_ready if r.recommendation == "ready" else cfg.label_review,
            *cfg.extra_labels,
        ]

    def _render(self) -> tuple[str, str]:
        from .render.pr_body import render_body, render_title

        return render_title(self.report), render_body(self.report)

    def _final_status(self) -> None:
        r = self.report
        if r.unresolved:
            r.status, r.exit_code = "conflicts-left", ExitCode.CONFLICTS_LEFT
        elif (r.scan is not None and r.scan.held) or (  # checks held back by the scan did not pass
            any(not c.passed for c in r.checks) and self.config.checks.required
        ):
            r.status, r.exit_code = "checks-failed", ExitCode.CHECKS_FAILED
        elif r.findings and self.config.verify.fail_on_findings:
            r.status, r.exit_code = "verify-failed", ExitCode.VERIFY_FAILED
        else:
            r.status, r.exit_code = "synced", ExitCode.OK

    # -- push, PR, notify (forksync.publish; `forksync publish` runs the same steps) ---------------
    def push(self) -> None:
        from .publish import push_branch

        branch = self.report.sync_branch
        lease = getattr(self, "push_lease", None)  # a rebuild replaces only forksync's own commits
        push_branch(self.git, self.config.fork.remote, branch, f"refs/heads/{branch}", self.ui, lease=lease)

    def publish(self) -> None:
        from .publish import open_pull_request

        open_pull_request(self.config, self.repo, self.report, self.target.version_str, self.ui)

    def _notify_safely(self) -> None:
        """Tell Slack / webhooks once per run; a failed notification is recorded, never raised.
        An exported run (`--export`) leaves that to `forksync publish`, which holds the secrets."""
        if getattr(self, "_notified", False) or self.opts.export_dir is not None:
            return
        self._notified = True
        from .publish import notify_report

        notify_report(self.config, self.report, self.opts.run_url)

    # -- cleanup ------------------------------------------------------------------------
    def _rollback(self) -> None:
        """After a failure: nothing half-done. The sync branch only ever moves at `commit`, by
        compare-and-swap, so the only thing to undo is a worktree."""
        self._cleanup()

    def _sweep_worktrees(self) -> None:
        """Worktrees left by a killed run (we hold the lock, so none is in use): those remembered
        in the state, and any registered worktree of ours (older runs kept them under `.git`)."""
        found = state.remembered_worktrees(self.common)
        for line in self.git.out("worktree", "list", "--porcelain").splitlines():
            path = Path(line.removeprefix("worktree "))
            if line.startswith("worktree ") and path.name.startswith(WORKTREE_PREFIX):
                found.append(path)
        root = self.common / "forksync" / "worktrees"
        if root.is_dir():
            found += list(root.iterdir())
        for path in dict.fromkeys(found):
            self._remove_worktree(path)
        tmp = self.common / "forksync" / "tmp"
        if tmp.is_dir():
            for path in tmp.iterdir():
                path.unlink(missing_ok=True)

    def _cleanup(self) -> None:
        if self.worktree is not None:
            self._remove_worktree(self.worktree)
            self.worktree = None

    def _remove_worktree(self, path: Path) -> None:
        if path.exists() or self.git.run("worktree", "list", "--porcelain").out.find(str(path)) >= 0:
            self.git.run("worktree", "remove", "--force", "--force", str(path), check=False)
            if path.exists():
                import shutil

                shutil.rmtree(path, ignore_errors=True)
            self.git.run("worktree", "prune", check=False)
        state.forget_worktree(self.common, path)


def run_sync(repo: Path, config: Config, options: SyncOptions, progress: Progress) -> Report:
    return Sync(repo, config, options, progress).run()

"""The sync pipeline, top to bottom: detect → fetch → branch → merge → resolve → version →
commit → checks → verify → recommend → push → pull request → notify.

Each stage is a method that records itself in the report (saved after every stage). All
work happens in a separate worktree under the git directory: the user's checkout, index,
stash and the fork's production branch are never written. The merge is always a real
two-parent merge of the exact release tag (LESSONS 1–3), and a conflict is never a dead
end: by default what is left is committed with markers and handed to a reviewer.
"""

from __future__ import annotations

import os
import re
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
from . import mergetree, state, versioning
from . import releases as releases_mod
from .config import Config
from .errors import ConfigError, ExitCode, ForgeError, ForksyncError, GitError, UpstreamError
from .git import Git, check_ref_name
from .notify.base import EventKind
from .report import (
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
from .ui import Progress

if TYPE_CHECKING:
    from .llm.agent import Agent

BOT_NAME = "forksync[bot]"
BOT_EMAIL = "forksync-bot@users.noreply.github.com"
UPSTREAM_REF_PREFIX = "refs/forksync/upstream/"
T = TypeVar("T")
ZERO_SHA = "0" * 40
VERIFY_TASK = "forksync verify"


@dataclass
class SyncOptions:
    release: str | None = None
    dry_run: bool = False
    no_push: bool = False
    resume: bool = False
    run_url: str = ""


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sync:
    """One run. ``run()`` returns the final report; it never raises for expected failures."""

    def __init__(self, repo: Path, config: Config, options: SyncOptions, progress: Progress) -> None:
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
        )

    # -- driver ---------------------------------------------------------------------
    def run(self) -> Report:
        notes: list[str] = []
        with state.locked(self.common, notes):
            self.report.warnings.extend(notes)
            state.save_report(self.common, self.report)
            self._sweep_worktrees()
            try:
                self._pipeline()
            except ForksyncError as exc:
                self.report.status = "failed"
                self.report.exit_code = exc.exit_code
                self.report.error = {"kind": exc.kind, "message": str(exc)}
                self._rollback()
            finally:
                self._cleanup()
                self.report.finished_at = _now()
                state.save_report(self.common, self.report)
        if self.report.status in ("failed",) or self.report.exit_code:
            self._notify_safely()
        return self.report

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
        self._stage("fetch", self.fetch)
        self._stage("branch", self.branch)
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
        if self.opts.no_push:
            self._mark("push", "skipped", "--no-push")
        else:
            self._stage("push", self.push)
            self._stage("pr", self.publish)
        self._final_status()
        self._stage("notify", self._notify_safely)

    def _resume_target(self) -> None:
        """--resume: finish the last interrupted run's release, not whatever is newest now."""
        last = state.load_last(self.common)
        if last is None or last.status != "running" or last.release is None:
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
        try:
            result = fn()
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
        url = self.config.upstream.url
        if url:
            if not re.match(r"^[a-z+]+://|^[\w.-]+@", url) and not Path(url).is_absolute():
                candidate = (self.repo / url).resolve()
                if candidate.exists():
                    return str(candidate)
            return url
        res = self.git.run("remote", "get-url", "--", self.config.upstream.remote, check=False)
        if res.returncode == 0 and res.out.strip():
            return res.out.strip()
        raise ConfigError(
            f"no upstream: [upstream] url is empty and there is no remote '{self.config.upstream.remote}'",
            hint="set [upstream] url in .forksync.toml or `git remote add upstream URL`",
        )

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
        self.report.upstream_url = url
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
        self.report.skipped_releases = [
            self._info(r)
            for r in releases
            if r.version < target.version and (current is None or r.version > current)
        ]
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
        text = self.git.show_file(fork, self.config.version.file)
        if text is not None:
            value = versioning.read_version_text(text.decode("utf-8", "replace"), self.config.version.file)
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

    def _check_checkout(self) -> None:
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
            self.report.upstream_url,
            f"+refs/tags/{tag}:{ref}",
            timeout=1800,
        )
        if res.returncode != 0:
            raise UpstreamError(
                f"cannot fetch {tag} from upstream: {res.err.splitlines()[-1] if res.err else ''}"
            )
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
        fork = self.report.fork_commit
        self.base_commit = self.git.merge_base(fork, commit)
        self.report.upstream_commits = self.git.count(f"{fork}..{commit}")
        log = self.git.out("log", "--no-merges", "--format=%h %s", "-n", "20", f"{fork}..{commit}")
        self.report.top_commits = [line for line in log.splitlines() if line]
        if self.base_commit:
            stat = self.git.out("diff", "--name-only", "--no-renames", self.base_commit, commit)
            files = [f for f in stat.splitlines() if f]
            self.report.files_changed = len(files)
            self.report.top_files = files[:30]
        from .forges.urls import compare_url

        old = self._previous_tag()
        self.report.compare_url = compare_url(self.report.upstream_url, old, tag) if old else ""

    def _previous_tag(self) -> str | None:
        version = self.report.fork_version
        if not version:
            return None
        src = self.report.fork_version_source
        if src.startswith("last merged release "):
            return src.removeprefix("last merged release ")
        return None

    def branch(self) -> None:
        """Name the sync branch and find where it starts: the fork's tip, or an existing sync
        branch (a previous run's, or one a reviewer pushed to), never rewinding anyone's commits."""
        version = self.target.version_str
        name = self.config.fork.sync_branch.format(version=f"v{version}", tag=self.target.tag)
        name = check_ref_name(name, "sync branch")
        self.report.sync_branch = name
        self.branch_ref = f"refs/heads/{name}"
        remote_has = self._fetch_remote_branch(name)
        local = self.git.rev_parse(self.branch_ref)
        fork = self.report.fork_commit
        if self.opts.dry_run:
            start = local if local and self.git.is_ancestor(fork, local) else fork
            self.branch_old = None
        elif local is None:
            start = remote_has or fork
            self.branch_old = None
        else:
            if remote_has and not self.git.is_ancestor(remote_has, local):
                if self.git.is_ancestor(local, remote_has):
                    self.git.run("update-ref", self.branch_ref, remote_has, local)
                    local = remote_has
                else:
                    raise GitError(
                        f"local and remote '{name}' have diverged",
                        hint="delete one of them; forksync never force-pushes",
                    )
            # A branch that holds nothing of its own (an interrupted run's) starts at the fork's tip.
            start = fork if local != fork and self.git.is_ancestor(local, fork) else local
            self.branch_old = local
        self.start_commit = start
        self.ui.stage("branch", f"{'(dry run) ' if self.opts.dry_run else ''}{name} from {start[:10]}")

    def _fetch_remote_branch(self, name: str) -> str | None:
        if self.opts.no_push or self.opts.dry_run:
            return None
        remote = self.config.fork.remote
        if self.git.run("remote", "get-url", "--", remote, check=False).returncode != 0:
            return None
        res = self.git.remote(
            "fetch",
            "--quiet",
            "--no-tags",
            remote,
            f"+refs/heads/{name}:refs/remotes/{remote}/{name}",
            timeout=600,
        )
        if res.returncode != 0:
            return None
        return self.git.rev_parse(f"refs/remotes/{remote}/{name}")

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
        """Merge the release with git's own machinery, on objects only; True when it conflicts."""
        start = self.start_commit
        self.already_merged = self.git.is_ancestor(self.upstream_commit, start)
        if self.already_merged:
            # A previous run already merged this release into the sync branch.
            self.report.merge_commit = start
            self.report.merge_parents = self.git.out("rev-list", "--parents", "-n", "1", start).split()[1:]
            self.report.warnings.append(f"{self.target.tag} is already merged into {self.report.sync_branch}")
            previous = state.find_report_for_branch(self.common, self.report.sync_branch)
            if previous is not None:
                self.report.conflicts = previous.conflicts
            self.tree_merge = mergetree.TreeMerge(self.git.out("rev-parse", f"{start}^{{tree}}"), True)
            return False
        self.ui.stage("merge", f"merging {self.target.tag} ({self.report.upstream_commits} upstream commits)")
        self.tree_merge = mergetree.merge_tree(self.git, start, self.upstream_commit)
        return not self.tree_merge.clean

    # -- resolve ----------------------------------------------------------------------
    def context(self) -> Context:
        new = versioning.new_version(
            self.config.version.scheme, self.target.version, self.report.fork_version
        )
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
        )

    # -- version, commit ----------------------------------------------------------------
    def _entries_for_results(self, index: mergetree.TempIndex) -> None:
        """Write every resolution (and, in review mode, what is left) into the private index."""
        blobs: list[tuple[str, str, bytes]] = []  # (mode, path, content)
        removals: list[tuple[str, str, str]] = []
        keep: list[tuple[str, str, str]] = []
        for res in getattr(self, "results", []):
            stages = self.tree_merge.entries.get(res.path, {})
            v = self.versions.get(res.path)
            if v is None:  # unreadable blobs: the fork's side stands, listed for review
                side = stages.get(2) or stages.get(3)
                if side:
                    keep.append((side[0], side[1], res.path))
                else:
                    removals.append(("0", "", res.path))
                continue
            mode = v.fork_mode or v.upstream_mode or "100644"
            if res.outcome == "resolved":
                if res.content is None:
                    removals.append(("0", "", res.path))
                elif mode == "160000":
                    keep.append((mode, res.content.decode().strip(), res.path))
                else:
                    blobs.append((mode, res.path, res.content))
                continue
            # Left for review: text conflicts carry role-labelled markers; other kinds keep the fork's side.
            content = res.content
            if (
                content is None
                and v.kind in ("content", "add/add")
                and v.fork is not None
                and v.upstream is not None
            ):
                from .resolve.conflicts import merge_file

                content = (
                    merge_file(v.base or b"", v.fork, v.upstream, labels=self._labels())
                    .render()
                    .encode("utf-8", "surrogateescape")
                )
            if content is not None and mode != "160000":
                blobs.append((mode, res.path, content))
            elif 2 in stages:
                keep.append((stages[2][0], stages[2][1], res.path))
            elif 3 in stages:
                keep.append((stages[3][0], stages[3][1], res.path))
            else:
                removals.append(("0", "", res.path))
        shas = index.hash_blobs(data for _, _, data in blobs)
        entries = [(mode, sha, path) for (mode, path, _), sha in zip(blobs, shas, strict=True)]
        # Every stage of a path goes before its new entry is added.
        index.set_entries([("0", "", path) for _, _, path in entries + keep])
        index.set_entries(removals + keep + entries)

    def _labels(self) -> tuple[str, str, str]:
        return (f"fork ({self.config.fork.branch})", "base", f"upstream ({self.target.tag})")

    def set_version(self) -> None:
        """Decide the new version; it is written into the merge commit by `commit`."""
        cfg = self.config.version
        new = versioning.new_version(cfg.scheme, self.target.version, self.report.fork_version)
        upstream_text = self.git.show_file(self.upstream_commit, cfg.file)
        up_tree = (
            versioning.read_version_text(upstream_text.decode("utf-8", "replace"), cfg.file)
            if upstream_text is not None
            else None
        )
        if up_tree is not None and releases_mod.parse_version(up_tree) != self.target.version:
            # LESSONS 2: the tree must be the release's; say so when upstream's own file disagrees.
            self.report.warnings.append(
                f"upstream's {cfg.file} at {self.target.tag} says {up_tree}, not {self.target.version_str}"
            )
        self.version_target = new if cfg.update else None
        self.upstream_tree_version = up_tree

    def _apply_version(self, index: mergetree.TempIndex) -> None:
        cfg = self.config.version
        new = getattr(self, "version_target", None)
        if new is None:
            return
        found = index.blob(cfg.file)
        if found is None:
            raise GitError(
                f"version file {cfg.file} not found in the fork", hint="set [version] file, or update = false"
            )
        mode, data = found
        if has_markers(data):
            self.report.warnings.append(f"{cfg.file} still has conflict markers; version not updated")
            return
        with tempfile.TemporaryDirectory(prefix="forksync-version-") as tmp:
            path = Path(tmp) / Path(cfg.file).name
            path.write_bytes(data)
            current = versioning.read_version_text(data.decode("utf-8", "replace"), cfg.file)
            if current != new:
                versioning.write_version(path, new)
            content = path.read_bytes()
        if content != data:
            (sha,) = index.hash_blobs([content])
            index.set_entries([(mode, sha, cfg.file)])
        old = self.report.fork_version or current
        self.report.version_update = VersionUpdate(cfg.file, old, new, self.upstream_tree_version)
        self.ui.stage("version", f"{cfg.file}: {old} → {new}")

    def _merge_message(self, left: list[FileResult]) -> str:
        tag = getattr(self, "target", None)
        name = tag.tag if tag else "upstream"
        lines = [
            f"Merge upstream release {name} into {self.report.sync_branch or self.config.fork.branch}",
            "",
            f"Upstream: {self.report.upstream_url}",
            "Synced by forksync.",
        ]
        if left:
            lines += ["", "Conflicts left for review (markers committed):"] + [f"  {r.path}" for r in left]
        return "\n".join(lines)

    def commit(self, left: list[FileResult]) -> None:
        """Build the merged tree in a private index and commit it with both parents."""
        index = mergetree.TempIndex(self.git, self.tree_merge.tree, state.state_dir(self.common) / "tmp")
        try:
            if not self.already_merged:
                self._entries_for_results(index)
            self._apply_version(index)
            tree = index.write_tree()
        finally:
            index.close()
        env = self._identity_env()
        if self.already_merged:
            if tree == self.git.out("rev-parse", f"{self.start_commit}^{{tree}}"):
                self.head = self.start_commit
                return
            head = mergetree.commit_tree(
                self.git, tree, [self.start_commit], f"Set version to {self.version_target}", env
            )
            parents = [self.start_commit]
        else:
            head = mergetree.commit_tree(
                self.git, tree, [self.start_commit, self.upstream_commit], self._merge_message(left), env
            )
            parents = self.git.out("rev-list", "--parents", "-n", "1", head).split()[1:]
            if parents != [self.start_commit, self.upstream_commit]:
                raise GitError(
                    f"merge commit {head[:10]} does not have the fork and the release as its parents"
                )
            self.report.merge_parents = parents
        self.head = head
        self.report.merge_commit = head
        self._advance_branch(head)
        self.ui.stage(
            "commit",
            f"{'merge ' if len(parents) == 2 else ''}commit {head[:10]} "
            f"(parents {', '.join(p[:10] for p in parents)})",
        )

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
        root = state.state_dir(self.common) / "worktrees"
        root.mkdir(exist_ok=True)
        path = root / self.report.run_id
        self._remove_worktree(path)
        self.git.run("worktree", "add", "--quiet", "--detach", str(path), self.head)
        self.worktree = path
        self.wt = Git(path, env=self._identity_env())
        self.report.worktree = str(path)
        return path

    def run_checks(self) -> None:
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
        try:
            commits = agent.fix_checks(worktree, tasks, rerun)
        finally:
            self.report.llm_calls.extend(agent.calls[calls_before:])
            self._agent_notes(agent)
        if commits:
            self._adopt_worktree_head()
            self.report.checks = [checks_mod.run_check(worktree, n, a, t) for n, (a, t) in commands.items()]
            self.verify()
            self.report.warnings.append(f"the agent committed {len(commits)} fix(es) on the sync branch")

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
        self.wt.run("add", "-A", check=False)
        if self.wt.run("diff", "--cached", "--quiet", check=False).returncode != 0:
            self.wt.run("commit", "--quiet", "--no-verify", "-m", "Regenerate generated files after the sync")
            self._adopt_worktree_head()

    def verify(self) -> None:
        findings: list[Finding] = []
        # The marker gate: no conflict markers anywhere but in files knowingly left for review.
        left = {c.path for c in self.report.unresolved}
        changed = self.git.out(
            "diff", "--name-only", "--no-renames", "--diff-filter=AM", self.start_commit, self.head
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
        if self.config.verify.enabled:
            repo = self.worktree if self.worktree is not None else self.repo
            findings += self._verify_findings(repo, "HEAD" if self.worktree is not None else self.head)
        self.report.findings = findings

    def _verify_findings(self, repo: Path, merged: str) -> list[Finding]:
        from .verify import verify as run_verify

        return run_verify(
            repo,
            self.config,
            fork_before=self.start_commit,
            upstream=self.upstream_commit,
            merged=merged,
            base=self.base_commit,
            run_tests=self.worktree is not None,
            open_paths={c.path for c in self.report.unresolved},
        )

    def _recommend(self) -> None:
        r = self.report
        reasons = list(r.reasons)
        if r.unresolved:
            reasons.insert(0, f"{len(r.unresolved)} conflicted file(s) left for review")
        failed = [c for c in r.checks if not c.passed]
        if failed:
            reasons.append("failing checks: " + ", ".join(c.name for c in failed))
        if r.findings:
            reasons.append(f"{len(r.findings)} verification finding(s)")
        agent_hunks = sum(1 for c in r.conflicts for h in c.hunks if h.by_agent and h.outcome == "resolved")
        if agent_hunks and not self.config.agent.allow_ready:
            reasons.append(f"{agent_hunks} hunk(s) resolved by the LLM agent")
        if any("not " in w and "says" in w for w in r.warnings):
            reasons.append("upstream's version file disagrees with the release tag")
        if not self.config.checks.commands:
            reasons.append("no checks configured")
        from .resolve.policy import is_lock_file

        stale_locks = [  # a regenerate policy's command has run by now; take-upstream's never does
            c.path for c in r.conflicts if c.rule == "policy:take-upstream" and is_lock_file(c.path)
        ]
        if stale_locks:
            # LESSON 7: upstream's lock lacks the fork's own dependencies until it is regenerated.
            reasons.append(
                f"lock file(s) taken from upstream, regenerate them: {', '.join(stale_locks[:5])} "
                "(or set a `regenerate` policy with the lock command)"
            )
        r.reasons = reasons
        r.recommendation = "needs-review" if reasons else "ready"
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
        elif any(not c.passed for c in r.checks) and self.config.checks.required:
            r.status, r.exit_code = "checks-failed", ExitCode.CHECKS_FAILED
        elif r.findings and self.config.verify.fail_on_findings:
            r.status, r.exit_code = "verify-failed", ExitCode.VERIFY_FAILED
        else:
            r.status, r.exit_code = "synced", ExitCode.OK

    # -- push, PR, notify -----------------------------------------------------------------
    def push(self) -> None:
        remote = self.config.fork.remote
        branch = self.report.sync_branch
        if self.git.run("remote", "get-url", "--", remote, check=False).returncode != 0:
            raise GitError(f"no remote '{remote}' to push {branch} to", hint="add it, or run with --no-push")
        self.ui.stage("push", f"pushing {branch} to {remote}")
        res = self.git.remote(
            "push", "--quiet", "--porcelain", remote, f"refs/heads/{branch}:refs/heads/{branch}", timeout=1800
        )
        if res.returncode != 0:
            text = (res.err + res.out).lower()
            if "rejected" in text or "non-fast-forward" in text or "fetch first" in text:
                raise ForgeError(
                    f"{remote}/{branch} has commits this run does not have",
                    hint="someone else pushed to the sync branch; forksync never force-pushes",
                )
            raise ForgeError(
                f"cannot push {branch} to {remote}: {res.err.splitlines()[-1] if res.err else ''}"
            )

    def publish(self) -> None:
        from .forges import make_forge
        from .forges.base import PullRequestSpec
        from .report import PullRequestRecord

        r = self.report
        cfg = self.config.forge
        forge = make_forge(self.config, self.repo)
        draft = cfg.draft or bool(r.unresolved)
        spec = PullRequestSpec(
            title=r.pr_title,
            body=r.pr_body,
            head=r.sync_branch,
            base=cfg.base or self.config.fork.branch,
            labels=tuple(r.labels),
            draft=draft,
            reviewers=tuple(cfg.reviewers),
            team_reviewers=tuple(cfg.team_reviewers),
            assignees=tuple(cfg.assignees),
            sync_label=cfg.label_sync,
            version=self.target.version_str,
            comment=f"forksync re-ran this sync ({r.run_id}): recommendation `{r.recommendation}`.",
        )
        result = forge.publish(spec)
        r.warnings.extend(result.warnings)
        pr = result.pull_request
        r.pull_request = PullRequestRecord(
            pr.url, pr.number, result.action, draft, pr.title, [p.url for p in result.superseded]
        )
        self.ui.stage("pr", f"pull request {result.action}: {pr.url}")

    def _notify_safely(self) -> None:
        """Tell Slack / webhooks once per run; a failed notification is recorded, never raised."""
        if getattr(self, "_notified", False):
            return
        self._notified = True
        from .notify.base import Event, make_notifiers
        from .notify.registry import notify_all, problems

        r = self.report
        r.warnings.extend(problems(self.config))
        notifiers = make_notifiers(self.config)
        if not notifiers:
            return
        kind: EventKind
        if r.status in ("up-to-date", "failed", "checks-failed"):
            kind = r.status
        elif r.status == "conflicts-left":
            kind = "conflicts"
        elif r.pull_request and r.pull_request.action in ("updated", "unchanged"):
            kind = "pr-updated"
        else:
            kind = "pr-created"
        r.notifications.extend(notify_all(notifiers, Event(kind, r, self.opts.run_url)))

    # -- cleanup ------------------------------------------------------------------------
    def _rollback(self) -> None:
        """After a failure: nothing half-done. The sync branch only ever moves at `commit`, by
        compare-and-swap, so the only thing to undo is a worktree."""
        self._cleanup()

    def _sweep_worktrees(self) -> None:
        """Worktrees left by a killed run (we hold the lock, so none is in use)."""
        root = self.common / "forksync" / "worktrees"
        if root.is_dir():
            for path in root.iterdir():
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


def run_sync(repo: Path, config: Config, options: SyncOptions, progress: Progress) -> Report:
    return Sync(repo, config, options, progress).run()

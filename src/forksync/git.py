"""Every git invocation goes through here: argument lists only, never a shell string, no hooks.

Repository data (tag names, paths, branch names) reaches git only as separate argv
elements, after ``--`` where git allows it, and ref names are validated first
(``check_ref_name``) so that a hostile name cannot become an option.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import GitError

# Environment for every git call: no prompts, no pager, no user config surprises in output.
_BASE_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "LC_ALL": "C",
    "GIT_ASKPASS": "echo",
}

# Every call: no hooks (a hook planted by repository code that ran earlier, e.g. `pre-push` or
# `reference-transaction`, would otherwise run inside forksync with its full environment), no fsmonitor.
NO_HOOKS = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")

_SAFE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/+@-]*$")

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


@dataclass(frozen=True)
class Completed:
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def out(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    @property
    def err(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()


def cause(err: str, default: str = "") -> str:
    """The line of git's stderr that says what went wrong: the first ``fatal:``/``error:`` line,
    not the last one (which is often advice such as "…and the repository exists.")."""
    lines = [line.strip() for line in err.splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[-1] if lines else default


def check_ref_name(name: str, what: str = "ref") -> str:
    """Reject names that are not plain refs or that could be read as options."""
    if (
        not name
        or not _SAFE_REF.match(name)
        or ".." in name
        or name.endswith((".lock", "/", "."))
        or "//" in name
        or "@{" in name
    ):
        raise GitError(f"refusing unsafe {what} name {name!r}", hint="names must be plain git ref names")
    return name


def _verb(args: tuple[str, ...]) -> str:
    """The git command run (`worktree` in `-c checkout.workers=0 worktree add`), for messages."""
    return next((a for a in args if not a.startswith("-") and "=" not in a), args[0] if args else "")


class Git:
    """A repository (or worktree) addressed by its folder."""

    def __init__(self, cwd: Path | str, env: dict[str, str] | None = None) -> None:
        self.cwd = Path(cwd)
        self._env = {**os.environ, **_BASE_ENV, **(env or {})}

    def run(
        self,
        *args: str,
        check: bool = True,
        input: bytes | None = None,
        env: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Completed:
        cmd = ["git", *NO_HOOKS, *args]
        try:
            proc = subprocess.run(
                cmd,
                cwd=self.cwd,
                input=input,
                capture_output=True,
                env={**self._env, **(env or {})},
                timeout=timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            if not self.cwd.exists():
                raise GitError(f"folder {self.cwd} does not exist") from exc
            raise GitError("git is not installed or not on PATH") from exc
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {_verb(args)} timed out after {timeout:.0f}s") from exc
        done = Completed(proc.returncode, proc.stdout, proc.stderr)
        if check and proc.returncode != 0:
            first = cause(done.err, f"exit {proc.returncode}")
            raise GitError(f"git {_verb(args)} failed: {first}")
        return done

    def out(self, *args: str, check: bool = True) -> str:
        return self.run(*args, check=check).out.strip()

    def ok(self, *args: str) -> bool:
        return self.run(*args, check=False).returncode == 0

    # -- refs and objects ------------------------------------------------------------
    def rev_parse(self, rev: str) -> str | None:
        res = self.run("rev-parse", "--verify", "--quiet", "--end-of-options", rev + "^{commit}", check=False)
        return res.out.strip() or None if res.returncode == 0 else None

    def has_object(self, sha: str) -> bool:
        return self.ok("cat-file", "-e", sha)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self.ok("merge-base", "--is-ancestor", ancestor, descendant)

    def merge_base(self, a: str, b: str) -> str | None:
        res = self.run("merge-base", a, b, check=False)
        return res.out.strip() or None if res.returncode == 0 else None

    def count(self, range_: str) -> int:
        return int(self.out("rev-list", "--count", range_) or 0)

    def cat_blob(self, spec: str) -> bytes | None:
        res = self.run("cat-file", "blob", spec, check=False)
        return res.stdout if res.returncode == 0 else None

    def show_file(self, rev: str, path: str) -> bytes | None:
        return self.cat_blob(f"{rev}:{path}")

    def branch_exists(self, branch: str) -> bool:
        return self.ok("show-ref", "--verify", "--quiet", f"refs/heads/{branch}")

    def current_branch(self) -> str | None:
        res = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return res.out.strip() or None

    def git_dir(self) -> Path:
        return Path(self.out("rev-parse", "--absolute-git-dir"))

    def common_dir(self) -> Path:
        path = Path(self.out("rev-parse", "--git-common-dir"))
        return path if path.is_absolute() else (self.cwd / path).resolve()

    def toplevel(self) -> Path:
        return Path(self.out("rev-parse", "--show-toplevel"))

    def is_dirty(self) -> bool:
        return bool(self.out("status", "--porcelain", "--untracked-files=no"))

    def remote(self, *args: str, timeout: float = 600, attempts: int | None = None) -> Completed:
        """A network git command with bounded retries (backoff and jitter) on transient failures:
        a refused or reset connection, a timeout, a 5xx. Errors that a retry cannot fix (not found,
        authentication) return at once."""
        tries = attempts or int(os.environ.get("FORKSYNC_GIT_ATTEMPTS", "3"))
        base = float(os.environ.get("FORKSYNC_RETRY_BASE", "2"))
        res = Completed(1, b"", b"")
        for attempt in range(1, tries + 1):
            try:
                res = self.run(*args, check=False, timeout=timeout)
            except GitError as exc:  # timed out
                res = Completed(124, b"", str(exc).encode())
            if res.returncode == 0 or not _transient(res.err) or attempt == tries:
                return res
            time.sleep(base * 2 ** (attempt - 1) * (0.5 + random.random()))
        return res

    def ls_remote_tags(self, url: str, timeout: float = 120) -> dict[str, str]:
        """Map tag name -> commit sha (peeled) without fetching anything."""
        res = self.remote("ls-remote", "--tags", "--", url, timeout=timeout)
        if res.returncode != 0:
            raise GitError(f"cannot list tags of upstream {url}: {cause(res.err, 'error')}")
        tags: dict[str, str] = {}
        peeled: dict[str, str] = {}
        for line in res.out.splitlines():
            sha, _, ref = line.partition("\t")
            if not ref.startswith("refs/tags/"):
                continue
            name = ref[len("refs/tags/") :]
            if name.endswith("^{}"):
                peeled[name[:-3]] = sha
            else:
                tags[name] = sha
        tags.update(peeled)
        return tags

    # -- index / merge state ---------------------------------------------------------
    def unmerged(self) -> dict[str, dict[int, tuple[str, str]]]:
        """Path -> {stage: (mode, sha)} for every unmerged index entry."""
        res = self.run("ls-files", "-u", "-z")
        entries: dict[str, dict[int, tuple[str, str]]] = {}
        for rec in res.stdout.split(b"\0"):
            if not rec:
                continue
            meta, _, path_b = rec.partition(b"\t")
            mode, sha, stage = meta.decode().split()
            entries.setdefault(path_b.decode("utf-8", "surrogateescape"), {})[int(stage)] = (mode, sha)
        return entries

    def add(self, paths: Sequence[str]) -> None:
        for chunk in _chunks(list(paths), 500):
            self.run("add", "--", *chunk)

    def rm_cached(self, paths: Sequence[str]) -> None:
        for chunk in _chunks(list(paths), 500):
            self.run("rm", "--cached", "--quiet", "--ignore-unmatch", "--", *chunk)


_TRANSIENT = re.compile(
    r"connection refused|connection reset|timed out|could not resolve host|temporary failure|early eof"
    r"|the remote end hung up|returned error: 5\d\d|\b50[234]\b|rpc failed|unable to connect|operation timed out",
    re.I,
)


def _transient(err: str) -> bool:
    return bool(_TRANSIENT.search(err))


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def tree_entries(git: Git, rev: str, paths: Sequence[str]) -> dict[str, tuple[str, str, str]]:
    """Path -> (mode, type, object id) at ``rev``, for those of ``paths`` it has (`git ls-tree`)."""
    out: dict[str, tuple[str, str, str]] = {}
    for chunk in _chunks(list(paths), 400):
        res = git.run("ls-tree", "-z", rev, "--", *chunk, check=False)
        for rec in res.stdout.split(b"\0"):
            meta, _, name = rec.partition(b"\t")
            fields = meta.decode().split()
            if len(fields) == 3:
                out[name.decode("utf-8", "surrogateescape")] = (fields[0], fields[1], fields[2])
    return out


def cat_blobs(git: Git, shas: Sequence[str]) -> dict[str, bytes]:
    """Read many blobs with one `git cat-file --batch` process (missing ones are skipped)."""
    wanted = [s for s in dict.fromkeys(shas) if s]
    if not wanted:
        return {}
    res = git.run("cat-file", "--batch", input=("\n".join(wanted) + "\n").encode(), check=False)
    data = res.stdout
    out: dict[str, bytes] = {}
    pos = 0
    for sha in wanted:
        nl = data.find(b"\n", pos)
        if nl < 0:
            break
        header = data[pos:nl].decode()
        pos = nl + 1
        parts = header.split()
        if len(parts) == 3 and parts[1] in ("blob", "commit", "tree", "tag"):
            size = int(parts[2])
            out[sha] = data[pos : pos + size]
            pos += size + 1
        # "<sha> missing": nothing follows
    return out

"""Ownership from history: did the fork really customize a conflicted path?

LESSON 6: "the fork touched it" is not "the fork customized it". Most conflicted paths of a
sync whose ancestry was once broken hold a fork copy that is byte-identical to some upstream
version, or were changed on the fork side only by merges, or only by patches upstream already
has. Each of those takes upstream. Every fact comes from one `git log` over all conflicted
paths at once (memoized in the context), never one process per path; any git failure (missing
blobs in a partial clone, a shallow history) means "no evidence", never a guess.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from ..git import Git, tree_entries
from .model import Context, Decision, Versions

PATHS_KEY = "conflicted-paths"  # callers may set ctx.cache[PATHS_KEY] to every path of the merge
WINDOW = 2000  # first-parent commits of upstream's history before the base searched for stale fork copies
_LOG = ("log", "--raw", "--no-abbrev", "--no-renames", "-z", "--format=%x01%H")


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    date: str
    subject: str


@dataclass
class _Facts:
    """What history says about a batch of paths; the costlier facts are read only when asked."""

    git: Git
    span: tuple[str, str, str]  # (base, upstream, fork)
    paths: Sequence[str]
    upstream: dict[str, dict[str, str]]  # path -> blob -> upstream commit (base..upstream) that wrote it
    upstream_commits: tuple[str, ...]  # every upstream commit (base..upstream) that changed these paths
    fork: dict[str, list[tuple[str, str]]]  # path -> [(fork-only non-merge commit, blob it wrote)]
    at_fork: dict[str, str]  # path -> blob in the fork commit (a renamed path's content is elsewhere)
    shallow: bool
    # Upstream's older history, still being read when the facts above are known: the rules that
    # need no older version (and the reading of the other facts) need not wait for its walk.
    older_reading: Future[dict[str, dict[str, str]] | None] | None = None
    _evil: tuple[dict[str, str] | None] | None = None
    _upstreamed: tuple[set[str] | None] | None = None
    # The read-ahead threads and the rules ask for the same facts: each is read once, and one
    # fact's reading never waits for another's (a lock each).
    _evil_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _upstreamed_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def evil(self) -> dict[str, str] | None:
        """Path -> fork-only merge whose result has content of neither parent (None: unknown)."""
        with self._evil_lock:
            if self._evil is None:
                self._evil = (_evil_merges(self.git, self.span[1], self.span[2], self.paths),)
            return self._evil[0]

    @property
    def upstreamed(self) -> set[str] | None:
        """Fork-only commits whose patch upstream already has (None: unknown)."""
        with self._upstreamed_lock:
            if self._upstreamed is None:
                commits = {c for changes in self.fork.values() for c, _ in changes}
                self._upstreamed = (_upstreamed(self.git, commits, self.upstream_commits),)
            return self._upstreamed[0]

    @property
    def older(self) -> dict[str, dict[str, str]]:
        """Path -> blob -> upstream commit before the base that wrote it (a bounded window)."""
        return (self.older_reading.result() if self.older_reading is not None else None) or {}


class HistoryResolver:
    name = "history"

    def prefetch(self, ctx: Context, paths: Sequence[str]) -> None:
        prefetch(ctx, paths)

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None:
        if not (ctx.fork_commit and ctx.upstream_commit and ctx.base_commit):
            return None
        if v.kind in ("submodule", "symlink"):
            return None
        facts = _facts(ctx, v.path)
        if facts is None:
            return None
        fork_blob = blob_id(ctx, v.fork) if v.fork is not None else None
        if fork_blob is not None:
            commit = facts.upstream.get(v.path, {}).get(fork_blob)
            if commit:
                why = f"the fork's copy is upstream's version from {commit[:10]}: no fork change"
                return _take("history:fork-is-upstream-version", 1.0, why, v)
        # Below, the path's own history speaks for the fork's side only if the fork has that very
        # blob at that path (after a rename, the fork's content has another path's history).
        if facts.shallow or facts.at_fork.get(v.path) != fork_blob:
            return None
        evil = facts.evil
        if evil is None or v.path in evil:
            return None
        changes = facts.fork.get(v.path, [])
        if not changes:
            why = "no fork-authored commit touched this path; only merges did"
            return _take("history:no-fork-customization", 0.95, why, v)
        commits = [c for c, _ in changes]
        if fork_blob is not None and fork_blob not in {b for _, b in changes}:
            commit = facts.older.get(v.path, {}).get(fork_blob)
            if commit:
                why = f"the fork's copy is a stale upstream version ({commit[:10]}), brought by merges only"
                return _take("history:fork-is-upstream-version", 1.0, why, v)
        if facts.upstreamed is not None and all(c in facts.upstreamed for c in commits):
            names = ", ".join(c[:10] for c in dict.fromkeys(commits))
            why = f"every fork commit on this path is already upstream ({names})"
            return _take("history:fork-change-upstreamed", 0.95, why, v)
        return None


def _take(rule: str, confidence: float, reason: str, v: Versions) -> Decision:
    return Decision(rule, confidence, reason, content=v.upstream, delete=v.upstream is None)


def blob_id(ctx: Context, data: bytes) -> str:
    """git's object id of a blob, computed here rather than one `git hash-object` per path."""
    algo = ctx.memo(
        "history.object-format", lambda: ctx.git.out("rev-parse", "--show-object-format", check=False)
    )
    h = hashlib.sha256() if algo == "sha256" else hashlib.sha1()
    h.update(b"blob %d\0" % len(data))
    h.update(data)
    return h.hexdigest()


@dataclass(frozen=True)
class _Batch:
    """The paths the history rules read together, and the cache key of what they read."""

    paths: tuple[str, ...]
    members: frozenset[str]
    key: str

    @classmethod
    def of(cls, paths: Iterable[object]) -> _Batch:
        ordered = tuple(sorted(str(p) for p in paths))
        digest = hashlib.sha1("\0".join(ordered).encode("utf-8", "surrogateescape")).hexdigest()
        return cls(ordered, frozenset(ordered), "history.facts:" + digest)


def batch_for(ctx: Context, path: str) -> _Batch:
    """The merge's conflicted paths when ``path`` is one of them (made once per merge, not once
    per path: sorting and hashing 5,000 paths per path was quadratic), else the index's."""
    listed = ctx.cache.get(PATHS_KEY)
    if isinstance(listed, (list, tuple, set, frozenset)):
        made = ctx.cache.get("history.batch")
        if not (isinstance(made, tuple) and made[0] is listed):
            made = (listed, _Batch.of(listed))
            ctx.cache["history.batch"] = made
        if path in made[1].members:
            return made[1]  # type: ignore[no-any-return]
    unmerged = ctx.memo("history.unmerged", lambda: _Batch.of(_unmerged(ctx.git)))
    if isinstance(unmerged, _Batch) and path in unmerged.members:
        return unmerged
    return _Batch.of([path])


def _unmerged(git: Git) -> tuple[str, ...]:
    try:
        return tuple(sorted(git.unmerged()))
    except Exception:  # a bare repository has no index
        return ()


def _facts(ctx: Context, path: str) -> _Facts | None:
    batch = batch_for(ctx, path)
    made = ctx.memo(batch.key, lambda: _collect(ctx, batch.paths))
    return made if isinstance(made, _Facts) else None


def _collect(ctx: Context, paths: Sequence[str]) -> _Facts | None:
    git, fork, up, base = ctx.git, ctx.fork_commit, ctx.upstream_commit, ctx.base_commit
    assert fork and up and base
    pool = ThreadPoolExecutor(max_workers=5)  # five independent `git` runs, side by side
    try:
        upstream_f = pool.submit(_log_records, git, ["--full-history", f"{base}..{up}"], paths)
        forked_f = pool.submit(_written_list, git, ["--no-merges", "--full-history", up + ".." + fork], paths)
        shallow_f = pool.submit(git.out, "rev-parse", "--is-shallow-repository", check=False)
        at_fork_f = pool.submit(_blobs_at, git, fork, paths)
        # Upstream's older history is asked about whenever a fork copy is none the fork wrote (3 of
        # litellm's 4 files at v1.81.3). Its walk is the longest (50 ms on litellm): it goes on
        # while the facts that follow these (patches already upstream, hand merges) are read.
        older_f = pool.submit(_older, git, base, paths)
        records, forked = upstream_f.result(), forked_f.result()
        shallow, at_fork = shallow_f.result() == "true", at_fork_f.result()
    finally:
        pool.shutdown(wait=False)
    if records is None or forked is None:
        return None
    upstream: dict[str, dict[str, str]] = {}
    for commit, name, blob in records:
        upstream.setdefault(name, {}).setdefault(blob, commit)  # newest first: keep the newest writer
    touching = tuple(dict.fromkeys(commit for commit, _, _ in records))
    return _Facts(git, (base, up, fork), paths, upstream, touching, forked, at_fork, shallow, older_f)


def _older(git: Git, base: str, paths: Sequence[str]) -> dict[str, dict[str, str]] | None:
    """Path -> blob -> commit, over the WINDOW first-parent commits before the base (and what they
    merged). A window of commits, not of matches: `--max-count` with paths walks all history
    when they changed fewer times than that (litellm: 31,012 commits, 0.41 s; the window 0.05 s).
    One git run finds the window's edge and walks it (a `rev-list` for the edge first: 0.02 s more);
    a history shorter than the window has no such edge and is walked whole."""
    window = _written(git, [f"{base}~{WINDOW}..{base}"], paths)
    return window if window is not None else _written(git, [base], paths)


def prefetch(ctx: Context, paths: Sequence[str]) -> None:
    """Read what the history rules will ask about these paths, so that a caller can overlap it
    with other work (the line merges) instead of waiting for it path by path."""
    if not (paths and ctx.fork_commit and ctx.upstream_commit and ctx.base_commit):
        return
    facts = _facts(ctx, paths[0])
    if facts is not None and not facts.shallow and len(paths) <= PREFETCH_EVIL_PATHS:
        # Read now (cached on the facts), side by side and while the line merges run: a rule
        # that needs them would otherwise wait for one (4 git runs, 50 ms on litellm) after the other.
        with ThreadPoolExecutor(max_workers=1) as pool:
            upstreamed = pool.submit(lambda: facts.upstreamed)
            facts.evil  # noqa: B018
            upstreamed.result()


# Above this many paths, a log reads every change and keeps the wanted paths itself.
PATHSPEC_LIMIT = 50
# The fork-only merges' combined diffs are read ahead only for a merge of modest size: for
# thousands of paths they cost more than the rules that may never need them (5,000: 7 s more).
PREFETCH_EVIL_PATHS = 200


def _blobs_at(git: Git, commit: str, paths: Sequence[str]) -> dict[str, str]:
    return {path: oid for path, (_, _, oid) in tree_entries(git, commit, paths).items()}


def _log_records(git: Git, args: Sequence[str], paths: Sequence[str]) -> list[tuple[str, str, str]] | None:
    """(commit, path, new blob) for every raw entry of a path-limited `git log`; None on failure.

    Past a few dozen paths, git's pathspec matching costs more than reading every change of the
    range and keeping the wanted paths here (185 paths over 2,000 commits: 2.0 s against 0.15 s)."""
    out: list[tuple[str, str, str]] = []
    wanted = set(paths) if len(paths) > PATHSPEC_LIMIT else None
    for chunk in [()] if wanted is not None else _chunks(paths, 400):
        res = git.run(
            *_LOG, *args, *(["--full-history"] if wanted is not None else []), "--", *chunk, check=False
        )
        if res.returncode != 0:
            return None
        tokens = res.stdout.split(b"\0")
        commit = ""
        i = 0
        while i < len(tokens):
            tok = tokens[i].lstrip(b"\n")
            if tok.startswith(b"\x01"):
                commit = tok[1:].decode().strip()
            elif tok.startswith(b":") and i + 1 < len(tokens):
                meta = tok.decode().split()
                i += 1
                name = tokens[i].decode("utf-8", "surrogateescape")
                if len(meta) >= 4 and commit and (wanted is None or name in wanted):
                    out.append((commit, name, meta[3]))
            i += 1
    return out


def _written(git: Git, args: Sequence[str], paths: Sequence[str]) -> dict[str, dict[str, str]] | None:
    records = _log_records(git, args, paths)
    if records is None:
        return None
    out: dict[str, dict[str, str]] = {}
    for commit, name, blob in records:
        out.setdefault(name, {}).setdefault(blob, commit)  # newest first: keep the newest writer
    return out


def _written_list(
    git: Git, args: Sequence[str], paths: Sequence[str]
) -> dict[str, list[tuple[str, str]]] | None:
    records = _log_records(git, args, paths)
    if records is None:
        return None
    out: dict[str, list[tuple[str, str]]] = {}
    for commit, name, blob in records:
        out.setdefault(name, []).append((commit, blob))
    return out


def _evil_merges(git: Git, up: str, fork: str, paths: Sequence[str]) -> dict[str, str] | None:
    """Paths where a fork-only merge committed content that neither parent had (a hand merge).

    `--cc` drops hunks where the merge took one parent's text, so clean merges show nothing."""
    out: dict[str, str] = {}
    wanted = set(paths)
    for chunk in _chunks(paths, 400):
        res = git.run(
            "log", "--merges", "--cc", "-U0", "--format=%x01%H", f"{up}..{fork}", "--", *chunk, check=False
        )
        if res.returncode != 0:
            return None
        commit = ""
        for line in res.stdout.split(b"\n"):
            if line.startswith(b"\x01"):
                commit = line[1:].decode().strip()
            elif line.startswith(b"diff --cc "):
                name = _unquote(line[len(b"diff --cc ") :])
                if name is None or name not in wanted:
                    return None  # a path we cannot read back: no evidence either way
                out.setdefault(name, commit)
    return out


def _upstreamed(git: Git, commits: set[str], upstream_commits: Sequence[str]) -> set[str] | None:
    """Fork-only commits whose whole patch upstream also has (a cherry-pick keeps author and patch-id).

    Compared: the upstream commits that changed these paths (the upstream walk listed them) written
    by one of the fork commits' authors; patch-ids of a handful of commits, not of every upstream
    commit since the base."""
    if not commits or not upstream_commits:
        return set()
    listed = [*sorted(commits), *upstream_commits]
    res = git.run(
        "log", "--no-walk=unsorted", "--stdin", "--format=%H %ae", "--", input="\n".join(listed).encode(), check=False
    )  # fmt: skip
    if res.returncode != 0:
        return None
    email = {commit: addr for commit, _, addr in (line.partition(" ") for line in res.out.splitlines())}
    authors = {email[c] for c in commits if c in email}
    if not authors:
        return None
    candidates = [c for c in upstream_commits if email.get(c) in authors]
    if not candidates:
        return set()
    ids = _patch_ids(git, [*sorted(commits), *candidates])
    if ids is None:
        return None
    upstream_ids = {ids[c] for c in candidates if c in ids}
    return {c for c in commits if c in ids and ids[c] in upstream_ids}


def _patch_ids(git: Git, commits: Sequence[str]) -> dict[str, str] | None:
    res = git.run(
        "log", "--no-walk=unsorted", "--stdin", "-p", "--no-renames", "--format=commit %H", "--",
        input="\n".join(commits).encode(), check=False,
    )  # fmt: skip
    if res.returncode != 0:
        return None
    ids = git.run("patch-id", "--stable", input=res.stdout, check=False)
    if ids.returncode != 0:
        return None
    out: dict[str, str] = {}
    for line in ids.out.splitlines():
        pid, _, commit = line.partition(" ")
        out[commit] = pid
    return out


def _unquote(raw: bytes) -> str | None:
    """A path as git prints it in a diff header (C-quoted when unusual); None if unreadable."""
    if not raw.startswith(b'"'):
        return raw.decode("utf-8", "surrogateescape")
    body = raw[1:-1] if raw.endswith(b'"') else None
    if body is None:
        return None
    out = bytearray()
    i = 0
    simple = {
        ord("n"): 10,
        ord("t"): 9,
        ord('"'): 34,
        ord("\\"): 92,
        ord("a"): 7,
        ord("b"): 8,
        ord("f"): 12,
        ord("r"): 13,
        ord("v"): 11,
    }
    while i < len(body):
        c = body[i]
        if c != 92:
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1] if i + 1 < len(body) else None
        if nxt in simple:
            out.append(simple[nxt])
            i += 2
        elif nxt is not None and 48 <= nxt <= 55:
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            return None
    return out.decode("utf-8", "surrogateescape")


def _chunks(items: Sequence[str], size: int) -> list[Sequence[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- who changed what: for the agent and the PR body ---------------------------------------------


def ownership(ctx: Context, path: str, fork_start: int, n_lines: int) -> list[CommitInfo]:
    """The fork commits since the base that last touched these fork-side lines (git blame)."""
    if not (ctx.fork_commit and ctx.base_commit) or fork_start < 1:
        return []
    span = f"{fork_start},+{max(n_lines, 1)}"
    res = ctx.git.run(
        "blame", "--porcelain", "-L", span, f"{ctx.base_commit}..{ctx.fork_commit}", "--", path, check=False
    )
    if res.returncode != 0:
        return []
    infos: dict[str, dict[str, str]] = {}
    order: list[str] = []
    current: dict[str, str] | None = None
    for line in res.out.splitlines():
        if line.startswith("\t"):
            current = None
            continue
        parts = line.split(" ")
        if current is None and len(parts) >= 3 and len(parts[0]) in (40, 64):
            current = infos.setdefault(parts[0], {})
            if parts[0] not in order:
                order.append(parts[0])
            continue
        if current is not None:
            key, _, value = line.partition(" ")
            current[key] = value
    return [
        CommitInfo(
            sha,
            info.get("author", ""),
            _iso(info.get("author-time", ""), info.get("author-tz", "")),
            info.get("summary", ""),
        )
        for sha in order
        if "boundary" not in (info := infos[sha])
    ]


def _iso(epoch: str, tz: str) -> str:
    import datetime as dt

    try:
        sign = -1 if tz.startswith("-") else 1
        offset = dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[3:5])) * sign
        return dt.datetime.fromtimestamp(int(epoch), dt.timezone(offset)).isoformat()
    except (ValueError, IndexError):
        return ""


def upstream_commits_for(ctx: Context, path: str, limit: int = 50) -> list[CommitInfo]:
    """Upstream commits since the base that changed this path, newest first."""
    if not (ctx.upstream_commit and ctx.base_commit):
        return []
    return _commit_list(ctx.git, [f"--max-count={limit}", f"{ctx.base_commit}..{ctx.upstream_commit}"], path)


def _commit_list(git: Git, args: Sequence[str], path: str) -> list[CommitInfo]:
    res = git.run("log", "--format=%H%x1f%an%x1f%aI%x1f%s%x1e", *args, "--", path, check=False)
    if res.returncode != 0:
        return []
    out = []
    for rec in res.out.split("\x1e"):
        fields = rec.strip("\n").split("\x1f")
        if len(fields) == 4:
            out.append(CommitInfo(*fields))
    return out

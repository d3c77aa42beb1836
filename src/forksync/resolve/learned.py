"""Reuse of the fork's past resolutions: git rerere, learned from history instead of recorded.

Each recent past merge of the repository (the fork's and upstream's history and every branch)
is merged again (`git merge-tree`, no worktree); each conflicted file is line-merged as the
engine would, and its hunks are aligned with the file that was committed, which yields how a
person (or an agent, reviewed) resolved each hunk. Resolutions are keyed by the
whitespace-normalized (fork text, upstream text) pair, so a recurring conflict is recognised
wherever the context around it moved, and whichever side each text was on. A replay of the past
(``Context.as_of``) learns only from merges committed before it: never from itself or anything
newer. Results are cached per merge in `<git common dir>/forksync/learned.json`.

A merge that committed conflict markers (forksync's own review mode does) teaches nothing from
those files: the markers would be "learned" and proposed again, leaving the next release's
hunk open. Where a person fixed the markers later (the first commit after the merge that
touches the file, on any branch), that fix is learned instead; such a merge is cached with the
first later commit of each marked file, and learned again only when that commit changes (a fix
came since) or is newer than a replay (which must not see a fix newer than itself).

The work is bounded by the conflicted paths, not by the size of history: of the recent merges
(``learn-limit``) that changed one of them, only those whose resolution changed it (`git log
--remerge-diff`) are merged again, each once ever (cached by commit id, so the cache can never
answer for a history that does not hold that merge).
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from ..errors import GitError
from ..git import Git, cat_blobs, tree_entries
from .conflicts import decode, has_markers, merge_file, split_lines
from .history import batch_for
from .model import Context, Decision, Hunk, Versions, is_binary

CACHE_VERSION = 2  # 1 could hold resolutions learned from committed conflict markers
MIN_KEY_CHARS = 24  # shorter pairs ("}" against ")") recur with different answers
MAX_FILE_BYTES = 2_000_000
FIX_TIMEOUT_S = 20.0  # the search for a person's fix of committed markers, per file
_STAGE = re.compile(r"^(\d{6}) ([0-9a-f]{40,64}) ([123])\t(.*)$", re.S)
_TREE = re.compile(r"^[0-9a-f]{40,64}$")

Stages = dict[str, dict[int, tuple[str, str]]]


@dataclass(frozen=True)
class Learned:
    merge: str
    kind: str  # fork | upstream | fork+upstream | upstream+fork | drop | custom
    lines: tuple[str, ...]
    exact: str  # hash of the exact (fork, upstream) texts it was learned from


class LearnedResolver:
    name = "learned"

    def prefetch(self, ctx: Context, paths: Sequence[str]) -> None:
        """Build the index while the line merges run (the engine calls this beside them)."""
        if paths and ctx.config.resolve.learn_from_history and ctx.fork_commit:
            # On a fault nothing is memoized: resolve_hunk meets it again, where the engine turns
            # a resolver's fault into a reason instead of a crash.
            with contextlib.suppress(Exception):
                learned_index(ctx, batch_for(ctx, paths[0]).paths)

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None:
        if not ctx.config.resolve.learn_from_history or not ctx.fork_commit:
            return None
        key = hunk_key(hunk.fork, hunk.upstream)
        if key is None:
            return None
        index = learned_index(ctx, batch_for(ctx, v.path).paths)
        hits = index.get(key)
        if not hits:  # the same conflict met with the sides the other way round (another branch's merge)
            swapped = index.get(_pair(_side_hash(hunk.upstream), _side_hash(hunk.fork)), [])
            hits = [Learned(h.merge, _swap(h.kind), h.lines, h.exact) for h in swapped]
        if not hits:
            return None
        answers = {_norm(_apply(h, hunk)) for h in hits}
        newest = hits[0]
        lines = _apply(newest, hunk)
        if len(answers) > 1:
            merges = ", ".join(dict.fromkeys(h.merge[:10] for h in hits))
            return Decision("learned", 0.3, f"past merges resolved this differently ({merges})", lines=lines)
        same = newest.exact == _exact(hunk.fork, hunk.upstream)
        confidence = 0.95 if same or newest.kind != "custom" else 0.85
        seen = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
        why = f"resolved the same way ({newest.kind}) in merge {newest.merge[:10]}{seen}"
        return Decision("learned", confidence, why + ("" if same else ", up to whitespace"), lines=lines)


MIN_ORDER_VOTES = 4  # past hunks that kept both sides' additions, before their order is followed
ORDER_SHARE = 0.75  # of them, at least this share with the merged-in side first to put it first


def additions_order(ctx: Context, paths: Sequence[str]) -> tuple[bool, str]:
    """Whether both sides' additions at one place go checked-out side first, and why.

    Measured on the past merges of these paths (the learned rule's index): each hunk people
    resolved by keeping both sides whole votes for the order they used. Without enough votes
    for the other order, the checked-out side goes first, as git's union merge does (and as
    people did in 40 of 43 such litellm hunks).
    """
    first = second = 0
    learning = ctx.config.resolve.learn_from_history and "learned" not in ctx.config.resolve.disable
    if learning and ctx.fork_commit and paths:
        with contextlib.suppress(Exception):  # history unreadable: the default order, said so
            for hits in learned_index(ctx, paths).values():
                for h in hits:  # kinds are by parent: "fork" is the merge's first, checked-out parent
                    first += h.kind == "fork+upstream"
                    second += h.kind == "upstream+fork"
    votes = first + second
    if votes >= MIN_ORDER_VOTES and second >= ORDER_SHARE * votes:
        return False, f"the merged-in side, as people did in {second} of {votes} such past hunks here"
    if votes:
        return True, f"the checked-out side, as people did in {first} of {votes} such past hunks here"
    return True, "the checked-out side, as git's union merge does"


def _apply(h: Learned, hunk: Hunk) -> tuple[str, ...]:
    """The learned answer rebuilt from this hunk's own lines where it was a choice of sides."""
    return {
        "fork": hunk.fork,
        "upstream": hunk.upstream,
        "fork+upstream": hunk.fork + hunk.upstream,
        "upstream+fork": hunk.upstream + hunk.fork,
        "drop": (),
    }.get(h.kind, h.lines)


def _norm(lines: Sequence[str]) -> str:
    return "\n".join(" ".join(line.split()) for line in lines if line.strip())


def _exact(fork: Sequence[str], upstream: Sequence[str]) -> str:
    """The exact texts of both sides, whichever side each was on."""
    pair = sorted(("".join(fork), "".join(upstream)))
    return hashlib.sha1("\0\0".join(pair).encode("utf-8", "surrogateescape")).hexdigest()


def hunk_key(fork: Sequence[str], upstream: Sequence[str]) -> str | None:
    """Whitespace-normalized (fork, upstream) pair; None when too small to be recognised safely."""
    f, u = _norm(fork), _norm(upstream)
    if len(f) + len(u) < MIN_KEY_CHARS or f == u:
        return None
    return _pair(_side_hash(fork), _side_hash(upstream))


def _pair(fork_hash: str, upstream_hash: str) -> str:
    return hashlib.sha1(f"{fork_hash}:{upstream_hash}".encode()).hexdigest()


def _side_hash(lines: Sequence[str]) -> str:
    return hashlib.sha1(_norm(lines).encode("utf-8", "surrogateescape")).hexdigest()[:20]


# -- the index ----------------------------------------------------------------------------------


def learned_index(ctx: Context, paths: Sequence[str] | None = None) -> dict[str, list[Learned]]:
    """The resolutions learned from past merges; with ``paths``, only from merges that changed
    one of them (a merge that never touched a path cannot have conflicted on it), so the work is
    bounded by the paths in conflict, not by the number of merges in the repository."""
    key = "learned.index" if paths is None else "learned.index:" + _digest(sorted(paths))
    made = ctx.memo(key, lambda: _build_index(ctx, paths))
    return made if isinstance(made, dict) else {}


def _digest(items: Sequence[str]) -> str:
    return hashlib.sha1("\0".join(items).encode("utf-8", "surrogateescape")).hexdigest()


def _build_index(ctx: Context, paths: Sequence[str] | None = None) -> dict[str, list[Learned]]:
    git, fork = ctx.git, ctx.fork_commit
    assert fork
    limit = ctx.config.resolve.learn_limit
    if limit <= 0:
        return {}
    # Every branch teaches, not only the fork's ancestry: the same conflict is often met again
    # by a parallel branch merging the same upstream (43 of 53 recurrences in CartoDB/litellm).
    before = [f"--before=@{ctx.as_of - 1}"] if ctx.as_of is not None else []
    tips = (fork, *([ctx.upstream_commit] if ctx.upstream_commit else []), "--branches", "--remotes")
    res = git.run(
        "log", "--merges", "--format=%H %P", f"--max-count={limit}", *before, *tips, "--", check=False
    )  # fmt: skip
    now = {fork, ctx.upstream_commit}
    # The merge being replayed (same two parents) is the answer, not a past lesson.
    merges = [f for f in (line.split() for line in res.out.splitlines()) if len(f) == 3 and set(f[1:]) != now]
    if merges and paths is not None:
        touching = merges_touching(git, [m[0] for m in merges], paths)
        merges = [m for m in merges if touching is None or m[0] in touching]
    if not merges:
        return {}
    cache = _Cache(git)
    if paths is not None:
        # Of the merges never learned, only those whose own resolution changed one of the paths can
        # teach about them (3 of the 93 that changed one of litellm's four at v1.81.3): the rest are not merged again.
        # Which paths a merge's resolution changed is a fact of history: it is kept in the cache.
        unknown = [
            m[0]
            for m in merges
            if cache.get(m[0]) is None and m[0] not in cache.marked and m[0] not in cache.resolved
        ]
        found = resolved_paths(git, unknown)
        if found is not None:
            cache.resolved.update((sha, sorted(names)) for sha, names in found.items())
            cache.dirty = cache.dirty or bool(found)
            wanted = set(paths)
            merges = [
                m for m in merges if m[0] not in cache.resolved or wanted.intersection(cache.resolved[m[0]])
            ]
    known: dict[str, list[Entry]] = {}
    todo: list[tuple[str, str, str]] = []
    for sha, p1, p2 in merges:
        entries = cache.get(sha)
        marked = cache.marked.get(sha)
        fixes = FixUps(tips, ctx.as_of, known=cache.fixups)
        if entries is None and marked is not None and fixes.same_as(git, sha, marked["seen"]):
            entries = marked["entries"]  # what its markers' fix-ups taught has not changed
        if entries is None:
            todo.append((sha, p1, p2))
        else:
            known[sha] = entries

    def learn(merge: tuple[str, str, str]) -> tuple[list[Entry], dict[str, str] | None]:
        fixes = FixUps(tips, ctx.as_of, known=cache.fixups)  # one each: `met` and `seen` are per merge
        entries = learn_merge(git, *merge, fixes=fixes)
        return entries, (dict(fixes.seen) if fixes.met else None)

    # Each merge is a few `git` processes: on a cold cache (a fresh clone) they run side by side.
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 2)) as pool:
        for (sha, _, _), (entries, seen) in zip(todo, pool.map(learn, todo), strict=True):
            cache.put(sha, entries, seen)
            known[sha] = entries
    index: dict[str, list[Learned]] = {}
    for sha, _, _ in merges:  # newest first
        # Stored by (first parent's text, second parent's text); which of them was the fork
        # then is read off the texts at lookup (the current fork's text matches one of them).
        for h1, h2, exact, kind, lines in known[sha]:
            index.setdefault(_pair(h1, h2), []).append(Learned(sha, kind, tuple(lines), exact))
    cache.save()
    return index


# Above this many paths, the merges' changes are listed whole and the wanted paths kept here
# (git's pathspec matching costs more than reading the names; see history.PATHSPEC_LIMIT).
PATHSPEC_LIMIT = 50


def merges_touching(git: Git, merges: Sequence[str], paths: Sequence[str]) -> set[str] | None:
    """The merges whose result differs from one of their parents at one of ``paths`` (every
    merge that conflicted on a path does: its parents differ there); None when git cannot tell.
    One `git diff-tree --stdin` for all of them, each merge against each parent."""
    wanted = set(paths) if len(paths) > PATHSPEC_LIMIT else None
    spec = [] if wanted is not None else list(paths)
    res = git.run(
        "diff-tree", "--stdin", "-m", "-r", "-z", "--name-only", "--no-renames", "--", *spec,
        input="".join(f"{m}\n" for m in merges).encode(), check=False,
    )  # fmt: skip
    if res.returncode != 0:
        return None
    known, out, commit = set(merges), set(), ""
    for tok in res.stdout.split(b"\0"):
        name = tok.strip(b"\n").decode("utf-8", "surrogateescape")
        if name in known:
            commit = name
        elif commit and name and (wanted is None or name in wanted):
            out.add(commit)
    return out


def resolved_paths(git: Git, merges: Sequence[str]) -> dict[str, set[str]] | None:
    """Merge -> the paths where its committed result differs from git's own merge of its parents
    (`git log --remerge-diff`: every path that conflicted, whatever the resolution, and any evil
    change); None when git cannot tell (older than 2.36). The merges are read in two `git`
    processes side by side: 93 of litellm's merges take 0.33 s, against 0.7 s merging each again."""
    if not merges:
        return {}
    half = (len(merges) + 1) // 2
    chunks = [merges[:half], merges[half:]] if len(merges) > 8 else [merges]

    def read(chunk: Sequence[str]) -> bytes | None:
        res = git.run(
            "log", "--remerge-diff", "--name-only", "-z", "--format=%x01%H", "--no-walk=unsorted", *chunk,
            check=False,
        )  # fmt: skip
        return res.stdout if res.returncode == 0 else None

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        outputs = list(pool.map(read, chunks))
    out: dict[str, set[str]] = {m: set() for m in merges}
    for data in outputs:
        if data is None:
            return None
        commit = ""
        for tok in data.split(b"\0"):
            name = tok.strip(b"\n")
            if name.startswith(b"\x01"):
                commit = name[1:].decode().strip()
            elif commit in out and name:
                out[commit].add(name.decode("utf-8", "surrogateescape"))
    return out


def _swap(kind: str) -> str:
    return {
        "fork": "upstream",
        "upstream": "fork",
        "fork+upstream": "upstream+fork",
        "upstream+fork": "fork+upstream",
    }.get(kind, kind)


# -- learning from one merge --------------------------------------------------------------------

Entry = tuple[str, str, str, str, list[str]]  # (hash p1 text, hash p2 text, exact hash, kind, lines)


def conflicted_stages(git: Git, p1: str, p2: str) -> Stages | None:
    """Path -> {stage: (mode, oid)} of merging p1 and p2; {} when clean, None when git cannot merge."""
    res = git.run("merge-tree", "--write-tree", "-z", "--no-messages", p1, p2, check=False)
    tokens = res.stdout.split(b"\0")
    if not tokens or not _TREE.match(tokens[0].decode(errors="replace")):
        return None
    out: Stages = {}
    for tok in tokens[1:]:
        if not tok:
            break
        m = _STAGE.match(tok.decode("utf-8", "surrogateescape"))
        if m is None:
            break
        out.setdefault(m.group(4), {})[int(m.group(3))] = (m.group(1), m.group(2))
    return out


Fact = list[Any]  # [first later commit touching the path, its commit time, a plain commit?]


@dataclass
class FixUps:
    """Where a person's fix of markers a merge committed is looked for: commits after the merge
    (up to ``tips``, before ``as_of`` in a replay).

    Which commit first touched the file after the merge is a fact about history that later
    commits do not change: it is kept in ``known`` (saved with the cache) and read again only
    when it is unknown or newer than the replay (``as_of``)."""

    tips: tuple[str, ...] = ()
    as_of: int | None = None
    met: bool = False  # a merge committed markers: what it teaches depends on later commits
    known: dict[str, Fact] = field(default_factory=dict)  # "merge:path" -> fact
    seen: dict[str, str] = field(default_factory=dict)  # path -> first later commit read ("" none)

    def first(self, git: Git, merge: str, path: str) -> tuple[str, bool] | None:
        """The first later commit touching ``path`` that this run may see, and whether it is a
        plain commit; None when there is none (yet) or git could not tell in time."""
        fact = self.known.get(f"{merge}:{path}")
        if fact is not None and (self.as_of is None or fact[1] < self.as_of):
            return str(fact[0]), bool(fact[2])
        if not self.tips:
            return None
        before = [f"--before=@{self.as_of - 1}"] if self.as_of is not None else []
        try:
            res = git.run(
                "rev-list", "--ancestry-path", "--topo-order", "--reverse", *before,
                f"^{merge}", *self.tips, "--", path, check=False, timeout=FIX_TIMEOUT_S,
            )  # fmt: skip
        except GitError:  # timed out: skip, never block the sync
            return None
        first = res.out.split("\n", 1)[0].strip() if res.returncode == 0 else ""
        shown = git.run("show", "-s", "--format=%ct %P", first, check=False).out.split() if first else []
        if len(shown) < 2 or not shown[0].isdigit():
            return None
        self.known[f"{merge}:{path}"] = [first, int(shown[0]), len(shown) == 2]
        return first, len(shown) == 2

    def fixed(self, git: Git, merge: str, path: str) -> bytes | None:
        """The file as the first later commit touching it left it, if that is a plain commit
        (a person's fix-up, not the next merge) and holds no markers; else None."""
        self.met = True
        found = self.first(git, merge, path)
        self.seen[path] = found[0] if found else ""
        if found is None or not found[1]:  # none, or a merge (the next sync): not a person's fix
            return None
        data = git.cat_blob(f"{found[0]}:{path}")
        if data is None or len(data) > MAX_FILE_BYTES or is_binary(data) or has_markers(data):
            return None
        return data

    def same_as(self, git: Git, merge: str, seen: dict[str, str]) -> bool:
        """Whether every marked file's first later commit is still the one recorded in ``seen``."""
        for path, was in seen.items():
            now = self.first(git, merge, path)
            if (now[0] if now else "") != was:
                return False
        return True


def learn_merge(git: Git, sha: str, p1: str, p2: str, fixes: FixUps | None = None) -> list[Entry]:
    """Every hunk resolution that can be read unambiguously off one past merge (p1 as the fork).
    A file committed with conflict markers teaches only through a later fix (``fixes``)."""
    stages = conflicted_stages(git, p1, p2)
    if not stages:
        return []
    paths = [
        p for p, st in stages.items() if set(st) == {1, 2, 3} and all(m != "160000" for m, _ in st.values())
    ]
    committed = _committed(git, sha, paths)
    oids = [oid for p in paths for _, oid in stages[p].values()] + list(committed.values())
    blobs = cat_blobs(git, oids)
    out: list[Entry] = []
    for path in paths:
        st = stages[path]
        datas = [blobs.get(st[i][1]) for i in (1, 2, 3)]
        result = blobs.get(committed.get(path, ""))
        if result is None or any(d is None or is_binary(d) or len(d) > MAX_FILE_BYTES for d in datas):
            continue
        if has_markers(result):  # never learn markers: learn a person's later fix, or nothing
            result = (fixes or FixUps()).fixed(git, sha, path)
            if result is None:
                continue
        base, one, two = (d or b"" for d in datas)
        doc = merge_file(base, one, two)
        resolved = align(doc.parts, split_lines(decode(result)))
        for hunk in doc.hunks:
            lines = resolved.get(hunk.index)
            if lines is None:
                continue
            h1, h2 = _side_hash(hunk.fork), _side_hash(hunk.upstream)
            if hunk_key(hunk.fork, hunk.upstream) is None:
                continue
            out.append((h1, h2, _exact(hunk.fork, hunk.upstream), _kind(hunk, lines), list(lines)))
    return out


def _kind(hunk: Hunk, lines: tuple[str, ...]) -> str:
    for kind, candidate in (
        ("fork", hunk.fork),
        ("upstream", hunk.upstream),
        ("fork+upstream", hunk.fork + hunk.upstream),
        ("upstream+fork", hunk.upstream + hunk.fork),
        ("drop", ()),
    ):
        if lines == candidate:
            return kind
    return "custom"


def _committed(git: Git, merge: str, paths: list[str]) -> dict[str, str]:
    return {path: oid for path, (_, kind, oid) in tree_entries(git, merge, paths).items() if kind == "blob"}


# -- aligning a merge's hunks with the committed file ------------------------------------------


def align(parts: Sequence[list[str] | Hunk], result: list[str]) -> dict[int, tuple[str, ...]]:
    """Hunk index -> the committed lines that replaced it, where that can be told for sure.

    The stable blocks around the hunks must appear, in order, in the committed file; a hunk's
    resolution is what lies between them. When the blocks can be placed in more than one way
    (a short block repeated inside a resolution), only hunks whose boundaries agree in the
    leftmost and the rightmost placement count. If the person also edited stable lines, each
    hunk falls back to its own context lines, used only when they occur exactly once."""
    blocks: list[list[str]] = [[]]
    hunks: list[Hunk] = []
    for part in parts:
        if isinstance(part, Hunk):
            hunks.append(part)
            blocks.append([])
        else:
            blocks[-1].extend(part)
    if not hunks:
        return {}
    where = _positions(result)
    left = _place(blocks, result, where, leftmost=True)
    right = _place(blocks, result, where, leftmost=False)
    out: dict[int, tuple[str, ...]] = {}
    if left is not None and right is not None:
        for i, hunk in enumerate(hunks):
            start_l, start_r = left[i] + len(blocks[i]), right[i] + len(blocks[i])
            if start_l == start_r and left[i + 1] == right[i + 1]:
                out[hunk.index] = tuple(result[start_l : left[i + 1]])
        return out
    for i, hunk in enumerate(hunks):
        found = _by_context(blocks[i][-3:], blocks[i + 1][:3], result, where)
        if found is not None:
            out[hunk.index] = found
    return out


def _positions(lines: list[str]) -> dict[str, list[int]]:
    where: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        where.setdefault(line, []).append(i)
    return where


def _occurs(block: list[str], result: list[str], at: int) -> bool:
    return result[at : at + len(block)] == block


def _place(
    blocks: list[list[str]], result: list[str], where: dict[str, list[int]], *, leftmost: bool
) -> list[int] | None:
    """Start of each stable block in the result: first block at the top, last at the bottom."""
    n = len(blocks)
    pos = [0] * n
    pos[0] = 0
    pos[-1] = len(result) - len(blocks[-1])
    if (
        pos[-1] < len(blocks[0])
        or not _occurs(blocks[0], result, 0)
        or not _occurs(blocks[-1], result, pos[-1])
    ):
        return None
    if leftmost:
        for i in range(1, n - 1):
            found = _first_at_or_after(blocks[i], result, where, pos[i - 1] + len(blocks[i - 1]))
            if found is None:
                return None
            pos[i] = found
    else:
        for i in range(n - 2, 0, -1):
            found = _last_ending_by(blocks[i], result, where, pos[i + 1])
            if found is None:
                return None
            pos[i] = found
    ok = all(pos[i] + len(blocks[i]) <= pos[i + 1] for i in range(n - 1))
    return pos if ok else None


def _first_at_or_after(
    block: list[str], result: list[str], where: dict[str, list[int]], lo: int
) -> int | None:
    if not block:
        return lo
    cands = where.get(block[0], [])
    for at in cands[bisect.bisect_left(cands, lo) :]:
        if _occurs(block, result, at):
            return at
    return None


def _last_ending_by(block: list[str], result: list[str], where: dict[str, list[int]], hi: int) -> int | None:
    if not block:
        return hi
    cands = where.get(block[0], [])
    for at in reversed(cands[: bisect.bisect_right(cands, hi - len(block))]):
        if _occurs(block, result, at):
            return at
    return None


def _by_context(
    before: list[str], after: list[str], result: list[str], where: dict[str, list[int]]
) -> tuple[str, ...] | None:
    if sum(len(line.strip()) for line in before) < 3 or sum(len(line.strip()) for line in after) < 3:
        return None
    starts = [at for at in where.get(before[0], []) if _occurs(before, result, at)]
    ends = [at for at in where.get(after[0], []) if _occurs(after, result, at)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0] + len(before):
        return None
    return tuple(result[starts[0] + len(before) : ends[0]])


# -- the cache ----------------------------------------------------------------------------------


def _read_json(data: bytes) -> Any:
    """The cache file's value. It is read on every run (900 kB after litellm's 299 merges): msgspec
    reads it in 2 ms, the json module in 10 ms. A path git gave as bytes that are not UTF-8 is saved
    with surrogate escapes, which only the json module reads back."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data.decode("utf-8", errors="surrogateescape"))


class _Cache:
    """Learned entries per merge sha, in the repository's common git dir; best effort.

    A merge that committed markers is kept apart (``marked``) with the first later commit of
    each such file it was learned with (``seen``): it is learned again only when one differs.
    ``fixups`` holds those first later commits, facts of history that never go stale."""

    def __init__(self, git: Git) -> None:
        self.path: Path | None = None
        self.data: dict[str, list[Entry]] = {}
        self.marked: dict[str, dict[str, Any]] = {}
        self.fixups: dict[str, Fact] = {}
        self.resolved: dict[str, list[str]] = {}  # merge -> paths its resolution changed (remerge-diff)
        self.dirty = False
        try:
            self.path = git.common_dir() / "forksync" / "learned.json"
            raw = _read_json(self.path.read_bytes())
            if raw.get("version") == CACHE_VERSION and isinstance(raw.get("merges"), dict):
                self.data = {k: [tuple(e) for e in v] for k, v in raw["merges"].items()}
                marked = raw.get("marked", {})
                self.marked = {
                    k: {"entries": [tuple(e) for e in v["entries"]], "seen": dict(v["seen"])}
                    for k, v in marked.items()
                }
                self.fixups = {k: list(v) for k, v in raw.get("fixups", {}).items() if len(v) == 3}
                self.resolved = {k: list(v) for k, v in raw.get("resolved", {}).items()}
        except (OSError, ValueError, AttributeError, TypeError, KeyError):
            pass
        except Exception:  # not a repository we can read: learn without a cache
            self.path = None
        self.facts = len(self.fixups)

    def get(self, sha: str) -> list[Entry] | None:
        return self.data.get(sha)

    def put(self, sha: str, entries: list[Entry], seen: dict[str, str] | None = None) -> None:
        """Keep a merge's entries; ``seen``: it committed markers, and these fix-ups taught it."""
        if seen is None:
            self.data[sha] = entries
        else:
            self.marked[sha] = {"entries": entries, "seen": seen}
        self.dirty = True

    def save(self) -> None:
        if not (self.dirty or len(self.fixups) != self.facts) or self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            text = json.dumps(
                {
                    "version": CACHE_VERSION,
                    "merges": self.data,
                    "marked": self.marked,
                    "fixups": self.fixups,
                    "resolved": self.resolved,
                },
                ensure_ascii=False,
            )
            fd, tmp = tempfile.mkstemp(prefix=".learned-", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8", errors="surrogateescape") as fh:
                fh.write(text)
            os.replace(tmp, self.path)
        except OSError:
            pass  # a read-only repository: learning still works, it is just not remembered

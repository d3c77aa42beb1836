"""Who wrote each side of a hunk: the fork commits (by blame) and upstream's recent commits.

Small and bounded on purpose: a few commit titles, authors and message heads tell the model
why a side exists, which is most of what a person resolving the conflict would look up.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..git import Git

MAX_COMMITS = 5
MAX_BODY = 300


@dataclass(frozen=True)
class CommitNote:
    sha: str
    author: str
    subject: str
    body: str

    def line(self) -> str:
        body = " ".join(self.body.split())
        if len(body) > MAX_BODY:
            body = body[: MAX_BODY - 1] + "…"
        return f"{self.sha} {self.author}: {self.subject}" + (f" — {body}" if body else "")


def _notes(git: Git, args: list[str]) -> list[CommitNote]:
    res = git.run("log", "--format=%h%x1f%an%x1f%s%x1f%b%x1e", *args, check=False)
    if res.returncode != 0:
        return []
    out = []
    for rec in res.out.split("\x1e"):
        parts = rec.strip("\n").split("\x1f")
        if len(parts) == 4:
            out.append(CommitNote(*parts))
    return out


def blame_commits(git: Git, rev: str, base: str | None, path: str, start: int, count: int) -> list[str]:
    """Full shas of the commits after ``base`` that last touched lines start..start+count-1 at ``rev``
    (one `git blame base..rev`: lines older than the base come out as boundary and are dropped)."""
    if count <= 0 or start < 1:
        return []
    target = f"{base}..{rev}" if base else rev
    res = git.run("blame", "--porcelain", "-L", f"{start},+{count}", target, "--", path, check=False)
    if res.returncode != 0:
        return []
    order: list[str] = []
    boundary: set[str] = set()
    current = ""
    for line in res.out.splitlines():
        if line.startswith("\t"):
            current = ""
            continue
        head = line.split(" ", 1)[0]
        if not current and len(head) in (40, 64) and all(c in "0123456789abcdef" for c in head):
            current = head
            if head not in order:
                order.append(head)
        elif current and line == "boundary":
            boundary.add(current)
    return [sha for sha in order if sha not in boundary]


def side_commits(git: Git, rev: str, base: str | None, path: str, start: int, count: int) -> list[CommitNote]:
    """The commits on one side behind those lines, with their messages. When blame has nothing
    (the side deleted the lines), that side's latest commits on the file."""
    shas = blame_commits(git, rev, base, path, start, count)
    if shas:
        return _notes(git, ["--no-walk=unsorted", *shas[:MAX_COMMITS]])
    if base:
        return _notes(git, [f"-{MAX_COMMITS}", "--no-merges", f"{base}..{rev}", "--", path])
    return []


def locate(lines: list[str], block: tuple[str, ...], hint: int) -> int | None:
    """1-based start of ``block`` in ``lines`` nearest to ``hint`` (line numbers drift in merges)."""
    if not block:
        return None
    n = len(block)
    starts = [i + 1 for i in range(len(lines) - n + 1) if tuple(lines[i : i + n]) == block]
    return min(starts, key=lambda s: abs(s - hint)) if starts else None

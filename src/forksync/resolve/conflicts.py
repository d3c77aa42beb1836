"""Line-level three-way merge through `git merge-file`, and the parsed result.

git's own merge decides what conflicts; this module only turns its diff3 output into
stable lines and ``Hunk`` objects, and renders a document back, with markers for the hunks
that stay unresolved. Text is decoded with ``surrogateescape`` so any bytes round-trip.
"""

from __future__ import annotations

import difflib
import re
import subprocess
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from .model import Hunk

ENC = "utf-8"
ERRORS = "surrogateescape"
CONTEXT = 3


def decode(data: bytes) -> str:
    return data.decode(ENC, ERRORS)


def encode(text: str) -> bytes:
    return text.encode(ENC, ERRORS)


_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def split_lines(text: str) -> list[str]:
    """Lines split on \\n only (``str.splitlines`` would also split on form feeds and
    other separators that git treats as ordinary characters); endings are kept."""
    return _LINE.findall(text)


def marker_size(*texts: bytes) -> int:
    """7 unless some input already has lines that look like markers; then longer."""
    size = 7
    for data in texts:
        for ch in (b"<", b">", b"=", b"|"):
            while (b"\n" + ch * size) in data or data.startswith(ch * size):
                size += 1
    return size


@dataclass
class MergedDoc:
    """A merge result: a sequence of stable line blocks and conflict hunks."""

    parts: list[list[str] | Hunk]
    size: int  # marker size used
    labels: tuple[str, str, str] = ("fork", "base", "upstream")

    @property
    def hunks(self) -> list[Hunk]:
        return [p for p in self.parts if isinstance(p, Hunk)]

    def render(self, resolved: dict[int, tuple[str, ...]] | None = None) -> str:
        """Text with each hunk replaced by its resolution, or by diff3 markers if none."""
        resolved = resolved or {}
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, Hunk):
                if part.index in resolved:
                    out.extend(resolved[part.index])
                else:
                    out.extend(conflict_block(part, self.size, self.labels))
            else:
                out.extend(part)
        return "".join(out)


def conflict_block(hunk: Hunk, size: int, labels: tuple[str, str, str]) -> list[str]:
    nl = _newline(hunk)
    out = [f"{'<' * size} {labels[0]}{nl}"]
    out.extend(_terminated(hunk.fork, nl))
    out.append(f"{'|' * size} {labels[1]}{nl}")
    out.extend(_terminated(hunk.base, nl))
    out.append(f"{'=' * size}{nl}")
    out.extend(_terminated(hunk.upstream, nl))
    out.append(f"{'>' * size} {labels[2]}{nl}")
    return out


def _newline(hunk: Hunk) -> str:
    for line in (*hunk.fork, *hunk.upstream, *hunk.base):
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith("\n"):
            return "\n"
    return "\n"


def _terminated(lines: tuple[str, ...], nl: str) -> list[str]:
    if lines and not lines[-1].endswith(("\n", "\r")):
        return [*lines[:-1], lines[-1] + nl]
    return list(lines)


def merge_file(
    base: bytes, fork: bytes, upstream: bytes, *, labels: tuple[str, str, str] = ("fork", "base", "upstream")
) -> MergedDoc:
    """Run ``git merge-file --diff3`` (fork as current, upstream as other) and parse it."""
    size = marker_size(base, fork, upstream)
    proc = _git_on_files(
        [
            "merge-file",
            "-p",
            "--diff3",
            f"--marker-size={size}",
            "-L",
            labels[0],
            "-L",
            labels[1],
            "-L",
            labels[2],
        ],
        [("fork", fork), ("base", base), ("upstream", upstream)],
    )
    if proc.returncode < 0 or proc.returncode > 127:
        raise RuntimeError(f"git merge-file failed: {proc.stderr.decode(errors='replace').strip()}")
    doc = parse_merged(decode(proc.stdout), size, labels)
    locate_in_fork(doc, split_lines(decode(fork)))
    return doc


def parse_merged(
    text: str, size: int = 7, labels: tuple[str, str, str] = ("fork", "base", "upstream")
) -> MergedDoc:
    """Parse diff3-style output into stable blocks and hunks (with a little context)."""
    start_m, base_m, mid_m, end_m = "<" * size, "|" * size, "=" * size, ">" * size
    parts: list[list[str] | Hunk] = []
    stable: list[str] = []
    state = "stable"
    fork: list[str] = []
    base: list[str] = []
    up: list[str] = []
    fork_line = 1
    hunk_start = 1
    index = 0

    def is_marker(line: str, marker: str, exact: bool = False) -> bool:
        if not line.startswith(marker):
            return False
        rest = line[size:]
        if exact:
            return rest.strip("\r\n") == ""
        return rest[:1] in (" ", "\n", "\r", "")

    for line in split_lines(text):
        if state == "stable":
            if is_marker(line, start_m):
                if stable:
                    parts.append(stable)
                stable = []
                fork, base, up = [], [], []
                hunk_start = fork_line
                state = "fork"
            else:
                stable.append(line)
                fork_line += 1
        elif state == "fork":
            if is_marker(line, base_m):
                state = "base"
            elif is_marker(line, mid_m, exact=True):
                state = "upstream"
            else:
                fork.append(line)
                fork_line += 1
        elif state == "base":
            if is_marker(line, mid_m, exact=True):
                state = "upstream"
            else:
                base.append(line)
        elif state == "upstream":
            if is_marker(line, end_m):
                index += 1
                parts.append(Hunk(index, tuple(base), tuple(fork), tuple(up), hunk_start))
                state = "stable"
            else:
                up.append(line)
    if state != "stable":
        raise ValueError("unterminated conflict block")
    if stable:
        parts.append(stable)
    _attach_context(parts)
    return MergedDoc(parts, size, labels)


def _attach_context(parts: list[list[str] | Hunk]) -> None:
    for i, part in enumerate(parts):
        if not isinstance(part, Hunk):
            continue
        prev = parts[i - 1] if i > 0 else None
        nxt = parts[i + 1] if i + 1 < len(parts) else None
        before = tuple(prev[-CONTEXT:]) if isinstance(prev, list) else ()
        after = tuple(nxt[:CONTEXT]) if isinstance(nxt, list) else ()
        parts[i] = Hunk(part.index, part.base, part.fork, part.upstream, part.fork_start, before, after)


def locate_in_fork(doc: MergedDoc, fork_lines: list[str]) -> None:
    """Set each hunk's ``fork_start`` to its line in the fork's own file (0 when it cannot be told).

    The merged text also holds upstream's cleanly merged changes, so counting its lines is only
    right where upstream changed nothing above the hunk: align the two when they differ."""
    view: list[str] = []
    starts: list[int] = []
    for part in doc.parts:
        if isinstance(part, Hunk):
            starts.append(len(view))
            view.extend(part.fork)
        else:
            view.extend(part)
    if not starts or view == fork_lines:
        return
    found: list[int] = []
    # difflib is quadratic where lines repeat: 2.9 s on litellm's 20,000-line price list, where
    # git's own diff takes 0.05 s. Long files are aligned by git, short ones here (no process).
    # None: git's alignment; True/False: difflib's fast alignment, then its exact one if the fast
    # one misplaces a hunk.
    passes: list[bool | None] = [None] if max(len(view), len(fork_lines)) > GIT_ALIGN_LINES else [True, False]
    for junk in passes:
        where: dict[int, int] = {}
        blocks = (
            _git_matching_blocks(view, fork_lines)
            if junk is None
            else difflib.SequenceMatcher(None, view, fork_lines, autojunk=junk).get_matching_blocks()
        )
        for a, b, n in blocks:
            for k in range(n):
                where[a + k] = b + k
        found = []
        for start, hunk in zip(starts, doc.hunks, strict=True):
            if hunk.fork:
                pos = where.get(start)
                ok = pos is not None and fork_lines[pos : pos + len(hunk.fork)] == list(hunk.fork)
            else:
                prev = where.get(start - 1) if start > 0 else -1
                pos = prev + 1 if prev is not None else where.get(start)
                ok = pos is not None
            found.append(pos + 1 if ok and pos is not None else 0)
        if all(found):
            break
    by_index = dict(zip((h.index for h in doc.hunks), found, strict=True))
    doc.parts = [replace(p, fork_start=by_index[p.index]) if isinstance(p, Hunk) else p for p in doc.parts]


GIT_ALIGN_LINES = 3000  # above this many lines, `git diff` aligns a hunk's file (see locate_in_fork)
_HUNK_HEADER = re.compile(rb"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@", re.M)


def _git_matching_blocks(a: list[str], b: list[str]) -> list[tuple[int, int, int]]:
    """(start in a, start in b, length) of the runs of lines equal in both, from `git diff
    --histogram` of the two texts (no runs when git cannot be run: every hunk is then "unknown")."""
    proc = _git_on_files(
        ["diff", "--no-index", "--no-color", "--no-ext-diff", "--histogram", "-U0", "--"],
        [("a", encode("".join(a))), ("b", encode("".join(b)))],
    )
    if proc.returncode not in (0, 1):
        return []
    blocks: list[tuple[int, int, int]] = []
    ia = ib = 0
    for m in _HUNK_HEADER.finditer(proc.stdout):
        old_n, new_n = int(m.group(2) or 1), int(m.group(4) or 1)
        # A range of 0 lines starts after the line named; otherwise at it (1-based).
        old_at = int(m.group(1)) - (1 if old_n else 0)
        new_at = int(m.group(3)) - (1 if new_n else 0)
        if old_at > ia:
            blocks.append((ia, ib, old_at - ia))
        ia, ib = old_at + old_n, new_at + new_n
    if len(a) > ia:
        blocks.append((ia, ib, len(a) - ia))
    return blocks


def n_lines(n: int) -> str:
    """ "1 line", "3 lines": how reasons count a hunk's lines."""
    return f"{n} line" if n == 1 else f"{n} lines"


def has_markers(data: bytes) -> bool:
    """True when the text holds a complete conflict block (the marker gate)."""
    text = decode(data)
    state = 0
    for line in split_lines(text):
        if state == 0 and line.startswith("<<<<<<<"):
            state = 1
        elif state == 1 and line.startswith("=======") and line.rstrip("\r\n").strip("=") == "":
            state = 2
        elif state == 2 and line.startswith(">>>>>>>"):
            return True
    return False


def union_merge(base: bytes, fork: bytes, upstream: bytes) -> bytes:
    """git's own union merge: both sides' lines, fork first, no markers."""
    return _git_on_files(
        ["merge-file", "-p", "--union"], [("fork", fork), ("base", base), ("upstream", upstream)]
    ).stdout


def _git_on_files(args: list[str], files: list[tuple[str, bytes]]) -> subprocess.CompletedProcess[bytes]:
    """`git <args> <file>...` on texts written to a temporary folder (git's file tools take paths)."""
    with tempfile.TemporaryDirectory(prefix="forksync-files-") as tmp:
        paths = []
        for name, data in files:
            path = Path(tmp) / name
            path.write_bytes(data)
            paths.append(str(path))
        return subprocess.run(["git", *args, *paths], capture_output=True, check=False)

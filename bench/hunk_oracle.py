"""What did people do in each conflict hunk, and could anything in the merge have predicted it?

    python bench/hunk_oracle.py --repo /path/to/CartoDB-litellm.git [--tsv FILE] [--out FILE]

Every conflicted text file of the TSV's merges (the generated UI bundle apart) is line-merged as
the engine does; the committed file is aligned with the merge's stable lines, which gives each
hunk's committed text. Each hunk is then classed: the fork's lines, upstream's, both (in either
order), the base, dropped, a mix of the sides' lines, or new text. A file whose stable lines the
person also edited is counted apart (no hunk rule can reproduce it).

For the hunks that took one side whole, three signals a deterministic rule could use are scored
against what people chose: whose last commit on the hunk's lines is newer (`git blame`), whether
one side's edit contains the other's, and, where both sides only added lines, how many lines the
two additions share. It measures; it asserts nothing. The figures are quoted in bench/README.md.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from forksync.backtest import _committed, parents
from forksync.git import Git, cat_blobs
from forksync.resolve.conflicts import decode, merge_file, split_lines
from forksync.resolve.engine import stage_versions
from forksync.resolve.learned import align, conflicted_stages
from forksync.resolve.model import Hunk

HERE = Path(__file__).resolve().parent
DEFAULT_TSV = HERE.parent.parent / "shared" / "bench" / "cartodb-litellm-merges.tsv"
UI_BUNDLE = "litellm/proxy/_experimental/out/"
SIDES = ("fork", "upstream", "fork+upstream", "upstream+fork")


def norm(lines: list[str] | tuple[str, ...]) -> list[str]:
    return [" ".join(line.split()) for line in lines if line.strip()]


def classify(h: Hunk, got: list[str]) -> str:
    cands = {
        "fork": list(h.fork),
        "upstream": list(h.upstream),
        "fork+upstream": [*h.fork, *h.upstream],
        "upstream+fork": [*h.upstream, *h.fork],
        "base": list(h.base),
    }
    for name, cand in cands.items():
        if norm(got) == norm(cand):
            return name
    if not norm(got):
        return "dropped"
    src = set(norm(h.fork)) | set(norm(h.upstream))
    return "mix" if all(line in src for line in norm(got)) else "new"


def edits(base: tuple[str, ...], side: tuple[str, ...]) -> tuple[Counter[str], Counter[str]]:
    b, s = norm(base), norm(side)
    added: Counter[str] = Counter()
    removed: Counter[str] = Counter()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, b, s, autojunk=False).get_opcodes():
        if op in ("replace", "delete"):
            removed.update(b[i1:i2])
        if op in ("replace", "insert"):
            added.update(s[j1:j2])
    return added, removed


def blame_times(repo: Path, rev: str, base: str, path: str) -> list[int] | None:
    """Commit time of each line of ``path`` at ``rev`` (0 for lines older than ``base``)."""
    res = subprocess.run(
        ["git", "-C", str(repo), "blame", "--porcelain", f"{base}..{rev}", "--", path],
        capture_output=True,
        timeout=120,
        check=False,
    )
    if res.returncode:
        return None
    times: dict[str, int] = {}
    lines: list[int] = []
    cur = ""
    for line in res.stdout.decode("utf-8", "replace").split("\n"):
        m = re.match(r"^([0-9a-f]{40}) \d+ \d+", line)
        if m:
            cur = m.group(1)
        elif line.startswith("committer-time "):
            times[cur] = int(line.split()[1])
        elif line.startswith("boundary"):
            times[cur] = 0
        elif line.startswith("\t"):
            lines.append(times.get(cur, 0))
    return lines


def locate(lines: list[str], h: Hunk) -> int:
    want = [*h.before, *h.upstream, *h.after]
    for q in range(len(lines) - len(want) + 1):
        if lines[q : q + len(want)] == want:
            return q + len(h.before)
    return -1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repo", required=True, type=Path)
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV)
    ap.add_argument("--out", type=Path, default=HERE / "results" / "hunk-oracle.json")
    args = ap.parse_args(argv)
    git = Git(args.repo)
    with args.tsv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    files: Counter[str] = Counter()
    hunks: Counter[str] = Counter()
    signals: Counter[str] = Counter()
    for n, row in enumerate(rows):
        sha = row["merge"]
        ps = parents(git, sha)
        if len(ps) != 2:
            continue
        fork, up = (ps[0], ps[1]) if row["fork_side"] == "p1" else (ps[1], ps[0])
        stages = conflicted_stages(git, ps[0], ps[1]) or {}
        truth = _committed(git, sha, sorted(stages))
        oids = [o for st in stages.values() for m, o in st.values() if m != "160000"]
        blobs = cat_blobs(git, oids + [o for m, o in truth.values() if m != "160000"])
        base = git.merge_base(fork, up) or ""
        fs, us = (2, 3) if row["fork_side"] == "p1" else (3, 2)
        for path, st in sorted(stages.items()):
            if path.startswith(UI_BUNDLE) or any(m != "160000" and o not in blobs for m, o in st.values()):
                continue
            v = stage_versions(path, st, blobs, fs, us)
            if v.kind not in ("content", "add/add") or path not in truth or truth[path][1] not in blobs:
                files["not a two-sided text file"] += 1
                continue
            doc = merge_file(v.base or b"", v.fork or b"", v.upstream or b"")
            aligned = align(
                doc.parts, split_lines(decode(blobs[truth[path][1]]))
            )  # as `learned` reads merges
            if len(aligned) != len(doc.hunks):
                files["some hunk cannot be told (stable lines edited too)"] += 1
                continue
            pairs = [(h, list(aligned[h.index])) for h in doc.hunks]
            kinds = [classify(h, got) for h, got in pairs]
            hunks.update(kinds)
            files[
                "every hunk one side or both" if all(k in SIDES for k in kinds) else "some hunk mixed or new"
            ] += 1
            for h, k in zip((h for h, _ in pairs), kinds, strict=True):
                if not h.base and k in SIDES:
                    f, u = set(norm(h.fork)), set(norm(h.upstream))
                    share = len(f & u) / max(1, min(len(f), len(u)))
                    both = "both kept" if "+" in k else "one side kept"
                    signals[
                        f"both only added, sharing {'>=30%' if share >= 0.3 else '<30%'} of lines: {both}"
                    ] += 1
            one = [
                (h, k) for h, k in zip((h for h, _ in pairs), kinds, strict=True) if k in ("fork", "upstream")
            ]
            if one:
                score_signals(args.repo, base, fork, up, path, v.upstream or b"", one, signals)
        print(f"[{n + 1}/{len(rows)}] {sha[:10]}", file=sys.stderr)
    result = {"files": dict(files), "hunks": dict(hunks), "signals": dict(sorted(signals.items()))}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def score_signals(
    repo: Path,
    base: str,
    fork: str,
    up: str,
    path: str,
    upstream: bytes,
    one: list[tuple[Hunk, str]],
    out: Counter[str],
) -> None:
    """For hunks where one side was kept whole: does each signal name the side people kept?"""
    bf, bu = blame_times(repo, fork, base, path), blame_times(repo, up, base, path)
    up_lines = split_lines(decode(upstream))
    for h, kept in one:
        af, rf = edits(h.base, h.fork)
        au, ru = edits(h.base, h.upstream)
        if h.base and not (af - au) and not (rf - ru):
            out[f"upstream's edit contains the fork's: {kept} kept"] += 1
        elif h.base and not (au - af) and not (ru - rf):
            out[f"the fork's edit contains upstream's: {kept} kept"] += 1
        if bf and bu and h.fork and h.upstream:
            q = locate(up_lines, h)
            tf = max(bf[h.fork_start - 1 : h.fork_start - 1 + len(h.fork)] or [0])
            tu = max(bu[q : q + len(h.upstream)] or [0]) if q >= 0 else None
            if tu is not None and tf != tu:
                out[f"{'fork' if tf > tu else 'upstream'}'s lines newer: {kept} kept"] += 1


if __name__ == "__main__":
    raise SystemExit(main())

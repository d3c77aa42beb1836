"""Does a path's own history say when the engine is wrong? Measured on CartoDB/litellm.

    python bench/path_habits.py --repo /path/to/litellm.git --results bench/results/litellm-<stamp>.json

Issue 14 §1 asks for at most 2 % of conflicted files wrong. The wrong files left are people's
choices between sides, so the one signal left to try is the fork's own habit on each path: how
people resolved that path's conflict hunks in the merges before (the learned rule's reading of a
past merge: one side, both sides, or their own text). For every file the replay settled
(exact, ws-equal or wrong in `bench/litellm.py`'s results), this counts the earlier merges'
hunks on the same path and asks whether a habit (enough earlier hunks, most of them one kind)
would have told the wrong files from the right ones; and, for the files left open, whether
following the habit (taking the side people usually take there) would have been right.
A signal worth a rule opens many wrong files and few right ones. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
from collections import Counter
from pathlib import Path

from forksync.git import Git, cat_blobs
from forksync.resolve.conflicts import decode, has_markers, merge_file, split_lines
from forksync.resolve.learned import _committed, _kind, align, conflicted_stages
from forksync.resolve.model import is_binary

DEFAULT_TSV = Path(__file__).resolve().parents[2] / "shared" / "bench" / "cartodb-litellm-merges.tsv"
BY_ROLE = {
    "fork": "upstream",
    "upstream": "fork",
    "fork+upstream": "upstream+fork",
    "upstream+fork": "fork+upstream",
}
ONE_SIDE = {"fork", "upstream"}


def hunk_kinds(git: Git, row: dict[str, str]) -> dict[str, list[str]]:
    """Path -> how each conflict hunk of this merge was resolved, sides named by role."""
    p1, p2 = row["p1"], row["p2"]
    stages = conflicted_stages(git, p1, p2) or {}
    paths = [
        p for p, st in stages.items() if set(st) == {1, 2, 3} and all(m != "160000" for m, _ in st.values())
    ]
    committed = _committed(git, row["merge"], paths)
    blobs = cat_blobs(git, [oid for p in paths for _, oid in stages[p].values()] + list(committed.values()))
    out: dict[str, list[str]] = {}
    for path in paths:
        sides = [blobs.get(stages[path][i][1]) for i in (1, 2, 3)]
        result = blobs.get(committed.get(path, ""))
        if result is None or any(s is None or is_binary(s) for s in sides) or has_markers(result):
            continue
        doc = merge_file(*(s or b"" for s in sides))
        resolved = align(doc.parts, split_lines(decode(result)))
        kinds = [_kind(h, resolved[h.index]) for h in doc.hunks if h.index in resolved]
        out[path] = kinds if row["fork_side"] == "p1" else [BY_ROLE.get(k, k) for k in kinds]
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, required=True)
    ap.add_argument("--results", type=Path, required=True, help="a bench/litellm.py results JSON")
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV)
    args = ap.parse_args()
    git = Git(args.repo.resolve())
    with args.tsv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    when = {
        sha: int(t)
        for sha, t in (
            line.split()
            for line in subprocess.run(
                [
                    "git",
                    "-C",
                    str(args.repo),
                    "log",
                    "--no-walk=unsorted",
                    "--format=%H %ct",
                    *(r["merge"] for r in rows),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.splitlines()
        )
    }
    kinds = {row["merge"]: hunk_kinds(git, row) for row in rows}
    results = json.loads(args.results.read_text(encoding="utf-8"))
    files = [
        (when[m["sha"]], m["sha"], f["path"], f["verdict"])
        for m in results["merges"]
        for f in m["files"]
        if "_experimental/out/" not in f["path"]
    ]

    def before(t: int, path: str) -> list[str]:
        return [k for sha, per in kinds.items() if when[sha] < t for k in per.get(path, [])]

    print(
        "files the replay settled, opened by a habit (earlier hunks on the path >= N, share of one kind >= S)"
    )
    print("  habit: people took one side whole / people wrote their own text")
    for votes, share in ((3, 0.75), (4, 0.75), (4, 1.0)):
        for name, kind_of in (("one side", ONE_SIDE), ("own text", {"custom", "drop"})):
            opened: Counter[str] = Counter()
            for t, _, path, verdict in files:
                if verdict in ("exact", "ws-equal", "wrong"):
                    past = before(t, path)
                    if len(past) >= votes and sum(k in kind_of for k in past) >= share * len(past):
                        opened["right" if verdict != "wrong" else "wrong"] += 1
            print(
                f"  N={votes} S={share:.2f} {name:<8}: opens {opened['wrong']} wrong and {opened['right']} right"
            )
    print("files the replay left open, settled by the side people usually took there")
    for votes, share in ((3, 0.75), (4, 0.9)):
        settled: Counter[str] = Counter()
        for t, sha, path, verdict in files:
            past = before(t, path)
            if verdict != "unresolved" or len(past) < votes:
                continue
            top, count = Counter(past).most_common(1)[0]
            now = kinds.get(sha, {}).get(path)
            if top in ONE_SIDE and count >= share * len(past) and now:
                settled["right" if all(k == top for k in now) else "wrong"] += 1
        print(f"  N={votes} S={share:.2f}: {settled['right']} right, {settled['wrong']} wrong")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

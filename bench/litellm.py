"""Backtest the engine on CartoDB/litellm's 299 conflicted merges (real fork syncs).

    python bench/litellm.py --repo /path/to/CartoDB-litellm.git [--tsv FILE] [--limit N] [--kind K] [--config F]

Each merge listed in the TSV (`../shared/bench/cartodb-litellm-merges.tsv`) is replayed from
blobs with the TSV's fork side; every conflicted file is scored against the committed merge.
Prints a table per kind (upstream_sync / fork_branch / other) and overall, the generated UI
bundle paths (`litellm/proxy/_experimental/out/`, whose ground truth is known to be the fork's
stale copy) apart, and the wrong results grouped by rule. Writes the full JSON to
bench/results/. It measures; it asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from msgspec.structs import replace

from forksync.backtest import SCORED, Backtest, MergeOutcome, MergeSpec, replay, summary
from forksync.config import Config, load_config_text
from forksync.git import Git

HERE = Path(__file__).resolve().parent
DEFAULT_TSV = HERE.parent.parent / "shared" / "bench" / "cartodb-litellm-merges.tsv"
UI_BUNDLE = "litellm/proxy/_experimental/out/"
KINDS = ("upstream_sync", "fork_branch", "other")


def load_specs(tsv: Path, kinds: set[str] | None, limit: int | None) -> list[MergeSpec]:
    with tsv.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    specs = [
        MergeSpec(r["merge"], "p2" if r["fork_side"] == "p2" else "p1", r["kind"])
        for r in rows
        if kinds is None or r["kind"] in kinds
    ]
    return specs[:limit] if limit else specs


def table(bt: Backtest) -> list[str]:
    def ui(path: str) -> bool:
        return path.startswith(UI_BUNDLE)

    def not_ui(path: str) -> bool:
        return not ui(path)

    rows: list[tuple[str, str | None, Callable[[str], bool] | None]] = [
        *((k, k, ui) for k in KINDS),
        ("all (UI bundle apart)", None, ui),
        ("UI bundle only", None, not_ui),
        ("all files", None, None),
    ]
    head = f"{'kind':<22} {'merges':>6} {'files':>6} {'exact':>7} {'ws-eq':>7} {'ex+ws':>7} {'open':>7} "
    head += f"{'wrong':>7} {'loss':>7} {'error':>5} {'binary':>6} {'missing':>7} {'s/merge':>8}"
    out = [head, "-" * len(head)]
    for name, label, exclude in rows:
        s = summary(bt, label, exclude)
        p, c = s["percent"], s["counts"]
        out.append(
            f"{name:<22} {s['merges']:>6} {s['scored_files']:>6} {p['exact']:>6.1f}% {p['ws-equal']:>6.1f}% "
            f"{s['percent_exact_or_ws']:>6.1f}% {p['unresolved']:>6.1f}% {p['wrong']:>6.1f}% {s['percent_loss']:>6.1f}% {c['error']:>5} "
            f"{c['binary']:>6} {c['missing']:>7} {s['seconds_per_merge']:>8.2f}"
        )
    return out


def wrong_by_rule(bt: Backtest) -> dict[str, list[str]]:
    by: dict[str, list[str]] = defaultdict(list)
    for m in bt.merges:
        for f in m.files:
            if f.verdict in ("wrong", "error"):
                tag = " (UI bundle)" if f.path.startswith(UI_BUNDLE) else ""
                by[f"{f.verdict}: {f.rule or '-'}"].append(
                    f"{m.sha[:10]} {m.label} {f.path}{tag}: {f.reason} [{f.difference or '-'}, {f.delta} lines off]"
                )
    return dict(sorted(by.items(), key=lambda kv: -len(kv[1])))


def rules_used(bt: Backtest) -> dict[str, dict[str, int]]:
    """Per rule: how many files it settled, by verdict."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for m in bt.merges:
        for f in m.files:
            if f.verdict in SCORED and f.verdict != "unresolved":
                out[f.rule or "-"][f.verdict] += 1
                if f.verdict == "wrong":
                    out[f.rule or "-"][f"wrong:{f.difference}"] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", type=Path, required=True, help="a CartoDB/litellm git directory (bare is fine)")
    ap.add_argument("--tsv", type=Path, default=DEFAULT_TSV)
    ap.add_argument("--limit", type=int, default=None, help="replay only the first N merges of the TSV")
    ap.add_argument("--kind", action="append", choices=KINDS, help="only these kinds (repeatable)")
    ap.add_argument(
        "--out", type=Path, default=None, help="JSON output (default: bench/results/litellm-*.json)"
    )
    ap.add_argument("--config", type=Path, default=None, help="a .forksync.toml to use (default: none)")
    ap.add_argument(
        "--held-out",
        action="store_true",
        help="calibrate the rules on the older half of the merges (by commit date), then score the newer "
        "half with and without that calibration",
    )
    args = ap.parse_args(argv)
    if args.held_out:
        return held_out(args)
    specs = load_specs(args.tsv, set(args.kind) if args.kind else None, args.limit)
    git = Git(args.repo)
    started = time.perf_counter()

    def progress(i: int, m: MergeOutcome) -> None:
        n = len(m.files)
        print(
            f"[{i + 1}/{len(specs)}] {m.sha[:10]} {m.label:<13} {n:>3} files {m.seconds:6.2f}s {m.skipped}",
            file=sys.stderr,
            flush=True,
        )

    config = load_config_text(args.config.read_text(), args.config.name) if args.config else Config()
    bt = replay(git, config, specs, progress=progress)
    print("\n".join(table(bt)))
    apart = summary(bt, None, lambda p: p.startswith(UI_BUNDLE))["wrong_by_difference"]
    print("wrong, UI bundle apart, by how it differs: " + ", ".join(f"{d} {n}" for d, n in apart.items()))
    print(f"\n{len(bt.merges)} merges in {time.perf_counter() - started:.1f}s")
    print(
        "\nfiles settled per rule (wrong:<how>: how a wrong file differs from the committed one; "
        "only wrong:loss loses what a side wrote, see src/forksync/difference.py):"
    )
    for rule, counts in rules_used(bt).items():
        print(f"  {rule:<48} " + "  ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    print("\nwrong results by rule:")
    for rule, cases in wrong_by_rule(bt).items():
        print(f"  {rule}  ({len(cases)})")
        for case in cases[:15]:
            print(f"    {case}")
    out = args.out or HERE / "results" / f"litellm-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = bt.to_json()
    data["per_kind"] = {k: summary(bt, k) for k in KINDS}
    data["ui_bundle_apart"] = summary(bt, None, lambda p: p.startswith(UI_BUNDLE))
    data["rules"] = rules_used(bt)
    out.write_text(json.dumps(data, indent=1))
    print(f"\nJSON: {out}")
    return 0


def held_out(args: argparse.Namespace) -> int:
    """Calibration measured honestly: learned on older merges, scored on newer ones."""
    from forksync.resolve import calibration

    specs = load_specs(args.tsv, set(args.kind) if args.kind else None, args.limit)
    git = Git(args.repo)
    dated = sorted(specs, key=lambda s: int(git.out("log", "-1", "--format=%ct", s.sha)))
    older, newer = dated[: len(dated) // 2], dated[len(dated) // 2 :]
    config = load_config_text(args.config.read_text(), args.config.name) if args.config else Config()
    plain = replace(config, resolve=replace(config.resolve, calibrate=False))
    train = replay(git, plain, older)
    stats = calibration.measure((f.rule, f.verdict) for m in train.merges for f in m.files)
    path = calibration.path_for(git.common_dir())
    if path.exists():
        raise SystemExit(f"{path} exists: move it away first (this run writes and removes its own)")
    calibration.save(git.common_dir(), stats, len(older))
    try:
        calibrated = replay(git, config, newer)
    finally:
        path.unlink()
    uncalibrated = replay(git, plain, newer)
    print(f"calibrated on the {len(older)} older merges; rules measured there:")
    for name, s in sorted(stats.items()):
        print(f"  {name:<40} right={s['right']} wrong={s['wrong']} precision={s['precision']}")
    for title, bt in (("newer half, uncalibrated", uncalibrated), ("newer half, calibrated", calibrated)):
        print(f"\n{title}:")
        print("\n".join(table(bt)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

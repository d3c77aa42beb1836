"""Confidence measured on the repository's own history, not assumed.

`forksync backtest --calibrate` replays the fork's past conflicted merges and records, per
rule, how often the files it settled matched what people committed. When that file exists
(`<git dir>/forksync/calibration.json`), a rule whose record shows beyond chance that it falls
short of the engine's bar (the upper end of the 95% Wilson interval is below `min-confidence`)
is worth no more than its measured precision: right in 2 of 7 files here, it leaves its hunks
open. Path policies are the user's word and are never discounted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from .model import Context, Decision

FILE = "calibration.json"
MIN_SAMPLES = 5  # fewer observations say nothing about a rule


def path_for(common_dir: Path) -> Path:
    return common_dir / "forksync" / FILE


def rules_of(rule: str) -> list[str]:
    """The rule names behind a backtest file rule ("hunks:a,b" → a and b)."""
    if rule.startswith("hunks:"):
        return [r for r in rule[len("hunks:") :].split(",") if r]
    return [rule] if rule and rule not in ("hunks", "none") else []


def measure(outcomes: Iterable[tuple[str, str]]) -> dict[str, dict[str, float | int]]:
    """(rule, verdict) pairs → per rule: right, wrong, precision."""
    stats: dict[str, dict[str, float | int]] = {}
    for rule, verdict in outcomes:
        if verdict not in ("exact", "ws-equal", "wrong"):
            continue
        for name in rules_of(rule):
            entry = stats.setdefault(name, {"right": 0, "wrong": 0})
            entry["right" if verdict != "wrong" else "wrong"] += 1
    for entry in stats.values():
        total = int(entry["right"]) + int(entry["wrong"])
        entry["precision"] = round(int(entry["right"]) / total, 4) if total else 0.0
    return stats


def save(common_dir: Path, stats: dict[str, dict[str, float | int]], merges: int) -> Path:
    path = path_for(common_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"merges": merges, "rules": stats}, indent=2, sort_keys=True) + "\n")
    return path


def _load(ctx: Context) -> dict[str, tuple[float, int]]:
    if not ctx.config.resolve.calibrate:
        return {}
    try:
        data = json.loads(path_for(ctx.git.common_dir()).read_text(encoding="utf-8"))
        rules = data["rules"]
        return {
            str(name): (float(v["precision"]), int(v["right"]) + int(v["wrong"]))
            for name, v in rules.items()
            if isinstance(v, dict)
        }
    except Exception:  # no file, or one we cannot read: the rules keep their own confidence
        return {}


def adjust(ctx: Context, decision: Decision) -> Decision:
    """Cap a decision's confidence at its rule's measured precision on this repository."""
    if decision.rule.startswith("policy:") or decision.stop:
        return decision
    table = ctx.memo("calibration", lambda: _load(ctx))
    if not isinstance(table, dict) or not table:
        return decision
    for name in (decision.rule, decision.rule.split(":", 1)[0]):
        measured = table.get(name)
        if measured is None:
            continue
        precision, samples = measured
        bar = min(decision.confidence, ctx.config.resolve.min_confidence)
        if samples >= MIN_SAMPLES and upper_bound(precision, samples) < bar:
            note = f" (calibrated: right in {precision:.0%} of {samples} past files here)"
            return replace(decision, confidence=precision, reason=decision.reason + note)
        return decision
    return decision


def upper_bound(precision: float, samples: int, z: float = 1.96) -> float:
    """The Wilson score interval's upper end: the best precision the record still allows.

    A rule is discounted only when its record shows, beyond chance, that it falls short of the
    bar; a few unlucky files (16 right of 19: up to 95%) do not silence it."""
    n = float(samples)
    centre = precision + z * z / (2 * n)
    spread = z * math.sqrt(precision * (1 - precision) / n + z * z / (4 * n * n))
    return min(1.0, (centre + spread) / (1 + z * z / n))

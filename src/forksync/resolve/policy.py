"""Per-path policies from the config (and a few safe defaults for forks).

The first matching policy wins: configured ones in order, then the defaults. `merge`
means "resolve carefully with the other rules"; `manual` means "a person decides".
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from .model import Context, Decision, FileResult, Versions
from .paths import matches

LOCK_FILES = (
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
    "package-lock.json",
    "yarn.lock",
    "pnpm-lock.yaml",
    "Cargo.lock",
    "composer.lock",
    "Gemfile.lock",
    "go.sum",
)


@dataclass(frozen=True)
class Rule:
    glob: str
    policy: str
    reason: str
    command: str | list[str] | None = None


def rules_for(ctx: Context) -> list[Rule]:
    def make() -> list[Rule]:
        cfg = ctx.config
        rules = [
            Rule(p.path, p.policy, p.reason or f"configured policy for {p.path}", p.command)
            for p in cfg.resolve.policies
        ]
        if cfg.resolve.default_policies:
            rules += [Rule(g, "keep-fork", f"fork-owned path ({g})") for g in cfg.fork.owned_paths]
            marker = cfg.fork.name.lower()
            rules += [
                Rule(f".github/workflows/{marker}-*", "keep-fork", "fork-only workflow"),
                Rule(f".github/workflows/{marker}_*", "keep-fork", "fork-only workflow"),
                Rule(f"{cfg.fork.name.upper()}_*.md", "keep-fork", "fork-only document"),
            ]
            rules += [
                Rule(name, "take-upstream", "generated lock file: taken from upstream, regenerate if needed")
                for name in LOCK_FILES
            ]
        return rules

    return ctx.memo("policy.rules", make)  # type: ignore[return-value]


def policy_for(ctx: Context, path: str) -> Rule | None:
    return next((r for r in rules_for(ctx) if matches(r.glob, path)), None)


class PathPolicyResolver:
    name = "policy"

    def resolve_file(self, ctx: Context, v: Versions) -> Decision | None:
        rule = policy_for(ctx, v.path)
        if rule is None or rule.policy == "merge":
            return None
        why = f"{rule.reason} (glob '{rule.glob}')"
        if rule.policy == "keep-fork":
            return Decision("policy:keep-fork", 1.0, why, content=v.fork, delete=v.fork is None)
        if rule.policy in ("take-upstream", "regenerate"):
            return Decision(f"policy:{rule.policy}", 1.0, why, content=v.upstream, delete=v.upstream is None)
        if rule.policy == "union":
            if v.fork is None or v.upstream is None:
                return None
            from .conflicts import union_merge

            return Decision("policy:union", 1.0, why, content=union_merge(v.base or b"", v.fork, v.upstream))
        return Decision("policy:manual", 0.0, why + ": left for a person", stop=True)


def regenerate_commands(ctx: Context, results: Sequence[FileResult]) -> list[list[str]]:
    """The commands of the `regenerate` policies these results used, each once, in order."""
    out: list[list[str]] = []
    for res in results:
        if res.rule != "policy:regenerate":
            continue
        rule = policy_for(ctx, res.path)
        if rule is not None and rule.command:
            argv = rule.command if isinstance(rule.command, list) else shlex.split(rule.command)
            if argv not in out:
                out.append(argv)
    return out

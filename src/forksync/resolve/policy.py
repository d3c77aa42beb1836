"""Per-path policies from the config (and a few safe defaults for forks).

The first matching policy wins: configured ones in order, then the defaults. `merge`
means "resolve carefully with the other rules"; `manual` means "a person decides".
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import CONFIG_FILE
from .model import Context, Decision, FileResult, Versions
from .paths import matches

# Lock files and the command that re-locks each against the merged manifest without upgrading
# what is already pinned (None: no such command we trust; the file is taken from upstream).
LOCK_TOOLS: dict[str, list[str] | None] = {
    "poetry.lock": ["poetry", "lock"],  # Poetry 2 keeps existing pins (1.x needs --no-update)
    "uv.lock": ["uv", "lock"],
    "Pipfile.lock": None,  # `pipenv lock` upgrades everything
    "package-lock.json": ["npm", "install", "--package-lock-only", "--ignore-scripts"],
    "yarn.lock": None,
    "pnpm-lock.yaml": ["pnpm", "install", "--lockfile-only", "--ignore-scripts"],
    "Cargo.lock": ["cargo", "update", "--workspace"],
    "composer.lock": None,  # `composer update --lock` only rehashes; a re-lock upgrades
    "Gemfile.lock": ["bundle", "lock"],
}
# Lists of checksums: every line either side needs must stay, so they merge by union (taking
# upstream's go.sum whole drops the checksums of the fork's own modules and the build fails).
CHECKSUM_LISTS = ("go.sum", "go.work.sum")


def is_lock_file(path: str) -> bool:
    return path.rsplit("/", 1)[-1] in LOCK_TOOLS


@dataclass(frozen=True)
class Rule:
    glob: str
    policy: str
    reason: str
    command: str | list[str] | None = None


def rules_for(ctx: Context) -> list[Rule]:
    def make() -> list[Rule]:
        cfg = ctx.config
        # Always first: upstream never configures the fork (see resolve/fork_config.py).
        rules = [Rule(CONFIG_FILE, "keep-fork", "the fork's own forksync config")]
        rules += [
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
            rules += [_lock_rule(name, tool) for name, tool in LOCK_TOOLS.items()]
            rules += [
                Rule(name, "union", "checksum list: both sides' lines kept (each side's modules need theirs)")
                for name in CHECKSUM_LISTS
            ]
        return rules

    return ctx.memo("policy.rules", make)  # type: ignore[return-value]


def _lock_rule(name: str, tool: list[str] | None) -> Rule:
    """LESSON 7: a lock file is regenerated, never merged line by line; upstream's copy is the
    starting point (the tool re-locks it against the merged manifest)."""
    if tool and shutil.which(tool[0]):
        return Rule(name, "regenerate", f"generated lock file: regenerated with `{' '.join(tool)}`", tool)
    hint = f"`{' '.join(tool)}` ({tool[0]} is not on PATH here)" if tool else "its package manager"
    return Rule(name, "take-upstream", f"generated lock file: taken from upstream; regenerate it with {hint}")


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
            if v.path.rsplit("/", 1)[-1] in CHECKSUM_LISTS:
                return Decision("policy:union", 1.0, why, content=line_union(v.fork, v.upstream))
            from .conflicts import union_merge

            return Decision("policy:union", 1.0, why, content=union_merge(v.base or b"", v.fork, v.upstream))
        return Decision("policy:manual", 0.0, why + ": left for a person", stop=True)


def line_union(fork: bytes, upstream: bytes) -> bytes:
    """Every distinct line of both sides, once: sorted when both sides are sorted (as `go mod
    tidy` writes go.sum), else upstream's lines in order followed by the fork's own."""
    up = [line for line in upstream.split(b"\n") if line]
    fk = [line for line in fork.split(b"\n") if line]
    if up == sorted(up) and fk == sorted(fk):
        lines = sorted(set(up) | set(fk))
    else:
        seen = set(up)
        lines = [*up, *(line for line in dict.fromkeys(fk) if line not in seen)]
    return b"\n".join(lines) + b"\n" if lines else b""


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

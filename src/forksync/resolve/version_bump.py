"""Both sides set a different version number on the same version field: keep the higher.

Every release sync meets this (`version = "1.81.3"` in the fork against `"1.81.9"` from
upstream, in pyproject.toml, package.json, `__version__`, Helm's appVersion). The merge brings
the newer release, so the newer number wins; a fork whose own number is higher (its own
scheme, say 1.82.0+fork.1 against 1.81.9) keeps it. Only lines whose key is a version field
qualify: a dependency pin changed on both sides is a real choice (the fork's pins win, in the
TOML merge), not a bump.
"""

from __future__ import annotations

import re

from ..releases import loose_version
from .model import Context, Decision, Hunk, Versions

_VERSION_LINE = re.compile(
    r"""^(?P<key>\s*(?:["']?(?:version|__version__|VERSION|appVersion|app_version)["']?)\s*[:=]\s*["']?)"""
    r"""(?P<ver>v?\d+(?:\.\d+)+(?:[-+._]?[A-Za-z0-9]+)*)(?P<rest>["']?,?\s*(?:#.*)?)$"""
)
MAX_LINES = 4


def higher_version(base: object, fork: object, upstream: object) -> str | None:
    """ "fork" or "upstream": whose version string is higher (and not below the base), if clear."""
    if not (isinstance(base, str) and isinstance(fork, str) and isinstance(upstream, str)):
        return None
    b, f, u = loose_version(base), loose_version(fork), loose_version(upstream)
    if b is None or f is None or u is None or f == u or max(f, u) < b:
        return None
    return "upstream" if u > f else "fork"


def _split(line: str) -> tuple[str, str, str] | None:
    m = _VERSION_LINE.match(line.rstrip("\r\n"))
    return (m.group("key"), m.group("ver"), m.group("rest")) if m else None


class VersionBumpResolver:
    name = "version"

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision | None:
        base, fork, up = hunk.base, hunk.fork, hunk.upstream
        if not (len(base) == len(fork) == len(up)) or not 1 <= len(fork) <= MAX_LINES:
            return None
        winner: str | None = None
        pairs: list[tuple[str, str]] = []
        for b, f, u in zip(base, fork, up, strict=True):
            if f == u:
                continue
            parts = [_split(line) for line in (b, f, u)]
            if any(p is None for p in parts):
                return None
            (bk, bv, br), (fk, fv, fr), (uk, uv, ur) = parts  # type: ignore[misc]
            if not (bk == fk == uk and br.strip() == fr.strip() == ur.strip()):
                return None  # something besides the number changed
            side = higher_version(bv, fv, uv)
            if side is None or winner not in (None, side):
                return None  # no clear order, or the lines disagree
            winner = side
            pairs.append((fv, uv))
        if winner is None:
            return None
        fv, uv = pairs[0]
        high, low = (uv, fv) if winner == "upstream" else (fv, uv)
        other = "the fork's" if winner == "upstream" else "upstream's"
        return Decision(
            "version:higher",
            0.95,
            f"both sides set the version: kept the higher, {high} ({winner}), over {other} {low}",
            lines=up if winner == "upstream" else fork,
        )

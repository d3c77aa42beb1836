"""The four snapshots a verification compares, and what every check needs to name a finding."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..config import Config, Feature
from ..git import Git
from ..resolve.paths import matches
from .project import Project
from .pyindex import PyFile
from .trees import WORKTREE, Tree


@dataclass
class Sides:
    git: Git
    config: Config
    base: Project
    fork: Project
    upstream: Project
    merged: Project
    features: list[Feature] = field(default_factory=list)
    open_paths: frozenset[str] = frozenset()  # left for review with conflict markers: not evidence
    _blame: dict[tuple[str, str, int], str] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        git: Git,
        config: Config,
        base: str,
        fork: str,
        upstream: str,
        merged: str,
        open_paths: Iterable[str] = (),
    ) -> Sides:
        blobs: dict[str, bytes] = {}
        parsed: dict[tuple[str, str], PyFile | None] = {}
        headers: dict[str, Counter[tuple[str, str]]] = {}
        b, f, u, m = (
            Project(Tree(git, rev, blobs), parsed, headers) for rev in (base, fork, upstream, merged)
        )
        return cls(git, config, b, f, u, m, open_paths=frozenset(open_paths))

    def is_open(self, path: str) -> bool:
        """Is ``path`` a file left for review, whose merged copy (markers and all) proves nothing?"""
        return path in self.open_paths

    def feature_for(self, path: str, commit: str = "") -> str:
        for feature in self.features:
            if any(matches(p, path) for p in feature.files) or (
                commit and any(commit.startswith(c) for c in feature.commits if len(c) >= 7)
            ):
                return feature.name
        return ""

    def blame(self, rev: str, path: str, line: int) -> str:
        """The commit that last changed ``path:line`` at ``rev`` ("" when uncommitted or unknown)."""
        key = (rev, path, line)
        if key not in self._blame:
            args = ["blame", "--porcelain", "-L", f"{max(line, 1)},{max(line, 1)}"]
            if rev != WORKTREE:
                args.append(rev)
            res = self.git.run(*args, "--", path, check=False)
            sha = res.out.split(" ", 1)[0] if res.returncode == 0 else ""
            self._blame[key] = "" if not sha or set(sha) == {"0"} else sha
        return self._blame[key]

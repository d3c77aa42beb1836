"""Forges: where sync pull requests live. One module per forge, chosen by `[forge] kind`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Config
    from .base import Forge


def make_forge(config: Config, repo: Path) -> Forge:
    kind = config.forge.kind
    if kind == "local":
        from .local import LocalForge

        return LocalForge.from_config(config, repo)
    if kind == "github":
        from .github import GitHubForge  # type: ignore[import-not-found,unused-ignore]

        return GitHubForge.from_config(config, repo)  # type: ignore[no-any-return,unused-ignore]
    if kind == "gitlab":
        from .gitlab import GitLabForge  # type: ignore[import-not-found,unused-ignore]

        return GitLabForge.from_config(config, repo)  # type: ignore[no-any-return,unused-ignore]
    raise ValueError(kind)

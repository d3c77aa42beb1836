"""An upstream's releases as its forge publishes them: GitLab's API for a GitLab host, else GitHub's."""

from __future__ import annotations

from ..config import Config
from ..errors import UpstreamError
from .base import ForgeRelease
from .common import repo_path
from .http import RetryPolicy


def upstream_releases(
    config: Config, upstream_url: str, retry: RetryPolicy | None = None
) -> list[ForgeRelease]:
    """Releases of the upstream repository (GitHub, GitHub Enterprise or GitLab), newest first,
    drafts and pre-releases included with their flags: the caller filters."""
    parsed = repo_path(upstream_url)
    if parsed is None:
        raise UpstreamError(
            f"cannot tell the upstream project from {upstream_url!r}",
            hint='release-source = "releases" needs an upstream on a forge',
        )
    from . import github, gitlab

    if gitlab.is_gitlab_host(config, parsed[0]):
        return gitlab.upstream_releases(config, upstream_url, retry)
    return github.upstream_releases(config, upstream_url, retry)

"""Upstream release detection: list tags (or forge releases), keep stable ones, order by version.

Tags come from `git ls-remote --tags` (no fetch). A tag is a release when it matches the
configured pattern, its name carries no pre-release word (rc, nightly, dev, …) and its
version (PEP 440) is not a pre- or dev-release. Order is by version, never by string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from packaging.version import InvalidVersion, Version

from .config import Config, compile_pattern
from .errors import ConfigError, UpstreamError
from .git import Git, check_ref_name


@dataclass(frozen=True)
class Release:
    tag: str
    version: Version
    commit: str  # peeled commit sha as upstream advertises it
    url: str = ""
    notes: str = ""
    published_at: str = ""

    @property
    def version_str(self) -> str:
        return str(self.version)


def parse_version(text: str) -> Version | None:
    try:
        return Version(text.strip().lstrip("vV"))
    except InvalidVersion:
        return None


def version_text(tag: str) -> str:
    """The version part of a tag name: from its first digit, without a `-stable` suffix."""
    m = re.search(r"\d", tag)
    text = tag[m.start() :] if m else tag
    return re.sub(r"[-_.]?stable$", "", text)


def loose_version(tag: str) -> Version | None:
    """A version to sort any tag by, even one that is no PEP 440 version (v1.2.0-nightly → 1.2.0)."""
    text = version_text(tag)
    m = re.match(r"\d+(?:\.\d+)*", text)
    return parse_version(text) or (parse_version(m.group(0)) if m else None)


def _excluded_word(tag: str, words: list[str]) -> str | None:
    parts = re.split(r"[^a-z]+", tag.lower())
    for word in words:
        w = word.lower()
        if w in parts or any(p.startswith(w) and p[len(w) :].isdigit() for p in parts if p):
            return word
        if re.search(rf"(?<![a-z]){re.escape(w)}\d*(?![a-z])", tag.lower()):
            return word
    return None


def tag_version(tag: str, config: Config) -> Version | None:
    """The release version a tag stands for, or None when it is not a stable release."""
    pattern = compile_pattern(config.upstream.release_tags)
    m = pattern.match(tag)
    if not m:
        return None
    if _excluded_word(tag, config.upstream.exclude):
        return None
    text = m.group(1) if m.groups() and m.group(1) else version_text(tag)
    version = parse_version(text)
    if version is None or version.is_prerelease or version.is_devrelease:
        return None
    return version


def stable_releases(tags: dict[str, str], config: Config) -> list[Release]:
    """Stable releases among ``tags`` (name -> commit), newest first; unsafe names dropped."""
    found: dict[Version, Release] = {}
    for tag, sha in tags.items():
        try:
            check_ref_name(tag, "tag")
        except Exception:
            continue
        version = tag_version(tag, config)
        if version is None:
            continue
        rel = Release(tag, version, sha)
        # Two tags for one version (v1.2.3 and v1.2.3-stable): prefer the shorter, plainer one.
        if version not in found or len(tag) < len(found[version].tag):
            found[version] = rel
    return sorted(found.values(), key=lambda r: r.version, reverse=True)


def list_upstream_tags(git: Git, url: str) -> dict[str, str]:
    try:
        return git.ls_remote_tags(url)
    except Exception as exc:
        raise UpstreamError(
            f"cannot reach upstream {url}: {exc}", hint="check [upstream] url and network access"
        ) from None


def releases_from_forge(config: Config, url: str, tags: dict[str, str]) -> list[Release]:
    """Stable releases as the forge publishes them (drafts and pre-releases dropped)."""
    from .forges.upstream import upstream_releases

    out: list[Release] = []
    for fr in upstream_releases(config, url):
        if fr.draft or fr.prerelease or fr.tag not in tags:
            continue
        try:
            check_ref_name(fr.tag, "tag")
        except Exception:
            continue
        version = parse_version(version_text(fr.tag))
        if version is None or version.is_prerelease or version.is_devrelease:
            continue
        if _excluded_word(fr.tag, config.upstream.exclude):
            continue
        out.append(Release(fr.tag, version, tags[fr.tag], fr.url, fr.body, fr.published_at))
    return sorted(out, key=lambda r: r.version, reverse=True)


def detect(git: Git, config: Config, url: str) -> tuple[list[Release], dict[str, str]]:
    """All stable releases (newest first) and the raw tag map."""
    tags = list_upstream_tags(git, url)
    source = config.upstream.release_source
    releases: list[Release] = []
    if source in ("releases", "both"):
        releases = releases_from_forge(config, url, tags)
    if source in ("tags", "both"):
        known = {r.version for r in releases}
        releases += [r for r in stable_releases(tags, config) if r.version not in known]
        releases.sort(key=lambda r: r.version, reverse=True)
    if not releases:
        raise UpstreamError(
            f"no stable release among {len(tags)} upstream tags matches '{config.upstream.release_tags}'",
            hint="set [upstream] release-tags to a pattern your upstream's tags follow",
        )
    return releases, tags


def included_releases(
    releases: list[Release], target: Release, current: Version | None, brought: set[str]
) -> list[Release]:
    """The releases the merge of ``target`` also brings: between the fork's version and the
    target, and in the target's history (``brought`` = commits in fork..target). Version order
    is not ancestry: stable releases tagged on release branches (v1.73.6-stable while the target
    is v1.81.3) never reach the target, so they are no part of what the merge brings."""
    return [
        r
        for r in releases
        if r.version < target.version and (current is None or r.version > current) and r.commit in brought
    ]


def compare_from(base: str, previous: Release | None) -> str:
    """Where the compare link starts: the previous merged release's tag only when that tag IS
    the merge base (a readable name for the same commit), else the merge base itself."""
    return previous.tag if previous is not None and previous.commit == base else base


def configured_upstream_url(git: Git, repo: Path, config: Config) -> str:
    """Where upstream is: `[upstream] url` (a relative local path taken from the repository), else
    the `upstream` remote's URL; a configuration error when neither is set."""
    url = config.upstream.url
    if url:
        if not re.match(r"^[a-z+]+://|^[\w.-]+@", url) and not Path(url).is_absolute():
            candidate = (repo / url).resolve()
            if candidate.exists():
                return str(candidate)
        return url
    res = git.run("remote", "get-url", "--", config.upstream.remote, check=False)
    if res.returncode == 0 and res.out.strip():
        return res.out.strip()
    raise ConfigError(
        f"no upstream: [upstream] url is empty and there is no remote '{config.upstream.remote}'",
        hint="set [upstream] url in .forksync.toml or `git remote add upstream URL`",
    )

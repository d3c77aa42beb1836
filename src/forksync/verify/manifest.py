"""The feature manifest and its checks: defined symbols, called symbols, patterns, tests.

The manifest is read from the fork's commit before the merge (the merge may have damaged
the merged copy, and upstream content is untrusted), and combined with the config's
``[[features]]``; entries with the same name are merged.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import msgspec

from ..config import Config, Feature, describe_error
from ..errors import ConfigError
from ..report import Finding
from ..resolve.paths import is_test_file, matches
from .context import Sides
from .fork_tests import TestOutcome, failed
from .pyindex import PyFile
from .trees import Tree

_LISTS = ("files", "commits", "pull_requests", "defines", "called", "patterns", "tests")


def parse_manifest(text: str, source: str) -> list[Feature]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    tables = data.get("features", [])
    if not isinstance(tables, list):
        raise ConfigError(f"{source}: 'features' must be an array of tables ([[features]])")
    out: list[Feature] = []
    for i, table in enumerate(tables):
        try:
            out.append(msgspec.convert(table, Feature))
        except msgspec.ValidationError as exc:
            raise ConfigError(describe_error(source, exc, table, Feature, ("features", i))) from None
    return out


def load_features(config: Config, tree: Tree) -> list[Feature]:
    """Config features, then the manifest's from ``tree`` (the fork's pre-merge commit)."""
    features: dict[str, Feature] = {}
    text = tree.text(config.verify.manifest)
    manifest = parse_manifest(text, config.verify.manifest) if text is not None else []
    for feature in [*config.features, *manifest]:
        known = features.get(feature.name)
        if known is None:
            features[feature.name] = feature
            continue
        update: dict[str, Any] = {
            k: list(dict.fromkeys([*getattr(known, k), *getattr(feature, k)])) for k in _LISTS
        }
        features[feature.name] = msgspec.structs.replace(known, **update)
    for feature in features.values():
        for pattern in feature.patterns:
            _regex(pattern, feature.name)
    return list(features.values())


def _regex(pattern: str, feature: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern.removeprefix("re:"))
    except re.error as exc:
        raise ConfigError(f"feature '{feature}': invalid pattern {pattern!r}: {exc}") from None


def _feature_files(sides: Sides, feature: Feature) -> list[str]:
    return [p for p in sides.merged.tree.files() if any(matches(g, p) for g in feature.files)]


def _split(symbol: str) -> tuple[str, str]:
    """'pkg.mod:Class.meth' -> ('pkg.mod', 'Class.meth'); 'path/x.py:f' keeps the path; bare -> ('', name)."""
    where, sep, name = symbol.partition(":")
    return (where, name) if sep else ("", symbol)


def _symbol_path(sides: Sides, symbol: str) -> str:
    where = _split(symbol)[0]
    return where if not where or where.endswith(".py") else sides.merged.modules.get(where, "")


def _defined(sides: Sides, feature: Feature, symbol: str) -> bool:
    where, name = _split(symbol)
    if where:
        path = where if where.endswith(".py") else sides.merged.modules.get(where, "")
        if sides.is_open(path):
            return True  # left for review with markers: it cannot be told, and the review lists it
        info = sides.merged.file(path) if path else None
        return info is not None and name in info.defs
    files = [p for p in _feature_files(sides, feature) if p.endswith(".py")]
    if not files:
        files = sides.merged.tree.grep_files([name.rsplit(".", 1)[-1]])
    found = any(name in info.defs for info in sides.merged.files(files))
    return found or any(sides.is_open(p) for p in files)


def _called(sides: Sides, symbol: str) -> bool:
    where, name = _split(symbol)
    last = name.rsplit(".", 1)[-1]
    wanted: tuple[str, str] | None = None
    if where:
        path = where if where.endswith(".py") else sides.merged.modules.get(where, "")
        wanted = (path, name)
    hits = sides.merged.tree.grep_files([last])
    for info in sides.merged.files(hits):
        if is_test_file(info.path):
            continue
        if any(_matches_call(sides, info, c.target, c.name, last, wanted) for c in info.calls if c.is_call):
            return True
    return any(sides.is_open(p) and not is_test_file(p) for p in hits)  # a call may be among the markers


def _matches_call(
    sides: Sides,
    info: PyFile,
    target: tuple[str, str] | None,
    name: str,
    last: str,
    wanted: tuple[str, str] | None,
) -> bool:
    if name != last:
        return False
    if wanted is None:
        return True
    if target is None:
        return "." in wanted[1]  # obj.method(): cannot resolve the receiver; accept by name for methods
    return sides.merged.locate(target) == wanted


def check_features(sides: Sides, outcomes: dict[str, TestOutcome]) -> list[Finding]:
    findings: list[Finding] = []

    def add(feature: Feature, message: str, path: str = "") -> None:
        commit = feature.commits[0] if feature.commits else ""
        findings.append(
            Finding("manifest", f"feature '{feature.name}': {message}", feature.name, path, 0, commit)
        )

    for feature in sides.features:
        files = _feature_files(sides, feature)
        for glob in feature.files:
            if not any(ch in glob for ch in "*?[") and glob not in files:
                add(feature, f"file {glob} is gone", glob)
        for symbol in feature.defines:
            if not _defined(sides, feature, symbol):
                add(feature, f"{symbol} is no longer defined", _symbol_path(sides, symbol))
        for symbol in feature.called:
            if not _called(sides, symbol):
                add(
                    feature,
                    f"{symbol} is no longer called from anywhere (tests aside)",
                    _symbol_path(sides, symbol),
                )
        for pattern in feature.patterns:
            regex = _regex(pattern, feature.name)
            texts = (sides.merged.tree.text(p) for p in files)
            if not any(t is not None and regex.search(t) for t in texts) and not any(
                map(sides.is_open, files)
            ):
                where = ", ".join(feature.files) or "(no files listed)"
                add(feature, f"pattern {pattern!r} not found in {where}")
        for node in feature.tests:
            result = outcomes.get(node)
            if result is not None and failed(result):
                detail = f": {result.detail[:200]}" if result.detail else ""
                add(feature, f"test {node} {result.outcome}{detail}", node.split("::", 1)[0])
    return findings

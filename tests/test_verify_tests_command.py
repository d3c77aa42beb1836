"""The fork's own tests run with the command the fork runs them with (``[verify] tests``), in one
process through ``forksync.checks.run_check``; an environment that cannot run them is ONE finding,
never one per test (a missing pytest once gave 344 identical findings, each with a git blame)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from forksync.config import parse_config
from forksync.errors import ConfigError
from forksync.report import Finding
from forksync.verify import verify
from tests.gitutil import Repo

PYTEST = [sys.executable, "-B", "-m", "pytest", "-q"]
FORK_TESTS = "".join(f"def test_fork_{i}():\n    assert True\n\n\n" for i in range(6)) + (
    "def test_fork_fails():\n    assert 1 == 2\n"
)


def _sync(tmp_path: Path, tests: str = FORK_TESTS) -> tuple[Repo, str, str]:
    repo = Repo(tmp_path / "r")
    repo.commit({"app.py": "X = 1\n", "tests/test_up.py": "def test_up():\n    assert True\n"}, "upstream")
    repo.git("branch", "upstream")
    fork = repo.commit({"tests/test_fork.py": tests}, "fork tests")
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit({"app.py": "X = 2\n"}, "upstream 2")
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "--no-edit", "upstream")
    return repo, fork, upstream


def _verify(repo: Repo, fork: str, upstream: str, tests: object) -> list[Finding]:
    config = parse_config({"verify": {"tests": tests}}, "t.toml")
    return verify(repo.path, config, fork_before=fork, upstream=upstream)


def _where(findings: list[Finding]) -> list[tuple[str, str, int]]:
    return [(f.kind, f.path, f.line) for f in findings]


def test_configured_command_runs_the_fork_tests(tmp_path: Path) -> None:
    repo, fork, upstream = _sync(tmp_path)
    for tests in (PYTEST, " ".join(PYTEST)):  # an argv list, or a string split like a shell
        findings = _verify(repo, fork, upstream, tests)
        assert _where(findings) == [("fork-test", "tests/test_fork.py", 25)]
        assert "test_fork_fails failed" in findings[0].message and findings[0].commit == fork
    assert not (repo.path / ".pytest_cache").exists()


def test_an_environment_without_pytest_is_one_finding(tmp_path: Path) -> None:
    repo, fork, upstream = _sync(tmp_path)
    no_site = [sys.executable, "-I", "-S", "-m", "pytest"]  # an interpreter that lacks pytest
    findings = _verify(repo, fork, upstream, no_site)
    assert _where(findings) == [("fork-test", "", 0)]
    assert "7 test(s) did not run" in findings[0].message and "No module named pytest" in findings[0].message


def test_a_command_that_cannot_start_is_one_finding(tmp_path: Path) -> None:
    repo, fork, upstream = _sync(tmp_path)
    findings = _verify(repo, fork, upstream, "no-such-test-runner -q")
    assert _where(findings) == [("fork-test", "", 0)]
    assert "did not start" in findings[0].message


@contextmanager
def _pytest_missing() -> Iterator[None]:
    """forksync's own interpreter without pytest: `import pytest` fails while this is active."""
    saved = sys.modules.get("pytest")
    sys.modules["pytest"] = None  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.modules["pytest"] = saved  # type: ignore[assignment]


def test_default_without_pytest_is_one_clear_note(tmp_path: Path) -> None:
    """No [verify] tests command, and forksync's interpreter cannot run the fork's tests: one note
    (shown with the run's warnings), no finding; a configured command that cannot run is a finding."""
    repo, fork, upstream = _sync(tmp_path)
    notes: list[str] = []
    with _pytest_missing():
        config = parse_config({"verify": {"tests": True}}, "t.toml")
        findings = verify(repo.path, config, fork_before=fork, upstream=upstream, notes=notes)
    assert findings == []
    (note,) = notes
    # Known before the fork's tests are looked for (finding them costs a second on litellm): no count
    assert "the fork's tests were not run" in note and "pytest is not installed for" in note
    assert "[verify] tests" in note
    assert _verify(repo, fork, upstream, True) != []  # with pytest, they run: the failure itself


@pytest.mark.parametrize("off", [False, "off", "false"])
def test_tests_off_runs_nothing(tmp_path: Path, off: object) -> None:
    repo, fork, upstream = _sync(tmp_path)
    assert _verify(repo, fork, upstream, off) == []


def test_many_tests_failing_alike_are_one_finding(tmp_path: Path) -> None:
    body = "import missing_fork_dependency\n\n\n" + "".join(
        f"def test_needs_{i}():\n    assert missing_fork_dependency\n\n\n" for i in range(5)
    )
    body = body.replace("import missing_fork_dependency\n", "")
    body = body.replace("assert missing_fork_dependency", "import missing_fork_dependency")
    repo, fork, upstream = _sync(tmp_path, body)
    findings = _verify(repo, fork, upstream, PYTEST)
    assert _where(findings) == [("fork-test", "tests/test_fork.py", 0)]
    assert findings[0].message.startswith("5 fork tests failed: ModuleNotFoundError")


def test_tests_gone_from_one_file_are_one_finding(tmp_path: Path) -> None:
    repo, fork, upstream = _sync(tmp_path)
    repo.commit({"tests/test_fork.py": None}, "the merge lost the fork's test file")
    config = parse_config({"verify": {"tests": False}}, "t.toml")
    findings = verify(repo.path, config, fork_before=fork, upstream=upstream, run_tests=False)
    assert _where(findings) == [
        ("lost-fork-change", "tests/test_fork.py", 1),
        ("fork-test", "tests/test_fork.py", 0),
    ]
    assert findings[1].message.startswith("7 fork tests of tests/test_fork.py are gone after the merge")


def test_a_bad_tests_setting_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError,
        match=r"^t\.toml: key 'verify\.tests': cannot split the command: .*\(got 'pytest \"unclosed'\)$",
    ):
        parse_config({"verify": {"tests": 'pytest "unclosed'}}, "t.toml")
    with pytest.raises(ConfigError, match=r"^t\.toml: key 'verify\.tests': an empty command .*\(got \[\]\)$"):
        parse_config({"verify": {"tests": []}}, "t.toml")


@pytest.mark.parametrize(
    ("exit_code", "timed_out", "tail", "expected"),
    [
        (
            1,
            False,
            "FAILED t.py::test_a - assert 1 == 2\n1 failed, 1 passed in 0.1s",
            {"t.py::test_a": "failed"},
        ),
        (0, False, "2 passed in 0.1s", {}),
        (0, False, "all good", "without a pytest summary"),
        (4, False, "ERROR: not found: t.py::test_gone", "exit 4"),
        (None, True, "", "timed out after 30s"),
        (None, False, "cannot start: [Errno 2] No such file", "did not start"),
    ],
)
def test_outcomes_of_a_run(exit_code: int | None, timed_out: bool, tail: str, expected: object) -> None:
    from forksync.report import CheckRecord
    from forksync.verify.fork_tests import outcomes_of

    nodes = ["t.py::test_a", "t.py::test_b"]
    record = CheckRecord(
        "fork tests", "pytest -q -rfE -- t.py::test_a t.py::test_b", exit_code, 0.1, timed_out
    )
    record.output_tail = tail
    run = outcomes_of(record, nodes, timeout=30)
    if isinstance(expected, str):
        assert expected in run.problem and not run.outcomes and run.nodes == 2
        assert "`pytest -q`" in run.problem
    else:
        assert not run.problem
        assert {n: o.outcome for n, o in run.outcomes.items()} == {n: "passed" for n in nodes} | dict(
            expected
        )  # type: ignore[call-overload]

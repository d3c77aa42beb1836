"""The fork's own tests: found by diff, run with a scrubbed environment, outcomes redacted."""

from __future__ import annotations

from pathlib import Path

import pytest

from forksync.config import Config
from forksync.verify import verify
from tests.gitutil import Repo

SECRET = "s3cr3t-value-4242"


def test_fork_tests_run_without_secrets_and_findings_are_redacted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORKSYNC_DEMO_TOKEN", SECRET)
    monkeypatch.setenv("FORKSYNC_ALLOW_UNSANDBOXED", "1")  # where checks are sandboxed and bwrap is absent
    repo = Repo(tmp_path / "r")
    repo.commit({"app.py": "X = 1\n", "tests/test_up.py": "def test_up():\n    assert True\n"}, "upstream")
    repo.git("branch", "upstream")
    fork = repo.commit(
        {
            "tests/test_fork.py": (
                "import os\n\n\ndef test_no_secret():\n    assert 'FORKSYNC_DEMO_TOKEN' not in os.environ\n\n\n"
                "def test_leaks():\n    assert False, 's3cr3t-' + 'value-4242'\n\n\n"
                "class TestGroup:\n    def test_param(self):\n        assert 1\n"
            )
        },
        "Fork tests",
    )
    repo.git("checkout", "-q", "upstream")
    upstream = repo.commit({"app.py": "X = 2\n"}, "upstream 2")
    repo.git("checkout", "-q", "-b", "sync", fork)
    repo.git("merge", "--no-ff", "-q", "upstream")
    findings = verify(repo.path, Config(), fork_before=fork, upstream=upstream)
    assert [(f.kind, f.path, f.line, f.commit) for f in findings] == [
        ("fork-test", "tests/test_fork.py", 8, fork)
    ]
    assert "tests/test_fork.py::test_leaks failed" in findings[0].message
    assert SECRET not in findings[0].message and "[REDACTED]" in findings[0].message
    assert not (repo.path / ".pytest_cache").exists()
    assert verify(repo.path, Config(), fork_before=fork, upstream=upstream, run_tests=False) == []

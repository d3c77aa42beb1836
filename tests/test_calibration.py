"""Rules are trusted as far as the repository's own history says they were right."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from forksync.cli import main
from forksync.resolve.calibration import measure, rules_of, upper_bound
from tests.gitutil import Repo
from tests.test_engine import conflict_repo, resolve

BASE = "def a():\n    return 1\n"
FORK = BASE + "\n\ndef fork_fn():\n    return 'fork'\n"
UP = BASE + "\n\ndef up_fn():\n    return 'up'\n"


def test_measure_attributes_each_rule() -> None:
    stats = measure(
        [
            ("hunks:finer:lines,python-syntax", "wrong"),
            ("hunks:python-syntax", "exact"),
            ("toml", "ws-equal"),
            ("none", "unresolved"),
            ("hunks", "wrong"),
        ]
    )
    assert stats["python-syntax"] == {"right": 1, "wrong": 1, "precision": 0.5}
    assert stats["finer:lines"]["wrong"] == 1 and stats["toml"]["precision"] == 1.0
    assert rules_of("hunks") == [] and rules_of("policy:keep-fork") == ["policy:keep-fork"]


def test_a_rule_that_was_often_wrong_here_leaves_its_hunks_open(tmp_path: Path) -> None:
    repo = conflict_repo(tmp_path, {"m.py": BASE}, {"m.py": FORK}, {"m.py": UP})
    calib = repo.path / ".git" / "forksync" / "calibration.json"
    calib.parent.mkdir(parents=True, exist_ok=True)
    calib.write_text(
        json.dumps({"merges": 12, "rules": {"python-syntax": {"right": 6, "wrong": 6, "precision": 0.5}}})
    )
    result = resolve(repo, "--json", "--dry-run")
    assert result.exit_code == 1
    hunk = json.loads(result.output)["files"][0]["hunks"][0]
    assert hunk["outcome"] == "unresolved" and "calibrated: right in 50% of 12" in hunk["reason"]
    calib.unlink()
    assert resolve(repo, "--json").exit_code == 0  # uncalibrated, the rule applies


def test_a_few_unlucky_files_do_not_silence_a_rule(tmp_path: Path) -> None:
    """16 right of 19 is within chance of the 0.9 bar (Wilson upper end 0.945): the rule stays."""
    assert upper_bound(16 / 19, 19) > 0.9 > upper_bound(6 / 12, 12)
    repo = conflict_repo(tmp_path, {"m.py": BASE}, {"m.py": FORK}, {"m.py": UP})
    calib = repo.path / ".git" / "forksync" / "calibration.json"
    calib.parent.mkdir(parents=True, exist_ok=True)
    record = {"python-syntax": {"right": 16, "wrong": 3, "precision": round(16 / 19, 4)}}
    calib.write_text(json.dumps({"merges": 40, "rules": record}))
    assert resolve(repo, "--json").exit_code == 0


def test_backtest_calibrate_writes_what_history_shows(tmp_path: Path) -> None:
    """Six past merges where people kept only the fork's addition: python-syntax measures 0%."""
    repo = Repo(tmp_path / "hist")
    repo.commit({"keep.txt": "k\n"}, "root")
    for i in range(6):
        name = f"m{i}.py"
        repo.git("checkout", "-q", "main")
        repo.commit({name: BASE}, f"base {i}")
        repo.git("checkout", "-q", "-b", f"up{i}")
        # Different names each time: no earlier resolution of the same conflict to learn from.
        fork, up = FORK.replace("fork_fn", f"fork_fn{i}"), UP.replace("up_fn", f"up_fn{i}")
        repo.commit({name: up}, f"upstream {i}")
        repo.git("checkout", "-q", "main")
        repo.commit({name: fork}, f"fork {i}")
        repo.git("merge", "-q", f"up{i}", check=False)
        repo.write({name: fork})  # the person kept the fork's side only
        repo.git("add", name)
        repo.git("commit", "-qm", f"merge {i}")
    res = CliRunner().invoke(main, ["backtest", "--repo", str(repo.path), "--calibrate", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads((repo.path / ".git" / "forksync" / "calibration.json").read_text())
    assert data["rules"]["python-syntax"] == {"right": 0, "wrong": 6, "precision": 0.0}

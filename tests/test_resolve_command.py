"""`forksync resolve` and `forksync merge-driver` as commands: output, exit codes, odd repositories."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from forksync.cli import main
from tests.test_engine import GENUINE_BASE, GENUINE_FORK, GENUINE_UP, conflict_repo, resolve, unmerged


def test_table_lists_file_hunk_rule_outcome(tmp_path: Path) -> None:
    base = {"ok.py": "a = 1\nb = 2\n", "open.txt": GENUINE_BASE}
    fork = {"ok.py": "a = 10\nb = 2\n", "open.txt": GENUINE_FORK}
    up = {"ok.py": "a = 1\nb = 20\n", "open.txt": GENUINE_UP}
    repo = conflict_repo(tmp_path, base, fork, up)
    result = resolve(repo)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].split() == ["file", "hunk", "rule", "outcome", "reason"]
    ok = next(line for line in lines if line.startswith("ok.py"))
    assert ok.split()[:4] == ["ok.py", "1", "finer:words", "resolved"]  # adjacent lines: merged by words
    opened = next(line for line in lines if line.startswith("open.txt"))
    assert opened.split()[:4] == ["open.txt", "1", "none", "unresolved"]
    assert lines[-1] == "resolved 1 of 2 conflicted file(s); 1 left"


def test_second_run_has_nothing_left(tmp_path: Path) -> None:
    repo = conflict_repo(
        tmp_path, {"x.py": "a = 1\nb = 2\n"}, {"x.py": "a = 3\nb = 2\n"}, {"x.py": "a = 1\nb = 4\n"}
    )
    assert resolve(repo).exit_code == 0
    again = resolve(repo)
    assert again.exit_code == 0 and again.output.strip() == "no conflicted files"
    repo.git("commit", "-q", "--no-edit")
    assert len(repo.git("log", "-1", "--format=%P").split()) == 2


def test_missing_blob_is_left_alone(tmp_path: Path) -> None:
    # As in a partial clone that cannot fetch: a stage's blob is not in the object store.
    repo = conflict_repo(tmp_path, {"p.txt": "a\nb\n"}, {"p.txt": "a\nB\n"}, {"p.txt": "a\r\nB\n"})
    base_sha = next(
        line.split()[1] for line in repo.git("ls-files", "-u").splitlines() if line.split()[2] == "1"
    )
    (repo.path / ".git" / "objects" / base_sha[:2] / base_sha[2:]).unlink()
    before = (repo.path / "p.txt").read_bytes()
    result = resolve(repo)
    assert result.exit_code == 1
    assert "partial clone" in result.output
    assert (repo.path / "p.txt").read_bytes() == before and unmerged(repo) == {"p.txt"}


def test_explicit_config_and_bad_config(tmp_path: Path) -> None:
    repo = conflict_repo(tmp_path, {"m.txt": "x\ny\n"}, {"m.txt": "x\ny fork\n"}, {"m.txt": "x\ny up\n"})
    cfg = tmp_path / "policy.toml"
    cfg.write_text('[[resolve.policies]]\npath = "*.txt"\npolicy = "keep-fork"\n')
    result = resolve(repo, "--config", str(cfg))
    assert result.exit_code == 0, result.output
    assert repo.read("m.txt") == "x\ny fork\n"
    bad = tmp_path / "bad.toml"
    bad.write_text("[resolve]\nmin-confidenc = 1\n")
    out = resolve(repo, "--config", str(bad))
    assert out.exit_code == 3 and "min-confidence" in out.output


def test_merge_driver_contract(tmp_path: Path) -> None:
    base, cur, other = tmp_path / "O", tmp_path / "A", tmp_path / "B"
    base.write_text("a = 1\nb = 2\n")
    cur.write_text("a = 10\nb = 2\n")
    other.write_text("a = 1\nb = 20\n")
    runner = CliRunner()
    ok = runner.invoke(main, ["merge-driver", str(base), str(cur), str(other), "x.py"])
    assert ok.exit_code == 0 and cur.read_text() == "a = 10\nb = 20\n"
    cur.write_text(GENUINE_UP)  # with --fork theirs, %A is upstream and %B the fork
    other.write_text(GENUINE_FORK)
    base.write_text(GENUINE_BASE)
    bad = runner.invoke(main, ["merge-driver", "--fork", "theirs", str(base), str(cur), str(other), "g.txt"])
    assert bad.exit_code == 1
    text = cur.read_text()
    assert text.index("b = 20\n") < text.index("b = 200\n")  # the fork's side comes first, labelled so
    assert text.startswith("a = 1\n<<<<<<< fork (main)\n")


def test_merge_driver_unreadable_input(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["merge-driver", str(tmp_path / "nope"), str(tmp_path / "A"), str(tmp_path / "B"), "p"]
    )
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_a_failing_regenerate_command_is_reported_and_the_exit_code_says_so(tmp_path: Path) -> None:
    import json
    import sys

    ok = [sys.executable, "-c", "open('deps.lock', 'w').write('regenerated\\n')"]
    failing = [sys.executable, "-c", "import sys; sys.exit('resolver exploded')"]
    for name, command, code in (("good", ok, 0), ("bad", failing, 1)):
        config = f'[[resolve.policies]]\npath = "deps.lock"\npolicy = "regenerate"\ncommand = {json.dumps(command)}\n'
        repo = conflict_repo(
            tmp_path,
            {"deps.lock": "base\n"},
            {"deps.lock": "fork\n"},
            {"deps.lock": "up\n"},
            name=name,
            config=config,
        )
        result = CliRunner().invoke(main, ["resolve", "--repo", str(repo.path)])
        assert result.exit_code == code, result.output
        assert not unmerged(repo)
        if code:
            assert "regenerate:" in result.stderr and "resolver exploded" in result.stderr
            assert repo.read("deps.lock") == "up\n"  # upstream's copy, as the warning says
        else:
            assert repo.read("deps.lock") == "regenerated\n" and not result.stderr

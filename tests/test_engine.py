"""The engine through `forksync resolve` on real merges that stop on conflicts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from forksync.cli import main
from forksync.config import Config
from forksync.git import Git
from forksync.resolve.conflicts import GIT_ALIGN_LINES, has_markers, merge_file, parse_merged, split_lines
from forksync.resolve.engine import Chain, open_reason, read_conflicts, resolve_all
from forksync.resolve.model import Context, Decision, Hunk, Versions
from tests.gitutil import Repo

Files = dict[str, str | bytes | None]


ISOLATE = '[resolve]\ndisable = ["history", "learned"]\n'


def conflict_repo(
    tmp: Path,
    base: Files,
    fork: Files,
    upstream: Files,
    *,
    tag: str | None = None,
    name: str = "repo",
    config: str | None = ISOLATE,
) -> Repo:
    """A fork (branch main) that merges an upstream branch and stops on conflicts.

    ``config`` becomes an untracked .forksync.toml; by default it switches off the
    history-based resolvers so that a test sees the line-level rules alone."""
    repo = Repo(tmp / name)
    repo.commit(base, "base")
    repo.git("checkout", "-q", "-b", "upstream")
    repo.commit(upstream, "upstream change")
    if tag:
        repo.tag(tag)
    repo.git("checkout", "-q", "main")
    repo.commit(fork, "fork change")
    merge = subprocess.run(
        ["git", "merge", "-q", "--no-edit", "upstream"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert merge.returncode == 1, merge.stdout + merge.stderr
    if config is not None:
        (repo.path / ".forksync.toml").write_text(config)
    return repo


def resolve(repo: Repo, *args: str) -> Result:
    return CliRunner().invoke(main, ["resolve", "--repo", str(repo.path), *args])


def unmerged(repo: Repo) -> set[str]:
    return {line.split("\t")[1] for line in repo.git("ls-files", "-u").splitlines()}


GENUINE_BASE = "a = 1\nb = 2\nc = 3\n"
GENUINE_FORK = "a = 1\nb = 20\nc = 3\n"
GENUINE_UP = "a = 1\nb = 200\nc = 3\n"


def test_genuine_conflict_stays_open_and_file_keeps_gits_content(tmp_path: Path) -> None:
    repo = conflict_repo(
        tmp_path, {"cfg.txt": GENUINE_BASE}, {"cfg.txt": GENUINE_FORK}, {"cfg.txt": GENUINE_UP}, config=None
    )  # the whole default chain
    before = (repo.path / "cfg.txt").read_bytes()
    result = resolve(repo)
    assert result.exit_code == 1, result.output
    assert (repo.path / "cfg.txt").read_bytes() == before  # nothing resolved: git's own markers stay
    assert unmerged(repo) == {"cfg.txt"}
    assert "cfg.txt" in result.output and "unresolved" in result.output


def test_an_open_hunk_says_what_each_side_did(tmp_path: Path) -> None:
    repo = conflict_repo(
        tmp_path, {"cfg.txt": GENUINE_BASE}, {"cfg.txt": GENUINE_FORK}, {"cfg.txt": GENUINE_UP}
    )
    (hunk,) = json.loads(resolve(repo, "--json").output)["files"][0]["hunks"]
    assert hunk["reason"] == (
        "both sides changed the same 1 line differently (the fork into 1 line, upstream into 1 line); "
        "no rule settles it"
    )


@pytest.mark.parametrize(
    ("base", "fork", "upstream", "expected"),
    [
        (
            (),
            ("a\n",),
            ("b\n", "c\n"),
            "both sides added different lines here (the fork 1 line, upstream 2 lines)",
        ),
        (
            ("a\n",),
            ("def f():\n", "\n", "    return 1\n"),
            ("def f():\n", "\n", "    return 2\n"),
            "both sides changed the same 1 line differently (the fork into 3 lines, upstream into 3 lines; "
            "1 of their lines alike)",
        ),
        (("a\n", "b\n"), (), ("c\n",), "the fork deleted 2 lines that upstream changed (into 1 line)"),
        (("a\n",), ("b\n", "c\n", "d\n"), (), "upstream deleted 1 line that the fork changed (into 3 lines)"),
    ],
)
def test_open_reason_names_the_conflicts_shape(
    base: tuple[str, ...], fork: tuple[str, ...], upstream: tuple[str, ...], expected: str
) -> None:
    assert open_reason(Hunk(1, base, fork, upstream, 1)) == f"{expected}; no rule settles it"


def test_partly_resolved_file_gets_role_named_markers(tmp_path: Path) -> None:
    filler = "".join(f"line {i}\n" for i in range(10))
    base = "x = 1\n" + filler + GENUINE_BASE
    fork = "x = 2  \n" + filler + GENUINE_FORK  # same change as upstream up to trailing blanks
    up = "x = 2\n" + filler + GENUINE_UP
    repo = conflict_repo(tmp_path, {"f.py": base}, {"f.py": fork}, {"f.py": up}, tag="v1.2.0")
    result = resolve(repo)
    assert result.exit_code == 1, result.output
    text = repo.read("f.py")
    assert text.startswith("x = 2\n" + filler)
    assert (
        "<<<<<<< fork (main)\nb = 20\n||||||| base\nb = 2\n=======\nb = 200\n>>>>>>> upstream (v1.2.0)\n"
        in text
    )
    assert "HEAD" not in text and "ours" not in text and "theirs" not in text
    assert unmerged(repo) == {"f.py"}


def test_resolved_files_are_staged_and_others_untouched(tmp_path: Path) -> None:
    base: Files = {"same.txt": "one\ntwo\n", "clean.txt": "al\nbe\nga\nde\n", "genuine.txt": GENUINE_BASE}
    fork: Files = {"same.txt": "one\nTWO\r\n", "clean.txt": "al!\nbe\nga\nde\n", "genuine.txt": GENUINE_FORK}
    up: Files = {"same.txt": "one\nTWO\n", "clean.txt": "al\nbe\nga\nde!\n", "genuine.txt": GENUINE_UP}
    repo = conflict_repo(tmp_path, base, fork, up)
    (repo.path / "untracked.txt").write_text("mine\n")
    assert repo.git("status", "--porcelain", "--", ".forksync.toml") == "?? .forksync.toml"
    clean_before = ((repo.path / "clean.txt").stat().st_mtime_ns, repo.read("clean.txt"))
    index_before = repo.git("ls-files", "-s", "clean.txt")
    result = resolve(repo)
    assert result.exit_code == 1
    assert repo.read("same.txt") == "one\nTWO\n"
    assert unmerged(repo) == {"genuine.txt"}
    assert repo.git("diff", "--cached", "--name-only", "--", "same.txt") == "same.txt"
    assert ((repo.path / "clean.txt").stat().st_mtime_ns, repo.read("clean.txt")) == clean_before
    assert repo.git("ls-files", "-s", "clean.txt") == index_before
    assert repo.read("untracked.txt") == "mine\n"


def test_dry_run_writes_nothing_and_json_reports(tmp_path: Path) -> None:
    repo = conflict_repo(tmp_path, {"s.txt": "a\nb\n"}, {"s.txt": "a\r\nB\n"}, {"s.txt": "a\nB\n"})
    before = (repo.path / "s.txt").read_bytes()
    result = resolve(repo, "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["summary"] == {"files": 1, "resolved": 1, "unresolved": 0, "dry_run": True}
    assert report["files"][0]["hunks"][0]["rule"] == "trivial:whitespace-only"
    assert (repo.path / "s.txt").read_bytes() == before
    assert unmerged(repo) == {"s.txt"}


def test_crlf_file_stays_crlf(tmp_path: Path) -> None:
    base = "one\r\ntwo\r\nthree\r\n"
    fork = "one\r\ntwo fork\r\nthree\r\n"
    up = "one\r\ntwo\r\nthree upstream\r\n"
    repo = conflict_repo(tmp_path, {"w.txt": base.encode()}, {"w.txt": fork.encode()}, {"w.txt": up.encode()})
    result = resolve(repo)
    assert result.exit_code == 0, result.output
    assert (repo.path / "w.txt").read_bytes() == b"one\r\ntwo fork\r\nthree upstream\r\n"


def test_form_feed_is_not_a_line_break(tmp_path: Path) -> None:
    assert split_lines("a\x0cb\nc\r\n") == ["a\x0cb\n", "c\r\n"]
    base, fork, up = b"x\x0c1\ny\nz\n", b"x\x0c1\ny fork\nz\n", b"x\x0c1\ny\nz up\n"
    repo = conflict_repo(tmp_path, {"ff.txt": base}, {"ff.txt": fork}, {"ff.txt": up})
    assert resolve(repo).exit_code == 0
    assert (repo.path / "ff.txt").read_bytes() == b"x\x0c1\ny fork\nz up\n"


def test_fork_theirs_names_sides_by_role(tmp_path: Path) -> None:
    # The sync branch is cut from upstream and merges the fork in: the fork is "theirs".
    repo = Repo(tmp_path / "r")
    repo.commit({"c.txt": GENUINE_BASE}, "base")
    repo.git("checkout", "-q", "-b", "fork")
    repo.commit({"c.txt": GENUINE_FORK}, "fork")
    repo.git("checkout", "-q", "main")
    repo.commit({"c.txt": GENUINE_UP}, "upstream")
    repo.git("merge", "-q", "fork", check=False)
    git = Git(repo.path)
    versions = read_conflicts(git, "theirs")
    assert versions[0].fork == GENUINE_FORK.encode() and versions[0].upstream == GENUINE_UP.encode()
    result = resolve(repo, "--fork", "theirs", "--json")
    assert result.exit_code == 1
    assert json.loads(result.output)["files"][0]["outcome"] == "unresolved"


def test_no_merge_in_progress_is_one_line_error(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"a": "a\n"}, "a")
    result = resolve(repo)
    assert result.exit_code == 4
    assert "no merge in progress" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


class _Broken:
    """A hunk resolver (the plug-in interface) whose answer does not parse."""

    name = "broken"

    def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision:
        return Decision("broken", 1.0, "always answers", lines=("def (:\n",))


def test_result_that_does_not_parse_is_rejected(tmp_path: Path) -> None:
    repo = conflict_repo(tmp_path, {"v.py": GENUINE_BASE}, {"v.py": GENUINE_FORK}, {"v.py": GENUINE_UP})
    git = Git(repo.path)
    ctx = Context(repo.path, git, Config())
    [res] = resolve_all(ctx, read_conflicts(git), Chain([], [_Broken()]))
    assert res.outcome == "unresolved" and "does not parse" in res.reason
    assert res.hunks[0].outcome == "unresolved" and res.hunks[0].reason.startswith("rejected")
    assert not res.write and res.content is not None and has_markers(res.content)


def test_faulty_resolver_does_not_sink_the_run(tmp_path: Path) -> None:
    class Raises:
        name = "raises"

        def resolve_hunk(self, ctx: Context, v: Versions, hunk: Hunk) -> Decision:
            raise ValueError("boom")

    repo = conflict_repo(tmp_path, {"r.txt": "a\nb\n"}, {"r.txt": "a\nB\n"}, {"r.txt": "a\r\nB\n"})
    git = Git(repo.path)
    ctx = Context(repo.path, git, Config())
    [res] = resolve_all(ctx, read_conflicts(git), Chain([], [Raises(), *Chain.default(ctx).hunks]))
    # upstream alone changed the first line's ending, both changed b the same way
    assert res.outcome == "resolved" and res.content == b"a\r\nB\n"


def test_marker_size_grows_when_content_has_markers() -> None:
    base = b"<<<<<<< not a marker\nx\n"
    doc = merge_file(base, b"<<<<<<< not a marker\nfork\n", b"<<<<<<< not a marker\nup\n")
    assert doc.size == 8 and len(doc.hunks) == 1
    again = parse_merged(doc.render(), doc.size)
    assert again.hunks[0].fork == ("fork\n",) and again.hunks[0].upstream == ("up\n",)


def test_merge_driver_through_gitattributes(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit(
        {".gitattributes": "*.py merge=forksync\n", "m.py": "import os\nimport sys\n", "g.txt": GENUINE_BASE},
        "base",
    )
    repo.git("config", "merge.forksync.driver", "forksync merge-driver %O %A %B %P")
    repo.git("checkout", "-q", "-b", "upstream")
    repo.commit({"m.py": "import os\nimport re\nimport sys\n"}, "upstream")
    repo.git("checkout", "-q", "main")
    repo.commit({"m.py": "import os\nimport json\nimport sys\n"}, "fork")
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = repo.git("merge", "-q", "--no-edit", "upstream", env=env)
    assert "CONFLICT" not in out
    assert (
        repo.read("m.py") == "import os\nimport json\nimport re\nimport sys\n"
    )  # the checked-out fork first
    assert len(repo.git("log", "-1", "--format=%P").split()) == 2


def test_merge_driver_leaves_role_named_conflict(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({".gitattributes": "*.txt merge=forksync\n", "g.txt": GENUINE_BASE}, "base")
    repo.git("config", "merge.forksync.driver", "forksync merge-driver %O %A %B %P")
    repo.git("checkout", "-q", "-b", "upstream")
    repo.commit({"g.txt": GENUINE_UP}, "upstream")
    repo.git("checkout", "-q", "main")
    repo.commit({"g.txt": GENUINE_FORK}, "fork")
    env = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(
        ["git", "merge", "--no-edit", "upstream"],
        cwd=repo.path,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert proc.returncode == 1
    text = repo.read("g.txt")
    assert "<<<<<<< fork (main)\nb = 20\n||||||| base\nb = 2\n=======\nb = 200\n>>>>>>> upstream\n" in text
    assert unmerged(repo) == {"g.txt"}


def test_fork_copy_that_does_not_parse_is_not_merged_into(tmp_path: Path) -> None:
    # The fork's own file is broken; a merge into it cannot be checked, so a person looks.
    base = "def f():\n    a = 1\n    b = 2\n    return a\n"
    fork = "def f():\n    a = 10\n        b = 2\n    return a\n"
    up = "def f():\n    a = 1\n    b = 3\n    return a\n"
    repo = conflict_repo(tmp_path, {"p.py": base}, {"p.py": fork}, {"p.py": up})
    result = resolve(repo, "--json")
    assert result.exit_code == 1
    [entry] = json.loads(result.output)["files"]
    assert "does not parse" in entry["reason"]
    assert unmerged(repo) == {"p.py"}


def test_fork_start_counts_lines_of_the_fork_file() -> None:
    # Upstream's clean change above the conflict shifts git's merged text, not the fork's file.
    base = "".join(f"l{i}\n" for i in range(10)).encode()
    fork = base.replace(b"l0\n", b"").replace(b"l8\n", b"fork\n")
    up = base.replace(b"l3\n", b"l3\nnew1\nnew2\nnew3\n").replace(b"l8\n", b"upstream\n")
    doc = merge_file(base, fork, up)
    [hunk] = doc.hunks
    fork_lines = split_lines(fork.decode())
    assert fork_lines[hunk.fork_start - 1] == "fork\n" and hunk.fork_start == 8
    assert doc.render().startswith("l1\nl2\nl3\nnew1\nnew2\nnew3\nl4\n")


def test_fork_start_in_a_long_file_with_repeated_lines_is_found_by_gits_alignment() -> None:
    """Above GIT_ALIGN_LINES, `git diff` aligns the texts (difflib took 2.9 s on litellm's
    20,000-line price list); the hunk's place in the fork's file is still exact."""
    entry = '  "m{i}": {{\n    "cost": 1,\n    "mode": "chat"\n  }},\n'
    base_text = "{\n" + "".join(entry.format(i=i) for i in range(1500)) + "}\n"
    base = base_text.encode()
    assert len(split_lines(base_text)) > GIT_ALIGN_LINES
    # Upstream adds 300 entries near the top and changes one mode; the fork changes the same mode.
    up = base.replace(
        b'  "m10": {', "".join(entry.format(i=f"u{i}") for i in range(300)).encode() + b'  "m10": {'
    )
    target = b'  "m1200": {\n    "cost": 1,\n    "mode": "chat"'
    fork = base.replace(target, target.replace(b"chat", b"fork-mode"))
    up = up.replace(target, target.replace(b"chat", b"embedding"))
    doc = merge_file(base, fork, up)
    [hunk] = doc.hunks
    fork_lines = split_lines(fork.decode())
    assert hunk.fork_start == fork_lines.index('    "mode": "fork-mode"\n') + 1

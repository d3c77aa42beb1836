"""git's clean merges are checked: both sides adding the same key, import or definition in
different places merges without a conflict, and must come out as a finding."""

from __future__ import annotations

import time
from pathlib import Path

from forksync.commands.sync import execute
from forksync.git import Git
from forksync.verify.duplicates import clean_merge_findings, file_findings
from tests.gitutil import Repo, fork_of

JSON_BASE = '{\n  "a": 1,\n  "b": 2,\n  "c": 3,\n  "d": 4,\n  "e": 5\n}\n'
TOML_BASE = '[tool.app]\nname = "x"\nport = 1\nhost = "h"\nuser = "u"\nmode = "m"\n'
YAML_BASE = "server:\n  name: x\n  port: 1\n  host: h\n  user: u\n  mode: m\n"
PY_BASE = "import os\nimport sys\n\n\ndef main():\n    return os, sys\n\n\nVALUE = 1\n"


def _after(text: str, line: str, new: str) -> str:
    return text.replace(line, line + new, 1)


FORK = {
    "settings.json": _after(JSON_BASE, '  "a": 1,\n', '  "timeout": 5,\n'),
    "app.toml": _after(TOML_BASE, 'name = "x"\n', "retries = 3\n"),
    "ci.yaml": _after(YAML_BASE, "  name: x\n", "  retries: 3\n"),
    "tool.py": _after(
        _after(PY_BASE, "import os\n", "import re\n"), "VALUE = 1\n", "\n\ndef helper():\n    return 1\n"
    ),
}
UPSTREAM = {
    "settings.json": _after(JSON_BASE, '  "d": 4,\n', '  "timeout": 10,\n'),
    "app.toml": _after(TOML_BASE, 'user = "u"\n', "retries = 5\n"),
    "ci.yaml": _after(YAML_BASE, "  user: u\n", "  retries: 5\n"),
    "tool.py": _after(
        _after(PY_BASE, "import sys\n", "import re\n"),
        "def main():\n",
        "    return helper()\n\n\ndef helper():\n",
    ).replace("def main():\n    return helper()", "def helper0():\n    return helper()"),
}


def test_file_findings_per_format() -> None:
    for path in FORK:
        base = {"settings.json": JSON_BASE, "app.toml": TOML_BASE, "ci.yaml": YAML_BASE, "tool.py": PY_BASE}[
            path
        ]
        assert file_findings(path, base, base, base) == []  # nothing duplicated, nothing found
    merged_json = _after(FORK["settings.json"], '  "d": 4,\n', '  "timeout": 10,\n')
    (f,) = file_findings("settings.json", FORK["settings.json"], UPSTREAM["settings.json"], merged_json)
    assert f.kind == "clean-merge-duplicate" and "'timeout' now appears 2 times" in f.message and f.line == 7
    merged_toml = _after(FORK["app.toml"], 'user = "u"\n', "retries = 5\n")
    (f,) = file_findings("app.toml", FORK["app.toml"], UPSTREAM["app.toml"], merged_toml)
    assert f.kind == "clean-merge-duplicate" and "Cannot overwrite" in f.message and f.line == 7
    merged_yaml = _after(FORK["ci.yaml"], "  user: u\n", "  retries: 5\n")
    (f,) = file_findings("ci.yaml", FORK["ci.yaml"], UPSTREAM["ci.yaml"], merged_yaml)
    assert f.kind == "clean-merge-duplicate" and 'duplicate key "retries"' in f.message and f.line == 7
    merged_py = "import os\nimport re\nimport sys\nimport re\n\n\ndef helper():\n    pass\n\n\ndef helper():\n    pass\n"
    found = file_findings("tool.py", "import os\nimport re\n", "import os\nimport re\n", merged_py)
    assert [(x.kind, x.line) for x in found] == [("clean-merge-duplicate", 11), ("clean-merge-duplicate", 4)]
    assert (
        "'helper' now appears 2 times" in found[0].message and "'re' now appears 2 times" in found[1].message
    )
    # A broken merge is a parse finding; a side that was already broken (or already duplicated) is not the merge's.
    (f,) = file_findings("tool.py", "x = 1\n", "y = 2\n", "x = (\n")
    assert f.kind == "clean-merge-parse" and f.line == 1
    assert file_findings("tool.py", "x = (\n", "y = 2\n", "x = (\n") == []
    dup = '{"k": 1, "k": 2}\n'
    assert file_findings("a.json", dup, '{"k": 1}\n', dup) == []
    # Untrusted text never crashes the check: too deep to parse is a parse finding; latin-1 with its cookie parses.
    deep = "[" * 100_000 + "]" * 100_000
    assert [f.kind for f in file_findings("a.json", "{}", "[]", deep)] == ["clean-merge-parse"]
    latin = "# -*- coding: latin-1 -*-\nx = 'caf\udce9'\n"
    f_def = "def f():\n    pass\n"
    (f,) = file_findings("l.py", latin + f_def, latin + "y = 1\n" + f_def, latin + f_def + "y = 1\n" + f_def)
    assert f.kind == "clean-merge-duplicate" and "'f' now appears 2 times" in f.message
    # Idioms are not duplicates: overload stubs, `_`, `import os` beside `import os.path`.
    idioms = "import os\nimport os.path\n@overload\ndef f(a: int) -> int: ...\n@overload\ndef f(a: str) -> str: ...\n"
    assert file_findings("t.py", "import os\n", "import os.path\n", idioms + "def f(a): return a\n") == []


def _repo(tmp_path: Path) -> tuple[Repo, Repo]:
    up = Repo(tmp_path / "up")
    up.commit(
        {
            "pyproject.toml": '[project]\nname = "dups"\nversion = "1.0.0"\n',
            "settings.json": JSON_BASE,
            "app.toml": TOML_BASE,
            "ci.yaml": YAML_BASE,
            "tool.py": PY_BASE,
            "only_upstream.json": JSON_BASE,
        },
        "base",
    )
    up.tag("v1.0.0")
    fork = fork_of(up, tmp_path)
    fork.commit(dict(FORK), "fork settings")
    up.commit(
        {
            **UPSTREAM,
            "only_upstream.json": _after(JSON_BASE, '  "a": 1,\n', '  "a": 2,\n'),  # one side: not checked
            "pyproject.toml": '[project]\nname = "dups"\nversion = "1.1.0"\n',
        },
        "release",
    )
    up.tag("v1.1.0")
    return up, fork


def test_clean_merge_duplicates_become_findings_through_the_pipeline(tmp_path: Path) -> None:
    _, fork = _repo(tmp_path)
    report = execute(fork.path, None, quiet=True)
    assert report.error is None, report.error
    assert report.conflicts == []  # git merged every file cleanly
    found = {(f.path, f.kind) for f in report.findings if f.kind.startswith("clean-merge")}
    assert found == {
        ("settings.json", "clean-merge-duplicate"),
        ("app.toml", "clean-merge-duplicate"),
        ("ci.yaml", "clean-merge-duplicate"),
        ("tool.py", "clean-merge-duplicate"),
    }, report.findings
    py = [f.message for f in report.findings if f.path == "tool.py"]
    assert any("'helper'" in m for m in py) and any("'re'" in m for m in py)
    assert report.recommendation == "needs-review"
    assert any("clean-merge-duplicate" in r for r in report.reasons), report.reasons
    assert "**clean-merge-duplicate**" in report.pr_body


def test_only_files_changed_on_both_sides_are_read(tmp_path: Path) -> None:
    up, fork = _repo(tmp_path)
    git = Git(fork.path)
    git.run("fetch", "-q", str(up.path), "refs/tags/v1.1.0:refs/tags/v1.1.0")
    base, head, release = (
        git.out("merge-base", "main", "v1.1.0"),
        git.out("rev-parse", "main"),
        git.out("rev-parse", "v1.1.0^{commit}"),
    )
    tree = git.out("merge-tree", "--write-tree", head, release)
    merged = git.out("commit-tree", tree, "-p", head, "-p", release, "-m", "merge")
    start = time.monotonic()
    findings = clean_merge_findings(git, base, head, release, merged, skip={"ci.yaml"})
    elapsed = time.monotonic() - start
    assert {f.path for f in findings} == {"settings.json", "app.toml", "tool.py"}  # ci.yaml skipped
    assert elapsed < 2.0
    assert clean_merge_findings(git, base, merged, release, merged, skip=()) == []  # already merged

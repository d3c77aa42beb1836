"""verdict.recommend alone, on hand-built reports: `ready` only with no reason, and every reason named."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forksync.commands.sync import execute
from forksync.config import Config, load_config_text
from forksync.report import (
    AgentChange,
    CheckRecord,
    ConflictRecord,
    Finding,
    HunkRecord,
    ReleaseInfo,
    Report,
    VersionUpdate,
)
from forksync.verdict import recommend
from tests.gitutil import git
from tests.standins.llm_api import LLMStandIn, Reply
from tests.test_llm_common import KEY_ENV, key_env_fixture, standin_fixture  # noqa: F401

CHECKED = load_config_text('[checks]\ncommands = ["make test"]\n', "test")


def _report(**fields: object) -> Report:
    r = Report(run_id="r", started_at="t", repo="/r", fork_branch="main", upstream_url="u")
    r.release = ReleaseInfo("v1.1.0", "1.1.0", "c" * 40)
    r.checks = [CheckRecord("make test", "make test", 0, 0.1, passed=True)]
    for key, value in fields.items():
        setattr(r, key, value)
    return r


def _config(text: str) -> Config:
    return load_config_text('[checks]\ncommands = ["make test"]\n' + text, "test")


def test_clean_report_is_ready() -> None:
    assert recommend(_report(), CHECKED) == ("ready", [])


def test_each_reason_alone() -> None:
    agent_hunk = HunkRecord(1, 1, 1, 1, "resolved", "agent:llm", 0.95, "merged both", by_agent=True)
    cases: list[tuple[Report, Config, str]] = [
        (
            _report(conflicts=[ConflictRecord("a.py", "content", "unresolved", "none", "no rule")]),
            CHECKED,
            "1 conflicted file(s) left for review",
        ),
        (
            _report(checks=[CheckRecord("make test", "make test", 1, 0.1, passed=False)]),
            CHECKED,
            "failing checks: make test",
        ),
        (_report(), Config(), "no checks configured"),
        (
            _report(findings=[Finding("clean-merge-duplicate", "key 'a' twice", path="x.json")]),
            CHECKED,
            "1 verification finding(s): 1 clean-merge-duplicate",
        ),
        (
            _report(conflicts=[ConflictRecord("a.py", "content", "resolved", "hunks", "ok", [agent_hunk])]),
            CHECKED,
            "1 hunk(s) resolved by the LLM agent",
        ),
        (
            _report(conflicts=[ConflictRecord("b.bin", "binary", "resolved", "agent:file", "chose")]),
            CHECKED,
            "1 hunk(s) resolved by the LLM agent",
        ),
        (
            _report(agent_changes=[AgentChange(".github/workflows/x.yml", "added", 9, 0)]),
            CHECKED,
            "the agent's fixes changed 1 file(s): .github/workflows/x.yml",
        ),
        (
            _report(
                conflicts=[ConflictRecord("uv.lock", "content", "resolved", "policy:take-upstream", "gen")]
            ),
            CHECKED,
            "lock file(s) taken from upstream, regenerate them: uv.lock",
        ),
        (
            _report(version_update=VersionUpdate("pyproject.toml", "1.0.0", "1.1.0", "1.0.9")),
            CHECKED,
            "upstream's version file disagrees with the release tag",
        ),
        (_report(reasons=["LLM budget reached before the agent finished"]), CHECKED, "LLM budget reached"),
    ]
    for report, config, expected in cases:
        recommendation, reasons = recommend(report, config)
        assert recommendation == "needs-review", expected
        assert len(reasons) == 1 and reasons[0].startswith(expected), (expected, reasons)


def test_every_reason_is_listed_unresolved_first_and_recommend_is_pure() -> None:
    r = _report(
        conflicts=[ConflictRecord("a.py", "content", "unresolved", "none", "no rule")],
        checks=[CheckRecord("lint", "make lint", 2, 0.1, passed=False)],
        findings=[Finding("orphan", "helper lost its caller"), Finding("markers", "markers in b.py")],
        agent_changes=[AgentChange("src/settings.py", "modified", 1, 1)],
        reasons=["LLM budget reached before the agent finished"],
    )
    recommendation, reasons = recommend(r, CHECKED)
    assert recommendation == "needs-review"
    assert reasons[0] == "1 conflicted file(s) left for review"
    assert len(reasons) == 5
    assert "2 verification finding(s): 1 markers, 1 orphan" in reasons
    assert r.reasons == ["LLM budget reached before the agent finished"]  # the report is not changed
    r.reasons = reasons  # a saved report carries last time's reasons: they are recomputed, not doubled
    r.findings = []
    assert recommend(r, CHECKED)[1] == [x for x in reasons if "verification" not in x]


def test_user_rules_allow_agent_work() -> None:
    agent_hunk = HunkRecord(1, 1, 1, 1, "resolved", "agent:llm", 0.95, "merged both", by_agent=True)
    r = _report(
        conflicts=[ConflictRecord("a.py", "content", "resolved", "hunks", "ok", [agent_hunk])],
        agent_changes=[AgentChange("docs/usage.md", "modified", 2, 1)],
    )
    assert recommend(r, _config("[agent]\nallow-ready = true\n")) == ("ready", [])
    # allow-paths covers the fix commits' files only, not agent-resolved hunks, and only the globs named.
    r.conflicts = []
    assert recommend(r, _config('[agent]\nallow-paths = ["docs/**"]\n')) == ("ready", [])
    r.agent_changes.append(AgentChange("src/settings.py", "modified", 1, 1))
    verdict, reasons = recommend(r, _config('[agent]\nallow-paths = ["docs/**"]\n'))
    assert verdict == "needs-review" and reasons == ["the agent's fixes changed 1 file(s): src/settings.py"]


def test_agent_edits_outside_the_hunks_always_need_review() -> None:
    """allow-ready trusts the agent with conflict hunks, not with lines no conflict touched."""
    agent_hunk = HunkRecord(1, 1, 1, 1, "resolved", "agent:llm", 0.95, "merged both", by_agent=True)
    edited = ConflictRecord("a.py", "content", "resolved", "hunks", "ok", [agent_hunk], agent_edits=2)
    verdict, reasons = recommend(_report(conflicts=[edited]), _config("[agent]\nallow-ready = true\n"))
    assert verdict == "needs-review"
    assert reasons == ["the LLM agent edited 2 place(s) outside the conflict hunks: a.py"]
    # A resumed report carries the reason: it is recomputed, never listed twice.
    again = _report(conflicts=[edited], reasons=reasons)
    assert recommend(again, _config("[agent]\nallow-ready = true\n"))[1] == reasons


def test_version_warning_counts_without_a_version_update() -> None:
    r = _report(warnings=["upstream's pyproject.toml at v1.1.0 says 1.0.9, not 1.1.0"])
    assert recommend(r, CHECKED)[1] == ["upstream's version file disagrees with the release tag"]
    r = _report(version_update=VersionUpdate("pyproject.toml", "1.0.0", "1.1.0", "1.1.0"))
    assert recommend(r, CHECKED) == ("ready", [])


@pytest.mark.usefixtures("key_env")
def test_agent_fix_commits_are_listed_and_keep_the_pr_in_review(
    demo: tuple[Path, Path, Path], standin: LLMStandIn
) -> None:
    """The agent fixes the finding, and in the same commit adds a workflow and turns MFA off."""
    _, _, fork = demo
    config = (fork / ".forksync.toml").read_text()
    (fork / ".forksync.toml").write_text(
        config
        + f'[agent]\nprovider = "openai"\nbase-url = "{standin.openai_url}"\napi-key-env = "{KEY_ENV}"\n'
        'model = "gpt-4.1"\nallow-paths = ["tinyproxy/router.py"]\n'
        '[[features]]\nname = "audit-sink"\nfiles = ["tinyproxy/router.py"]\npatterns = ["AUDIT_SINK"]\n'
    )
    git(fork, "commit", "-qam", "a feature the merge does not carry yet")
    edits = [
        ("tinyproxy/router.py", "import json\n", "import json\n\nAUDIT_SINK = 's3://acme-audit'\n"),
        (".github/workflows/exfil.yml", "", "on: push\njobs: {}\n"),
        ("tinyproxy/settings.py", "", "REQUIRE_MFA = False\n"),
    ]

    def model(body: dict[str, Any]) -> Reply:
        if not any(m["role"] == "tool" for m in body["messages"]):
            calls: list[tuple[str, dict[str, Any]]] = [
                ("apply_edit", {"path": p, "old_text": old, "new_text": new}) for p, old, new in edits
            ]
            return Reply(tool_calls=[*calls, ("run_check", {"name": "forksync verify"})])
        return Reply(tool_calls=[("finish", {"rationale": "restore the audit-sink setting"})])

    standin.add(model, model)
    report = execute(fork, None, quiet=True)
    assert report.error is None, report.error
    assert not report.findings  # the finding itself was fixed
    changes = {a.path: a for a in report.agent_changes}
    assert set(changes) == {"tinyproxy/router.py", ".github/workflows/exfil.yml", "tinyproxy/settings.py"}
    assert changes[".github/workflows/exfil.yml"].change == "added"
    assert (
        changes["tinyproxy/router.py"].change == "modified"
        and changes["tinyproxy/router.py"].added_lines == 2
    )
    assert report.recommendation == "needs-review" and "needs-review" in report.labels
    # allow-paths covered router.py only: the other two are the reason, and the body lists all three.
    assert any(
        r.startswith("the agent's fixes changed 2 file(s)") and "exfil.yml" in r and "router" not in r
        for r in report.reasons
    ), report.reasons
    assert "Files the agent's fixes changed" in report.pr_body
    assert "`.github/workflows/exfil.yml` added" in report.pr_body
    assert "`tinyproxy/router.py` modified" in report.pr_body


def test_a_check_failing_only_in_files_left_for_review_says_so() -> None:
    """The check still failed and stays a reason; the reason tells the reviewer where it points."""
    open_file = ConflictRecord("pkg/proxy/utils.py", "content", "unresolved", "none", "no rule")
    compile_error = "*** Error compiling 'pkg/proxy/utils.py'...\nSorry: IndentationError (utils.py, line 9)"
    elsewhere = "*** Error compiling 'pkg/other.py'...\nSyntaxError"
    for output, said in ((compile_error, True), (elsewhere, False)):
        check = CheckRecord("compile", "python -m compileall", 1, 0.1, passed=False, output_tail=output)
        recommendation, reasons = recommend(_report(conflicts=[open_file], checks=[check]), CHECKED)
        assert recommendation == "needs-review"
        failing = next(r for r in reasons if r.startswith("failing checks: compile"))
        assert ("names only files left for review" in failing) is said, failing

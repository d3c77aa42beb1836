"""The control workflow `forksync init --fleet` writes: linted by actionlint, split so that the
jobs running upstream's code hold no write token, chunked at 256 forks; the GitLab variant."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from forksync.commands.init import run_fleet
from forksync.fleet.gitlab import render_child
from forksync.fleet.plan import Entry, Plan
from forksync.fleet.workflow import render_fleet_workflow, render_gitlab_parent
from forksync.workflow import ActionRef
from tests.gitutil import Repo

SHA = "0123456789abcdef0123456789abcdef01234567"
ACTION = ActionRef("acme/forksync", SHA, "v0.1.0")
ROOT = Path(__file__).resolve().parent.parent


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which(
        "actionlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    assert binary, "actionlint is a dev dependency (pip install -e '.[dev]')"
    return subprocess.run(
        [binary, "-shellcheck=", "-pyflakes=", "-no-color", str(path)], capture_output=True, text=True
    )


@pytest.mark.parametrize("forks", [3, 300])
def test_the_fleet_workflow_passes_actionlint(forks: int, tmp_path: Path) -> None:
    path = tmp_path / ".github" / "workflows" / "forksync-fleet.yml"
    path.parent.mkdir(parents=True)
    path.write_text(render_fleet_workflow(ACTION, forks, 5))
    res = _actionlint(path)
    assert res.returncode == 0, res.stdout + res.stderr
    path.write_text(path.read_text().replace("fail-fast: false", "fail-fast: nope", 1))
    assert _actionlint(path).returncode == 1  # and actionlint does read it


def test_jobs_running_upstream_code_hold_no_write_token_and_everything_is_pinned() -> None:
    text = render_fleet_workflow(ACTION, 300, 5)
    wf = _yaml(text)
    jobs = wf["jobs"]
    assert wf["permissions"] == {} and set(jobs) == {
        "plan",
        "sync-0",
        "publish-0",
        "sync-1",
        "publish-1",
        "summary",
    }
    for name in ("sync-0", "sync-1"):
        job = jobs[name]
        assert job["permissions"] == {"contents": "read"}
        assert job["strategy"]["fail-fast"] is False and job["strategy"]["max-parallel"] == 5
        assert job["strategy"]["matrix"] == f"${{{{ fromJSON(needs.plan.outputs.matrix-{name[-1]}) }}}}"
        dumped = str(job)
        assert re.findall(r"secrets\.(\w+)", dumped) == ["FORKSYNC_READ_APP_PRIVATE_KEY"]
        token = job["steps"][0]["with"]
        assert token["permission-contents"] == "read" and token["repositories"] == "${{ matrix.repo }}"
        assert all(
            s.get("with", {}).get("persist-credentials") is False
            for s in job["steps"]
            if "checkout" in s.get("uses", "")
        )
        sync = next(s for s in job["steps"] if s.get("name", "").startswith("Sync"))
        assert "env" not in sync and sync["with"]["command"] == "export"
    publish = jobs["publish-0"]
    assert publish["steps"][0]["with"]["repositories"] == "${{ matrix.repo }}"  # scoped to the one fork
    assert jobs["summary"]["needs"] == ["plan", "publish-0", "publish-1"]
    assert "--chunks 2" in text
    for uses in re.findall(r"uses: (\S+)", text):
        assert re.search(r"@[0-9a-f]{40}$", uses), uses
    assert f"git+https://github.com/acme/forksync@{SHA}" in text
    action_inputs = set(_yaml((ROOT / "action.yml").read_text())["inputs"])
    for job in jobs.values():
        for step in job["steps"]:
            if step.get("uses", "").startswith("acme/forksync@"):
                assert set(step["with"]) <= action_inputs


def test_the_gitlab_variant_plans_a_parallel_matrix_child_pipeline() -> None:
    parent = _yaml(render_gitlab_parent(ACTION))
    assert "--gitlab-pipeline fleet-pipeline.yml" in parent["plan"]["script"][0]
    assert parent["fleet"]["trigger"]["include"] == [{"artifact": "fleet-pipeline.yml", "job": "plan"}]
    plan = Plan(due=[Entry(f"f{i}", f"grp/sub/f{i}", "grp", f"sub/f{i}", "v1", "r") for i in range(250)])
    child = _yaml(render_child(plan))
    assert [len(child[f"sync-{i}"]["parallel"]["matrix"]) for i in range(2)] == [200, 50]
    assert child["sync-1"]["parallel"]["matrix"][0] == {"FORK": "f200", "REPOSITORY": "grp/sub/f200"}
    assert "GITLAB_TOKEN" not in str(child["sync-0"]) and "FORKSYNC_GITLAB_TOKEN" in str(child["publish-0"])
    assert child["publish-1"]["needs"] == ["sync-1"] and "report" in child
    assert "nothing-due" in _yaml(render_child(Plan()))


def test_init_fleet_writes_a_starter_fleet_file_and_sizes_the_workflow(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "control")
    assert run_fleet(repo.path, False, f"acme/forksync@{SHA}") == 0
    assert (repo.path / "fleet.toml").is_file()
    lines = "".join(f'[[forks]]\nrepository = "acme/f{i}"\n' for i in range(257))
    (repo.path / "fleet.toml").write_text("[fleet]\nmax-parallel = 3\n" + lines)
    from forksync.errors import ConfigError

    with pytest.raises(ConfigError, match="already exist"):
        run_fleet(repo.path, False, f"acme/forksync@{SHA}")
    run_fleet(repo.path, True, f"acme/forksync@{SHA}")
    wf = _yaml((repo.path / ".github/workflows/forksync-fleet.yml").read_text())
    assert "sync-1" in wf["jobs"] and wf["jobs"]["sync-0"]["strategy"]["max-parallel"] == 3
    repo.git("remote", "add", "origin", "https://gitlab.example.com/acme/control.git")
    run_fleet(repo.path, True, f"acme/forksync@{SHA}")
    assert (repo.path / ".gitlab-ci.yml").is_file()

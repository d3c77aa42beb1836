"""The workflow `forksync init` writes (each token variant linted by actionlint), the pinned
action it names, and the action's own steps run as GitHub would run them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from forksync.config import load_config
from forksync.errors import ConfigError, ExitCode
from forksync.workflow import ActionRef, from_direct_url, render_workflow, resolve_action
from tests.gitutil import ENV, Repo

ROOT = Path(__file__).resolve().parent.parent
SHA = "0123456789abcdef0123456789abcdef01234567"
ACTION = ActionRef("acme/forksync", SHA, "v0.1.0")
# The inputs of each pinned action at the pinned commit (read from its action.yml): a typo in a
# `with:` key is silently ignored by GitHub, and actionlint does not know these versions.
KNOWN_INPUTS = {
    "actions/checkout": {"ref", "fetch-depth", "persist-credentials", "token", "path", "repository"},
    "actions/cache": {"path", "key", "restore-keys", "lookup-only", "fail-on-cache-miss", "save-always"},
    "actions/upload-artifact": {"name", "path", "if-no-files-found", "retention-days", "overwrite"},
    "actions/download-artifact": {"name", "path", "pattern", "merge-multiple", "github-token", "run-id"},
    "actions/create-github-app-token": {
        "client-id",
        "private-key",
        "owner",
        "repositories",
        "permission-contents",
        "permission-pull-requests",
        "permission-workflows",
    },
}


def _yaml(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _action_inputs() -> set[str]:
    return set(_yaml((ROOT / "action.yml").read_text())["inputs"])


@pytest.mark.parametrize("token", ["app", "pat", "github-token"])
def test_each_workflow_variant_passes_actionlint(token: str, tmp_path: Path) -> None:
    binary = shutil.which(
        "actionlint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])
    )
    assert binary, "actionlint is a dev dependency (pip install -e '.[dev]')"
    path = tmp_path / ".github" / "workflows" / "forksync.yml"
    path.parent.mkdir(parents=True)
    path.write_text(render_workflow(ACTION, "main", token))
    res = subprocess.run(
        [binary, "-shellcheck=", "-pyflakes=", "-no-color", str(path)], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stdout + res.stderr
    broken = path.read_text().replace("contents: read", "contents: reed", 1)
    path.write_text(broken)  # and actionlint does read it
    assert (
        subprocess.run([binary, "-shellcheck=", "-pyflakes=", str(path)], capture_output=True).returncode == 1
    )


@pytest.mark.parametrize("token", ["app", "pat", "github-token"])
def test_only_the_publish_job_holds_a_token(token: str) -> None:
    text = render_workflow(ACTION, "main", token)
    wf = _yaml(text)
    assert wf["permissions"] == {}
    sync, publish = wf["jobs"]["sync"], wf["jobs"]["publish"]
    assert sync["permissions"] == {"contents": "read", "pull-requests": "read"}
    sync_text = text[text.index("  sync:") : text.index("  publish:")]
    assert "secrets." not in sync_text.replace("#   ANTHROPIC_API_KEY: ${{ secrets.", "")
    assert publish["needs"] == "sync"
    for job in (sync, publish):
        checkout = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/checkout@"))
        assert checkout["with"]["persist-credentials"] is False and checkout["with"]["fetch-depth"] == 0
    ours = [s for j in (sync, publish) for s in j["steps"] if s.get("uses", "").startswith("acme/forksync@")]
    assert [s["with"]["command"] for s in ours] == ["export", "publish"]
    env = ours[1]["env"]
    expected = {
        "app": "${{ steps.app-token.outputs.token }}",
        "pat": "${{ secrets.FORKSYNC_TOKEN }}",
        "github-token": "${{ secrets.GITHUB_TOKEN }}",
    }[token]
    assert env["GITHUB_TOKEN"] == expected
    write = {"contents": "write", "pull-requests": "write"}
    assert (publish["permissions"] == write) == (token == "github-token")
    if token == "github-token":  # its two limits are stated where the choice is made
        assert "cannot push" in text and "do not trigger the fork's CI" in text


@pytest.mark.parametrize("token", ["app", "pat", "github-token"])
def test_every_action_is_pinned_and_given_only_inputs_it_has(token: str) -> None:
    text = render_workflow(ACTION, "main", token)
    uses = re.findall(r"uses: (\S+)@(\S+)", text)
    assert uses and all(re.fullmatch(r"[0-9a-f]{40}", ref) for _, ref in uses), uses
    wf = _yaml(text)
    for job in wf["jobs"].values():
        for step in job["steps"]:
            if "uses" not in step:
                assert "secrets." not in str(step.get("run", "")), step  # a shell step holds no secret
                continue
            name = step["uses"].split("@")[0]
            known = _action_inputs() if name == "acme/forksync" else KNOWN_INPUTS[name]
            assert set(step.get("with", {})) <= known, (name, step.get("with"))
    cache = next(s for s in wf["jobs"]["sync"]["steps"] if s.get("uses", "").startswith("actions/cache@"))
    key = cache["with"]["key"]
    assert "github.repository_id" in key and SHA[:12] in key  # never another repository's or version's
    assert ".git/forksync/learned.json" in cache["with"]["path"]


def test_init_pins_the_action_and_refuses_without_one(tmp_path: Path, forksync_bin: str) -> None:
    repo = Repo(tmp_path / "r")
    repo.commit({"x": "1\n"}, "init")
    repo.git("remote", "add", "upstream", "https://github.com/example/project.git")
    env = {**os.environ, **ENV}
    res = subprocess.run(
        [forksync_bin, "init", "--repo", str(repo.path)], capture_output=True, text=True, env=env
    )
    assert res.returncode == ExitCode.CONFIG and "--action" in res.stderr  # installed editable: unknown
    assert len(res.stderr.strip().splitlines()) == 1 and not (repo.path / ".forksync.toml").exists()
    args = [
        forksync_bin,
        "init",
        "--repo",
        str(repo.path),
        "--action",
        f"acme/forksync@{SHA}",
        "--token",
        "pat",
    ]
    res = subprocess.run(args, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    config, _ = load_config(repo.path)
    assert config.upstream.url == "https://github.com/example/project.git"
    text = (repo.path / ".github/workflows/forksync.yml").read_text()
    assert f"uses: acme/forksync@{SHA}" in text and "forksync[llm]" not in text and "pip install" not in text
    assert "secrets.FORKSYNC_TOKEN" in text
    again = subprocess.run(args, capture_output=True, text=True, env=env)
    assert again.returncode == ExitCode.CONFIG and "--force" in again.stderr
    bad = subprocess.run([*args[:5], "acme/forksync", "--force"], capture_output=True, text=True, env=env)
    assert bad.returncode == ExitCode.CONFIG and "OWNER/REPO@REF" in bad.stderr


def test_a_tag_is_pinned_offline_when_this_forksync_came_from_it() -> None:
    installed = from_direct_url(
        {
            "url": "https://github.com/acme/forksync.git",
            "vcs_info": {"vcs": "git", "commit_id": SHA, "requested_revision": "v0.1.0"},
        }
    )
    assert installed == ACTION
    assert resolve_action(None, installed) == ACTION
    assert resolve_action("acme/forksync@v0.1.0", installed).ref == SHA
    assert resolve_action(f"acme/forksync@{SHA}", installed).uses() == f"acme/forksync@{SHA} # v0.1.0"
    other = resolve_action("acme/forksync@v0.2.0", installed)
    assert (
        not other.pinned and "git ls-remote https://github.com/acme/forksync refs/tags/v0.2.0" in other.uses()
    )
    assert from_direct_url({"url": "file:///src/forksync", "dir_info": {"editable": True}}) is None
    assert (
        from_direct_url({"url": "https://gitlab.com/a/b.git", "vcs_info": {"vcs": "git", "commit_id": SHA}})
        is None
    )
    with pytest.raises(ConfigError, match="--action"):
        resolve_action(None, None)


def test_the_action_dispatches_export_and_publish(demo: tuple[Path, Path, Path], tmp_path: Path) -> None:
    """The composite action's run step, run by bash as the runner would, exports a sync."""
    _, remote, fork = demo
    steps = _yaml((ROOT / "action.yml").read_text())["runs"]["steps"]
    script = next(s for s in steps if s.get("id") == "sync")["run"]
    out = tmp_path / "github_output"
    env = {
        **os.environ,
        **ENV,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GITHUB_OUTPUT": str(out),
        "RUNNER_TEMP": str(tmp_path),
        "FORKSYNC_COMMAND": "export",
        "FORKSYNC_EXPORT_DIR": str(tmp_path / "export"),
        "FORKSYNC_RELEASE": "",
        "FORKSYNC_REPO": str(fork),
    }
    res = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "status=synced" in out.read_text() and (tmp_path / "export" / "sync.bundle").is_file()
    assert (
        subprocess.run(
            ["git", "-C", str(remote), "branch", "--list", "upstream-sync/*"], capture_output=True, text=True
        ).stdout
        == ""
    )
    res = subprocess.run(
        ["bash", "-e", "-c", script], capture_output=True, text=True, env={**env, "FORKSYNC_COMMAND": "push"}
    )
    assert res.returncode == 2 and "command must be" in res.stderr


@pytest.mark.slow
def test_the_action_install_step_installs_forksync_in_a_fresh_venv(tmp_path: Path) -> None:
    """The install line of action.yml, exactly, in a new venv. To keep it short the new venv also
    sees this one's packages (a .pth line), so pip builds and installs forksync itself and finds
    its dependencies satisfied; pip's cache serves the build backend."""
    steps = _yaml((ROOT / "action.yml").read_text())["runs"]["steps"]
    install = next(s for s in steps if str(s.get("name", "")).startswith("Install forksync"))
    venv.EnvBuilder(with_pip=False).create(tmp_path / "venv")  # pip too comes from this venv
    bindir = tmp_path / "venv" / "bin"
    (site_new,) = (tmp_path / "venv" / "lib").glob("python3*/site-packages")
    reuse = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site_new / "reuse-test-packages.pth").write_text("\n".join(reuse) + "\n")
    env = {
        **os.environ,
        "PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}",
        "ACTION_PATH": str(ROOT),
        "EXTRAS": "",
    }
    env.pop("PIP_REQUIRE_VIRTUALENV", None)
    res = subprocess.run(
        ["bash", "-e", "-c", install["run"]], capture_output=True, text=True, env=env, timeout=600
    )
    assert res.returncode == 0, res.stderr[-2000:]
    version = subprocess.run([str(bindir / "forksync"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "version" in version.stdout
    where = subprocess.run(
        [str(bindir / "python"), "-c", "import forksync; print(forksync.__file__)"],
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site_new))  # the fresh install, not the editable one


def test_the_export_job_lets_bubblewrap_make_its_namespaces() -> None:
    """ubuntu-latest (24.04) restricts unprivileged user namespaces; without this step the sandbox
    cannot start there and checks would only run where no secret is in reach."""
    wf = _yaml(render_workflow(ACTION, "main", "app"))
    steps = wf["jobs"]["sync"]["steps"]
    runs = [
        i for i, s in enumerate(steps) if "apparmor_restrict_unprivileged_userns=0" in str(s.get("run", ""))
    ]
    export = next(i for i, s in enumerate(steps) if s.get("with", {}).get("command") == "export")
    assert runs and runs[0] < export
    assert steps[export]["with"]["extras"] == "llm,sandbox"

"""`forksync init`: write a commented `.forksync.toml` and the GitHub Actions workflow
(`forksync.workflow`: the pinned action, the two jobs, the token choice)."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..config import CONFIG_FILE, load_config_text
from ..errors import ConfigError, GitError
from ..git import Git
from ..secrets import strip_credentials
from ..versioning import init_version_lines
from ..workflow import ActionRef, installed_action, render_workflow, resolve_action


def _template(name: str) -> str:
    return resources.files("forksync").joinpath("templates", name).read_text(encoding="utf-8")


def render_files(
    upstream_url: str, branch: str, forge: str, action: ActionRef, token: str = "app"
) -> dict[str, str]:
    upstream_url = strip_credentials(upstream_url)  # a token never lands in a committed file
    values = {
        "upstream_url": upstream_url.replace("\\", "\\\\").replace('"', '\\"'),
        "branch": branch,
        "forge": forge,
    }
    config = _template("forksync.toml").format(**values)
    load_config_text(config, CONFIG_FILE)  # what we write must load
    workflow = render_workflow(action, branch, token)
    return {CONFIG_FILE: config, ".github/workflows/forksync.yml": workflow}


def run(repo: Path, upstream_url: str, force: bool, action: str | None = None, token: str = "app") -> int:
    pinned = resolve_action(action, installed_action())
    git = Git(repo)
    top = git.run("rev-parse", "--show-toplevel", check=False)
    if top.returncode != 0:
        raise GitError(f"{repo} is not a git repository")
    root = Path(top.out.strip())
    if not upstream_url:
        res = git.run("remote", "get-url", "upstream", check=False)
        upstream_url = res.out.strip() if res.returncode == 0 else ""
    branch = git.current_branch() or "main"
    origin = git.run("remote", "get-url", "origin", check=False).out
    forge = "github" if "github" in origin else "gitlab" if "gitlab" in origin else "local"
    files = render_files(upstream_url, branch, forge, pinned, token)
    files[CONFIG_FILE], version_note = init_version_lines(files[CONFIG_FILE], root)  # a dynamic version
    _write(root, files, force)
    if version_note:
        print(f"note: {version_note}")
    if not upstream_url:
        print("note: set [upstream] url in .forksync.toml (no 'upstream' remote found)")
    if not pinned.pinned:
        print(f"note: {pinned.repo}@{pinned.ref} is not pinned to a commit; the workflow says how to pin it")
    print("next: review both files, commit them, and add the secrets the workflow names")
    return 0


def run_fleet(repo: Path, force: bool, action: str | None = None) -> int:
    """`forksync init --fleet`: a starter fleet.toml (kept if present) and the control workflow,
    sized for the fleet file's forks (GitHub Actions, or GitLab CI when origin is on GitLab)."""
    from ..fleet.model import FLEET_FILE, load_fleet
    from ..fleet.workflow import render_fleet_workflow, render_gitlab_parent

    pinned = resolve_action(action, installed_action())
    root = Path(repo).resolve()
    if not root.is_dir():
        raise ConfigError(f"{repo} is not a folder")
    fleet_path = root / FLEET_FILE
    files: dict[str, str] = {}
    if fleet_path.is_file():
        fleet = load_fleet(fleet_path)  # a broken fleet file is said now, not at night
        forks, parallel = len(fleet.forks), fleet.settings.max_parallel
    else:
        files[FLEET_FILE] = _template("fleet.toml")
        forks, parallel = 0, 8
    origin = Git(root).run("remote", "get-url", "origin", check=False).out
    if "gitlab" in origin:
        files[".gitlab-ci.yml"] = render_gitlab_parent(pinned)
    else:
        files[".github/workflows/forksync-fleet.yml"] = render_fleet_workflow(pinned, forks, parallel)
    _write(root, files, force, keep=(FLEET_FILE,))
    if not pinned.pinned:
        print(f"note: {pinned.repo}@{pinned.ref} is not pinned to a commit; the workflow says how to pin it")
    print("next: list the forks in fleet.toml, commit, and set up the Apps the workflow names")
    return 0


def _write(root: Path, files: dict[str, str], force: bool, keep: tuple[str, ...] = ()) -> None:
    """Write the files, refusing to overwrite any but ``keep`` (written only when absent) without
    --force; nothing is written when one would be refused."""
    existing = [name for name in files if name not in keep and (root / name).exists()]
    if existing and not force:
        raise ConfigError(f"{', '.join(existing)} already exist(s)", hint="pass --force to overwrite")
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")

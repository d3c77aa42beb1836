"""`forksync verify`: check the merge at HEAD (or against --against) and list what was lost.

HEAD may be any commit on a sync branch, such as a person's fix-up on top of forksync's merge:
the sync merge is found in its ancestry, and the configuration is read from the fork's commit
(the working tree's `pyproject.toml` may still hold conflict markers).
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import click

from ..config import CONFIG_FILE, Config, load_config, load_config_text, parse_config
from ..errors import ExitCode, GitError
from ..git import Git
from ..report import Finding
from ..secrets import redact

SEARCH_DEPTH = 500  # first-parent commits searched for the sync merge


def _fork_tip(git: Git, config: Config | None) -> str | None:
    branch = config.fork.branch if config else "main"
    remote = config.fork.remote if config else "origin"
    return git.rev_parse(f"refs/heads/{branch}") or git.rev_parse(f"refs/remotes/{remote}/{branch}")


def sync_merge(git: Git, fork_tip: str | None) -> list[str]:
    """[merge, fork parent, upstream parent] of the sync merge HEAD stands on: the newest merge on
    HEAD's first-parent line whose second parent the fork's branch does not have yet (a merge of
    the fork's branch into the sync branch is passed over), else the newest merge."""
    log = git.out("rev-list", "--first-parent", "--parents", "-n", str(SEARCH_DEPTH), "HEAD", check=False)
    merges = [line.split() for line in log.splitlines() if len(line.split()) >= 3]
    if not log:
        raise GitError(f"{git.cwd} has no commit to verify")
    for shas in merges:
        if fork_tip is None or not git.is_ancestor(shas[2], fork_tip):
            return shas[:3]
    if merges:
        return merges[0][:3]
    raise GitError(
        "HEAD is not a merge commit and has none in its history: nothing to verify",
        hint="run it on the sync branch",
    )


def config_at(git: Git, rev: str) -> Config | None:
    """The configuration as committed at ``rev`` (.forksync.toml, else pyproject's [tool.forksync])."""
    text = git.show_file(rev, CONFIG_FILE)
    if text is not None:
        return load_config_text(text.decode("utf-8", "replace"), f"{CONFIG_FILE} at {rev[:10]}")
    pyproject = git.show_file(rev, "pyproject.toml")
    if pyproject is None:
        return None
    try:
        data = tomllib.loads(pyproject.decode("utf-8", "replace"))
    except tomllib.TOMLDecodeError:
        return None
    section = data.get("tool", {}).get("forksync")
    return (
        parse_config(section, f"pyproject.toml [tool.forksync] at {rev[:10]}")
        if isinstance(section, dict)
        else None
    )


def render(findings: list[Finding]) -> str:
    if not findings:
        return "verify: no findings: the fork's customizations and upstream's changes survived the merge"
    lines = [f"verify: {len(findings)} finding(s)"]
    for f in findings:
        where = f"{f.path}:{f.line}" if f.line else f.path or "-"
        extra = "".join(
            [f" [feature {f.feature}]" if f.feature else "", f" (from {f.commit[:10]})" if f.commit else ""]
        )
        lines.append(f"  {f.kind:<21} {where}  {f.message}{extra}")
    return redact("\n".join(lines))


def run(repo: Path, config_path: Path | None, against: str | None, as_json: bool) -> int:
    from ..verify import verify

    git = Git(repo)
    if git.run("rev-parse", "--git-dir", check=False).returncode != 0:
        raise GitError(f"{repo} is not a git repository")
    root = git.toplevel()
    if config_path is not None:
        config, _ = load_config(root, config_path)
    else:  # the fork's committed configuration, never the (possibly conflicted) working tree
        config = config_at(git, sync_merge(git, _fork_tip(git, None))[1]) or Config()
    fork_tip = _fork_tip(git, config)
    merge, fork_parent, upstream = sync_merge(git, fork_tip)
    # The fork's branch when the sync branch has taken it in since (main merged into the branch).
    newer_fork = fork_tip and git.is_ancestor(fork_tip, "HEAD") and not git.is_ancestor(merge, fork_tip)
    fork_before = against or (fork_tip if newer_fork and fork_tip else fork_parent)
    findings = verify(root, config, fork_before=fork_before, upstream=upstream, merged="HEAD")
    if as_json:
        data = {
            "merge": merge,
            "fork": fork_before,
            "findings": [f.__dict__ for f in findings],
            "count": len(findings),
        }
        click.echo(redact(json.dumps(data, indent=2)))
    else:
        click.echo(render(findings))
    return ExitCode.VERIFY_FAILED if findings else ExitCode.OK

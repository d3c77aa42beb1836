"""`forksync verify`: check the merge at HEAD (or against --against) and list what was lost."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..config import load_merge_config
from ..errors import ExitCode, GitError
from ..git import Git
from ..report import Finding
from ..secrets import redact


def _parents(git: Git) -> list[str]:
    line = git.out("rev-list", "--parents", "-n", "1", "HEAD", check=False)
    if not line:
        raise GitError(f"{git.cwd} has no commit to verify")
    return line.split()[1:]


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
    root = git.toplevel()
    parents = _parents(git)
    if len(parents) < 2:
        raise GitError(
            "HEAD is not a merge commit: nothing to verify", hint="run it on the sync branch's merge"
        )
    config, _ = load_merge_config(git, root, config_path, parents[0], parents[1])  # the fork side's
    fork_before = against or parents[0]
    findings = verify(root, config, fork_before=fork_before, upstream=parents[1], merged="HEAD")
    if as_json:
        data = {"findings": [f.__dict__ for f in findings], "count": len(findings)}
        click.echo(redact(json.dumps(data, indent=2)))
    else:
        click.echo(render(findings))
    return ExitCode.VERIFY_FAILED if findings else ExitCode.OK

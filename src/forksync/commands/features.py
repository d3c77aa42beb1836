"""`forksync features discover`: propose a manifest from the fork's own commits."""

from __future__ import annotations

from pathlib import Path

import click

from ..config import load_config
from ..errors import ConfigError, ExitCode
from ..git import Git
from ..secrets import redact


def discover(repo: Path, config_path: Path | None, write: bool) -> int:
    from ..verify.discover import Proposal, render_toml
    from ..verify.discover import discover as propose
    from ..verify.manifest import parse_manifest

    git = Git(repo)
    root = git.toplevel()
    config, _ = load_config(root, config_path)
    proposals = propose(git, config)
    if not write:
        click.echo(redact(render_toml(proposals)), nl=False)
        click.echo(
            f"forksync: {len(proposals)} feature(s) proposed; --write saves them to {config.verify.manifest}",
            err=True,
        )
        return ExitCode.OK
    target = root / config.verify.manifest
    fresh: list[Proposal] = proposals
    if target.is_file():
        try:
            text = target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{config.verify.manifest}: cannot read: {exc}") from None
        known = {f.name for f in parse_manifest(text, config.verify.manifest)}
        fresh = [p for p in proposals if p.name not in known]
        if not fresh:
            click.echo(
                f"forksync: {config.verify.manifest} already lists all {len(proposals)} proposed feature(s); "
                "left unchanged",
                err=True,
            )
            return ExitCode.OK
        addition = render_toml(fresh).split("\n", 1)[1]  # without the header comment
        target.write_text(text.rstrip("\n") + "\n\n" + redact(addition), encoding="utf-8")
        click.echo(
            f"forksync: {config.verify.manifest} exists: kept its {len(known)} feature(s), appended "
            f"{len(fresh)} new one(s); nothing was overwritten",
            err=True,
        )
        return ExitCode.OK
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(redact(render_toml(fresh)), encoding="utf-8")
    click.echo(f"forksync: wrote {len(fresh)} feature(s) to {config.verify.manifest}", err=True)
    return ExitCode.OK

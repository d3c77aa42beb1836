"""`forksync demo`: build the embedded demo repositories and run a full sync on them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from ..demo import build
from ..render.summary import render_summary
from .sync import execute


def run(directory: Path | None, as_json: bool) -> int:
    root = Path(tempfile.mkdtemp(prefix="forksync-demo-")) if directory is None else directory
    if directory is not None:
        root.mkdir(parents=True, exist_ok=True)
        if any(root.iterdir()):
            from ..errors import ConfigError

            raise ConfigError(f"{root} is not empty", hint="give --dir a new or empty folder")
    upstream, remote, fork = build(root)
    report = execute(fork, None, quiet=as_json)
    if as_json:
        print(
            json.dumps(
                {"root": str(root), "upstream": str(upstream), "fork": str(fork), "report": report.to_dict()},
                indent=2,
            )
        )
        return report.exit_code
    print()
    print(f"demo folder:   {root}")
    print(f"upstream:      {upstream}  (tags: v1.0.0, v1.1.0-rc1, v1.1.0-nightly, v1.1.0, v1.2.0-rc1)")
    print(f"fork:          {fork}  (pushes to {remote})")
    print(render_summary(report))
    if report.pull_request:
        print(f"pull request files: {report.pull_request.url.removeprefix('file://')} (+ .json)")
    print("\n" + "=" * 72 + f"\n# {report.pr_title}\n\n{report.pr_body}")
    return report.exit_code

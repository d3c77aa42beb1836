"""Progress output: rich on a terminal, plain lines in CI or pipes, silent for --json."""

from __future__ import annotations

import os
import sys
from typing import TextIO


class Progress:
    def __init__(self, quiet: bool = False, stream: TextIO | None = None) -> None:
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.fancy = (not quiet) and self.stream.isatty() and not os.environ.get("CI")
        self._console = None
        if self.fancy:
            from rich.console import Console

            self._console = Console(file=self.stream, highlight=False)

    def stage(self, name: str, message: str) -> None:
        if self.quiet:
            return
        from .secrets import redact

        text = redact(message)
        if self._console is not None:
            self._console.print(f"[bold cyan]{name:>9}[/] {text}")
        else:
            print(f"forksync: [{name}] {text}", file=self.stream, flush=True)

    def warn(self, message: str) -> None:
        self.stage("warning", message)

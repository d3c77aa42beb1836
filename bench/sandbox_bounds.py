"""Bounds of running untrusted code and merging untrusted files (figures in README "Measured").

    python bench/sandbox_bounds.py [MB]     # default 512: a check printing MB of output

Prints time and peak memory for a loud check, sandbox start-up with and without bubblewrap,
and how fast a YAML alias bomb and a 2M-element TOML array are declined. Asserts nothing.
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from pathlib import Path

from forksync import sandbox
from forksync.checks import run_check
from forksync.resolve.structured_toml import merge_toml
from forksync.resolve.structured_yaml import merge_yaml
from forksync.resolve.threeway import Decline, Notes


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    mb = int(sys.argv[1]) if len(sys.argv) > 1 else 512
    with tempfile.TemporaryDirectory() as tmp:
        code = f"import sys\nb = b'x' * 1023 + b'\\n'\nw = sys.stdout.buffer.write\nfor _ in range({mb} * 1024): w(b)\nprint('END')"
        start = time.monotonic()
        rec = run_check(Path(tmp), "loud", [sys.executable, "-c", code], 600)
        print(
            f"check printing {mb} MB: passed={rec.passed} {time.monotonic() - start:.1f} s, peak {peak_mb():.0f} MB"
        )
        for mode in ("auto", "off"):
            with sandbox.using(sandbox.Policy(mode=mode, allow_unsandboxed=True)):  # type: ignore[arg-type]
                times = []
                for _ in range(11):
                    start = time.monotonic()
                    run_check(Path(tmp), "true", ["true"], 10)
                    times.append(time.monotonic() - start)
            print(f"`true` as a check, sandbox {mode}: median {sorted(times)[5]:.3f} s")
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join(f"*{prev}" for _ in range(9)) + "]")
    bomb = ("\n".join(lines) + "\n").encode()
    big = ("x = [" + ",".join("1" for _ in range(2_000_000)) + "]\n").encode()
    for what, merge in (
        (f"YAML alias bomb ({len(bomb)} bytes)", lambda: merge_yaml(b"x: 1\n", b"x: 2\n", bomb, Notes())),
        (
            "TOML 2M-element array",
            lambda: merge_toml(b"a = 1\n" + big, b"a = 2\n" + big, b"b = 2\n" + big, Notes()),
        ),
    ):
        start = time.monotonic()
        try:
            merge()
            outcome = "merged"
        except Decline as exc:
            outcome = f"declined: {exc}"
        print(f"{what}: {time.monotonic() - start:.3f} s, {outcome}")
    print(f"peak {peak_mb():.0f} MB")


if __name__ == "__main__":
    main()

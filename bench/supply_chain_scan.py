"""How much work the supply-chain scan does on a large release (figure in README "Measured").

    python bench/supply_chain_scan.py [FILES]     # default 20000 Python files of 2.4 kB each

Builds the release in a temporary repository with one `git fast-import`, then times
`supply_chain.scan_release` (median of 3) and prints the git processes, blobs and bytes read.
Asserts nothing.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forksync import supply_chain
from forksync.git import Git


def build(root: Path, files: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    stream = [b"commit refs/heads/main", b"committer B <b@example.com> 0 +0000", b"data 4", b"base"]
    stream += [b"commit refs/heads/main", b"committer B <b@example.com> 1 +0000", b"data 7", b"release"]
    for i in range(files):
        data = f"def f{i}(x):\n    return x + {i}\n".encode() * 60
        stream += [f"M 100644 inline pkg{i % 50}/m{i}.py".encode(), f"data {len(data)}".encode(), data]
    stream.append(b"M 100644 inline zz_init.pth\ndata 10\nimport os")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=root, input=b"\n".join(stream) + b"\n", check=True)


def main() -> None:
    files = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build(root, files)
        git = Git(root)
        times, result = [], None
        for _ in range(3):
            start = time.perf_counter()
            result = supply_chain.scan_release(git, "main~1", "main", guarddog=False)
            times.append(time.perf_counter() - start)
        assert result is not None
        print(
            f"{result.files_changed} files: {statistics.median(times):.2f} s (median of 3), "
            f"{result.git_calls} git processes, {result.blobs_read} blobs / {result.bytes_read / 1e6:.1f} MB read, "
            f"findings {[(f.path, f.severity) for f in result.findings]}"
        )


if __name__ == "__main__":
    main()

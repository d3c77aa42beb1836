"""The code stays typed (mypy --strict) and lint-clean (ruff): part of the test command, so CI holds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=600
    )


def test_ruff_lint_and_format() -> None:
    lint = _run("ruff", "check", "src", "tests", "bench")
    assert lint.returncode == 0, lint.stdout[-4000:]
    fmt = _run("ruff", "format", "--check", "src", "tests", "bench")
    assert fmt.returncode == 0, fmt.stdout[-4000:]


def test_mypy_strict() -> None:
    res = _run("mypy", "--cache-dir", str(ROOT / ".mypy_cache"))
    assert res.returncode == 0, res.stdout[-4000:]


def test_no_two_modules_import_each_other() -> None:
    """Import circles (github <-> gitlab, providers <-> their modules, notify base <-> registry,
    pipeline <-> publish) were broken apart; a new one fails here."""
    import ast

    root = Path(__file__).resolve().parent.parent / "src" / "forksync"
    mods = {}
    for p in root.rglob("*.py"):
        name = "forksync." + ".".join(p.relative_to(root).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = p
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        pkg = m if p.name == "__init__.py" else m.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom):
                parts = pkg.split(".")
                base = ".".join(parts[: len(parts) - (node.level - 1)]) if node.level else ""
                target = ".".join(x for x in (base, node.module or "") if x)
                for alias in node.names:
                    full = f"{target}.{alias.name}"
                    hit = full if full in mods else target if target in mods else None
                    if hit and hit != m:
                        edges[m].add(hit)
    circles = sorted({tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges[b]})
    assert circles == [], circles

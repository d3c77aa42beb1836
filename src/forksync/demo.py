"""The embedded demo: a throwaway upstream and a fork of it, with real conflicts.

Upstream "tinyproxy" publishes v1.0.0; the fork customizes it (a marked Dockerfile section,
a fork-only workflow, a patched module, its own dependency, its CI trigger); upstream then
moves on and tags a release candidate, a nightly, a stable v1.1.0 and a newer -rc. A sync
must pick v1.1.0 and settle every conflict while keeping the fork's customizations.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
    "GIT_COMMITTER_NAME": "forksync demo",
    "GIT_COMMITTER_EMAIL": "demo@forksync.invalid",
}

PYPROJECT_V100 = """\
[project]
name = "tinyproxy"
version = "1.0.0"
description = "A tiny LLM proxy"
requires-python = ">=3.10"
dependencies = [
    "httpx>=0.27",
    "pydantic>=2.0",
]

[tool.ruff]
line-length = 100
"""

DOCKERFILE_V100 = """\
FROM python:3.11-slim
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir .
EXPOSE 8000
CMD ["python", "-m", "tinyproxy"]
"""

ROUTER_V100 = '''\
"""Route requests to model providers."""

import json


def pick_provider(model: str) -> str:
    if model.startswith("claude"):
        return "anthropic"
    return "openai"


def route(model: str, payload: dict) -> str:
    provider = pick_provider(model)
    return json.dumps({"provider": provider, "payload": payload})
'''

TEST_V100 = """\
import unittest

from tinyproxy.router import pick_provider, route


class RouterTest(unittest.TestCase):
    def test_pick(self) -> None:
        self.assertEqual(pick_provider("claude-3"), "anthropic")
        self.assertEqual(pick_provider("gpt-4o"), "openai")

    def test_route(self) -> None:
        self.assertIn("anthropic", route("claude-3", {}))


if __name__ == "__main__":
    unittest.main()
"""

CI_V100 = """\
name: ci
on:
  push:
    branches: [main]
  pull_request:
    branches: [main]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: python -m unittest discover -s tests
"""


def _upstream_v110() -> dict[str, str]:
    return {
        "pyproject.toml": PYPROJECT_V100.replace('version = "1.0.0"', 'version = "1.1.0"').replace(
            '    "pydantic>=2.0",\n', '    "pydantic>=2.7",\n    "anyio>=4.0",\n'
        ),
        "Dockerfile": DOCKERFILE_V100.replace("python:3.11-slim", "python:3.12-slim").replace(
            "WORKDIR /app\n", "WORKDIR /app\nENV PYTHONUNBUFFERED=1\n"
        ),
        "tinyproxy/router.py": ROUTER_V100.replace("import json\n", "import json\nimport logging\n").replace(
            "def route(model: str, payload: dict) -> str:",
            'def supported_models() -> list[str]:\n    return ["claude", "gpt"]\n\n\n'
            "def route(model: str, payload: dict) -> str:",
        ),
        ".github/workflows/ci.yml": CI_V100.replace(
            "      - uses: actions/checkout@v4\n",
            "      - uses: actions/checkout@v4\n      - uses: actions/setup-python@v5\n",
        ),
        "CHANGELOG.md": "# Changelog\n\n## 1.1.0\n- Python 3.12 image\n- anyio\n- supported_models()\n",
    }


def _fork_changes() -> dict[str, str]:
    return {
        "pyproject.toml": PYPROJECT_V100.replace(
            '    "pydantic>=2.0",\n', '    "pydantic>=2.0",\n    "boto3>=1.34",\n'
        ),
        "Dockerfile": DOCKERFILE_V100.replace(
            "FROM python:3.11-slim\n",
            "FROM python:3.11-slim\n# FORK: corporate CA bundle for the egress proxy\n"
            "COPY certs/corp-ca.pem /usr/local/share/ca-certificates/corp-ca.crt\n"
            "RUN update-ca-certificates\n# FORK END\n",
        ),
        "tinyproxy/router.py": ROUTER_V100.replace("import json\n", "import json\nimport os\n").replace(
            "def route(model: str, payload: dict) -> str:",
            'def audit_enabled() -> bool:\n    return os.environ.get("ACME_AUDIT", "1") == "1"\n\n\n'
            "def route(model: str, payload: dict) -> str:",
        ),
        ".github/workflows/ci.yml": CI_V100.replace(
            "    branches: [main]\n  pull_request:", "    branches: [main, acme-main]\n  pull_request:"
        ),
        ".github/workflows/fork-deploy.yml": "name: deploy\non:\n  push:\n    branches: [main]\njobs:\n"
        "  deploy:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo deploying the ACME build\n",
        "certs/corp-ca.pem": "-----BEGIN CERTIFICATE-----\nMIIBdemo\n-----END CERTIFICATE-----\n",
    }


def _git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, **DEMO_ENV}, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def _commit(
    root: Path, files: dict[str, str], message: str, who: str = "Upstream Dev <dev@upstream.example>"
) -> None:
    _write(root, files)
    _git(root, "add", "-A")
    name, _, email = who.partition(" <")
    _git(
        root,
        "-c",
        f"user.name={name}",
        "-c",
        f"user.email={email.rstrip('>')}",
        "commit",
        "-q",
        "-m",
        message,
    )


def build(root: Path) -> tuple[Path, Path, Path]:
    """Create upstream, the fork's remote and the fork's checkout under ``root``."""
    upstream, remote, fork = root / "upstream", root / "fork-remote.git", root / "fork"
    upstream.mkdir(parents=True)
    _git(upstream, "init", "-q", "-b", "main")
    _commit(
        upstream,
        {
            "pyproject.toml": PYPROJECT_V100,
            "Dockerfile": DOCKERFILE_V100,
            "tinyproxy/__init__.py": "",
            "tinyproxy/router.py": ROUTER_V100,
            "tests/__init__.py": "",
            "tests/test_router.py": TEST_V100,
            ".github/workflows/ci.yml": CI_V100,
            "README.md": "# tinyproxy\n",
        },
        "tinyproxy 1.0.0",
    )
    _git(upstream, "tag", "v1.0.0")

    _git(root, "init", "-q", "--bare", "-b", "main", str(remote))
    _git(root, "clone", "-q", str(upstream), str(fork))
    _git(fork, "remote", "rename", "origin", "upstream")
    _git(fork, "remote", "add", "origin", str(remote))
    for files, msg in (
        (
            {
                "Dockerfile": _fork_changes()["Dockerfile"],
                "certs/corp-ca.pem": _fork_changes()["certs/corp-ca.pem"],
            },
            "ACME: trust the corporate CA in the image",
        ),
        (
            {
                ".github/workflows/fork-deploy.yml": _fork_changes()[".github/workflows/fork-deploy.yml"],
                ".github/workflows/ci.yml": _fork_changes()[".github/workflows/ci.yml"],
            },
            "ACME: deploy workflow, CI on acme-main",
        ),
        ({"tinyproxy/router.py": _fork_changes()["tinyproxy/router.py"]}, "ACME: audit switch"),
        ({"pyproject.toml": _fork_changes()["pyproject.toml"]}, "ACME: boto3 for the S3 audit sink"),
    ):
        _commit(fork, files, msg, "Fork Dev <dev@acme.example>")
    config = (
        "[upstream]\n"
        'url = "../upstream"\n'
        "[fork]\n"
        'branch = "main"\n'
        'name = "acme"\n'
        "[checks]\n"
        f'commands = [[{_toml_str(sys.executable)}, "-m", "unittest", "discover", "-s", "tests", "-q"]]\n'
        "timeout = 120\n"
        "[forge]\n"
        'kind = "local"\n'
        f"outbox = {_toml_str(str(root / 'outbox'))}\n"
    )
    _commit(fork, {".forksync.toml": config}, "ACME: forksync config", "Fork Dev <dev@acme.example>")
    _git(fork, "push", "-q", "origin", "main")

    # Upstream moves on: a release candidate, a nightly, the stable release, a newer candidate.
    up110 = _upstream_v110()
    _commit(
        upstream,
        {"pyproject.toml": up110["pyproject.toml"], "Dockerfile": up110["Dockerfile"]},
        "Python 3.12 image; anyio; pydantic 2.7",
    )
    _git(upstream, "tag", "v1.1.0-rc1")
    _commit(upstream, {"tinyproxy/router.py": up110["tinyproxy/router.py"]}, "supported_models()")
    _git(upstream, "tag", "v1.1.0-nightly")
    _commit(
        upstream,
        {
            ".github/workflows/ci.yml": up110[".github/workflows/ci.yml"],
            "CHANGELOG.md": up110["CHANGELOG.md"],
        },
        "Release 1.1.0",
    )
    _git(upstream, "tag", "-a", "v1.1.0", "-m", "tinyproxy 1.1.0")
    _commit(upstream, {"README.md": "# tinyproxy\n\nNext: streaming.\n"}, "Start 1.2 cycle")
    _git(upstream, "tag", "v1.2.0-rc1")
    return upstream, remote, fork


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'

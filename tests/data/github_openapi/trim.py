"""Trim GitHub's official REST OpenAPI description to the operations forksync calls.

The full description (npm ``@octokit/openapi``, ``generated/api.github.com.json``) is 13 MB;
the operations forksync uses and the components they reference are a small part of it.
Descriptions and examples are dropped; schemas are kept as published.

    npm pack @octokit/openapi@23.0.2 && tar xzf octokit-openapi-23.0.2.tgz
    python tests/data/github_openapi/trim.py package/generated/api.github.com.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS = {
    "/repos/{owner}/{repo}/pulls": ("get", "post"),
    "/repos/{owner}/{repo}/pulls/{pull_number}": ("get", "patch"),
    "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers": ("post",),
    "/repos/{owner}/{repo}/labels": ("get", "post"),
    "/repos/{owner}/{repo}/issues/{issue_number}/labels": ("post",),
    "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}": ("delete",),
    "/repos/{owner}/{repo}/issues/{issue_number}/assignees": ("post",),
    "/repos/{owner}/{repo}/issues/{issue_number}/comments": ("get", "post"),
    "/repos/{owner}/{repo}/releases": ("get",),
    "/repos/{owner}/{repo}/git/ref/{ref}": ("get",),
    "/repos/{owner}/{repo}/installation": ("get",),
    "/app/installations/{installation_id}/access_tokens": ("post",),
}
_DROP = {"description", "examples", "example", "x-github", "externalDocs", "summary"}


def _strip(node: Any, names: bool = False) -> Any:
    """Drop prose; ``names`` is true for a ``properties`` map, whose keys are field names."""
    if isinstance(node, dict):
        return {
            k: _strip(v, k == "properties" and not names) for k, v in node.items() if names or k not in _DROP
        }
    if isinstance(node, list):
        return [_strip(v) for v in node]
    return node


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            found.add(ref)
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    paths = {
        path: {m: _strip(spec["paths"][path][m]) for m in methods} for path, methods in OPERATIONS.items()
    }
    wanted: set[str] = set()
    _refs(paths, wanted)
    components: dict[str, dict[str, Any]] = {}
    done: set[str] = set()
    while wanted - done:
        ref = sorted(wanted - done)[0]
        done.add(ref)
        _, _, kind, name = ref.split("/", 3)
        node = _strip(spec["components"][kind][name])
        components.setdefault(kind, {})[name] = node
        _refs(node, wanted)
    return {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"]["title"], "version": spec["info"]["version"]},
        "paths": paths,
        "components": components,
    }


def main() -> None:
    source = Path(sys.argv[1])
    out = Path(__file__).with_name("api.github.com.trimmed.json")
    trimmed = trim(json.loads(source.read_text(encoding="utf-8")))
    out.write_text(
        json.dumps(trimmed, indent=None, separators=(",", ":"), sort_keys=True) + "\n", encoding="utf-8"
    )
    print(f"{out}: {out.stat().st_size:,} bytes, {len(trimmed['paths'])} paths")


if __name__ == "__main__":
    main()

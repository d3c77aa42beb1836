"""Input tokens per conflict hunk: forksync's hunk-context prompt vs sending each conflicted file whole.

Both prompts carry the same context besides the code (system prompt, answer schema, conventions,
feature-manifest entries, the fork and upstream commits behind each side); they differ only in
the code shown: the hunk's three sides plus 8 lines either side, or the whole file with diff3
markers. Tokens are approximated as characters / 4 of the JSON request body's system, messages
and tools (the same count the loopback LLM stand-in reports as usage).

    /work/venv/bin/python bench/llm_tokens.py [--mirror /work/.mirror/CartoDB+litellm/repo]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from forksync.config import parse_config
from forksync.git import Git
from forksync.llm.anthropic_provider import to_payload
from forksync.llm.prompts import RESOLVE_SYSTEM, SUBMIT, hunk_prompt
from forksync.llm.providers import Message, Request
from forksync.llm.resolver import AgentResolver
from forksync.resolve.conflicts import decode
from forksync.resolve.engine import Chain, read_conflicts, resolve_versions
from forksync.resolve.model import Context, Versions

SYNC_MERGES = [  # CartoDB/litellm: (fork side, upstream release) of its "sync: merge vX-stable tag" commits
    ("c082f4c3f9", "790a5ce0b3"),  # v1.81.0-stable
    ("31e39aceaf", "61ed8f9e03"),  # v1.81.3-stable
    ("88d167369a", "a09d3e9162"),  # v1.81.9-stable
    ("89375ff4a9", "ba0d541b19"),  # v1.81.12-stable
    # "fix: resolve upstream sync conflicts for PR #92": fork main moved on while the sync branch waited
    ("b2fb6712f5", "89375ff4a9"),
    ("58c369987b", "d8a2e317e4"),  # the same for PR #49
]


def tokens(prompt: str) -> int:
    payload = to_payload("model", Request(RESOLVE_SYSTEM, (Message("user", prompt),), (SUBMIT,), SUBMIT.name))
    body = [payload["system"], payload["messages"], payload["tools"]]
    return (len(json.dumps(body, ensure_ascii=False)) + 3) // 4


class _Offline:
    """A provider that is never called: the benchmark only builds prompts."""

    name = "none"
    model = "bench"


ENGINE_FIRST = True  # measure only what the deterministic engine leaves (as the pipeline does)


def measure(ctx: Context, versions: list[Versions]) -> dict[str, int]:
    from forksync.llm.session import Session

    resolver = AgentResolver(Session(_Offline(), None, None))  # type: ignore[arg-type]
    totals = {"files": 0, "hunks": 0, "hunk_tokens": 0, "whole_tokens": 0}
    for v in versions:
        if v.kind not in ("content", "add/add"):
            continue
        res = resolve_versions(ctx, v, Chain.default(ctx) if ENGINE_FIRST else Chain([], []))
        found = resolver.pending(ctx, v, res)
        if found is None or res.content is None:
            continue
        doc, pending = found
        view = resolver.file_view(ctx, v, pending, doc)
        totals["hunk_tokens"] += tokens(hunk_prompt(view))
        view.whole_file = decode(res.content)
        totals["whole_tokens"] += tokens(hunk_prompt(view))
        totals["files"] += 1
        totals["hunks"] += len(pending)
    return totals


# -- a demo-like merge built from scratch ----------------------------------------------------------


def _module(i: int, variant: str) -> str:
    out = [
        f'"""Module {i}: request handling helpers."""\n\nimport logging\n\nlog = logging.getLogger(__name__)\n'
    ]
    for f in range(40):
        body = [
            f"def handler_{i}_{f}(request, timeout=30):",
            f'    """Handle request kind {f}."""',
            "    if request is None:",
            "        raise ValueError('no request')",
            f"    payload = dict(request.get('data', {{}}), kind={f})",
        ]
        if f in (7, 23):
            if variant == "fork":
                body.append(f"    payload['tenant'] = current_tenant()  # FORK: tenant routing {f}")
                body.append("    return send(payload, timeout=timeout)")
            elif variant == "upstream":
                body.append("    return send(payload, timeout=timeout, retries=3, backoff=0.5)")
            else:
                body.append("    return send(payload, timeout=timeout)")
        elif f % 6 == 3 and variant == "upstream":
            body.append(f"    log.debug('handler {f}')\n    return send(payload, timeout=timeout)")
        else:
            body.append("    return send(payload, timeout=timeout)")
        out.append("\n".join(body) + "\n")
    if variant == "fork":
        out.append("def current_tenant():  # FORK: tenant routing\n    return 'default'\n")
    return "\n\n".join(out)


def _git(cwd: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "b@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "b@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    ).stdout.strip()


def demo(tmp: Path) -> dict[str, int]:
    repo = tmp / "demo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")

    def commit(variant: str, message: str) -> str:
        for i in range(6):
            (repo / f"pkg/mod{i}.py").parent.mkdir(exist_ok=True)
            (repo / f"pkg/mod{i}.py").write_text(_module(i, variant))
        (repo / "FORK_CONVENTIONS.md").write_text(
            "# Fork conventions\n\n" + "Keep tenant routing (FORK lines) on "
            "every outbound call; prefer upstream's retry settings.\n" * 8
        )
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", message)
        return _git(repo, "rev-parse", "HEAD")

    base = commit("base", "import 1.0.0")
    _git(repo, "checkout", "-q", "-b", "upstream")
    up = commit("upstream", "Retries with backoff for every handler (#812)")
    _git(repo, "checkout", "-q", "main")
    fork = commit("fork", "Route every request to its tenant")
    _git(repo, "merge", "-q", "upstream")
    git = Git(repo)
    cfg = parse_config(
        {
            "agent": {"conventions-file": "FORK_CONVENTIONS.md"},
            "features": [
                {
                    "name": "tenant-routing",
                    "description": "requests carry the tenant",
                    "files": ["pkg/*.py"],
                    "defines": ["current_tenant"],
                }
            ],
        },
        "bench",
    )
    ctx = Context(repo, git, cfg, fork, up, base, "1.1.0")
    return measure(ctx, read_conflicts(git))


def embedded_demo(tmp: Path) -> dict[str, int]:
    """forksync's own demo (tinyproxy): the fork merges upstream's v1.1.0."""
    from forksync import demo as demo_mod

    _, _, fork = demo_mod.build(tmp / "embedded")
    _git(fork, "fetch", "-q", "upstream", "--tags")
    base, up = _git(fork, "merge-base", "HEAD", "v1.1.0"), _git(fork, "rev-parse", "v1.1.0^{commit}")
    head = _git(fork, "rev-parse", "HEAD")
    _git(fork, "merge", "-q", "--no-edit", "v1.1.0")
    git = Git(fork)
    ctx = Context(fork, git, parse_config({"fork": {"name": "acme"}}, "bench"), head, up, base, "1.1.0")
    return measure(ctx, read_conflicts(git))


# -- a replayed real merge -------------------------------------------------------------------------


def replay(mirror: Path, fork: str, upstream: str) -> dict[str, int]:
    git = Git(mirror)
    base = git.merge_base(fork, upstream)
    res = git.run("merge-tree", "--write-tree", "--name-only", "--no-messages", fork, upstream, check=False)
    names = res.out.splitlines()[1:]
    versions = []
    for path in names:
        blobs = [git.show_file(rev, path) if rev else None for rev in (base, fork, upstream)]
        listed = [bool(rev) and git.ok("cat-file", "-e", f"{rev}:{path}") for rev in (base, fork, upstream)]
        if any(b is None and there for b, there in zip(blobs, listed, strict=True)):
            continue  # the mirror lacks that blob (large files are not mirrored)
        versions.append(
            Versions(
                path,
                *blobs,
                base_mode="100644" if blobs[0] is not None else None,
                fork_mode="100644" if blobs[1] is not None else None,
                upstream_mode="100644" if blobs[2] is not None else None,
            )
        )
    # As CartoDB's own sync did ("auto-resolve build artifacts"): the built UI bundle is generated.
    cfg = parse_config(
        {
            "resolve": {
                "policies": [
                    {
                        "path": "litellm/proxy/_experimental/out/**",
                        "policy": "take-upstream",
                        "reason": "built UI bundle",
                    },
                ]
            }
        },
        "bench",
    )
    ctx = Context(mirror, git, cfg, fork, upstream, base, "")
    return measure(ctx, versions)


def report(name: str, t: dict[str, int]) -> None:
    if not t["hunks"]:
        print(f"{name:34} no content conflicts")
        return
    per_hunk, per_whole = t["hunk_tokens"] / t["hunks"], t["whole_tokens"] / t["hunks"]
    print(
        f"{name:34} {t['files']:5} {t['hunks']:6} {per_hunk:12.0f} {per_whole:12.0f} {per_whole / per_hunk:7.1f}x"
        f" {t['hunk_tokens']:10} {t['whole_tokens']:10}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=Path("/work/.mirror/CartoDB+litellm/repo"))
    ap.add_argument("--all-hunks", action="store_true", help="skip the engine: send every conflict hunk")
    args = ap.parse_args()
    global ENGINE_FIRST
    ENGINE_FIRST = not args.all_hunks
    print(
        f"{'merge':34} {'files':>5} {'hunks':>6} {'hunk tok/h':>12} {'whole tok/h':>12} {'ratio':>8}"
        f" {'hunk tot':>10} {'whole tot':>10}"
    )
    grand = {"files": 0, "hunks": 0, "hunk_tokens": 0, "whole_tokens": 0}
    with tempfile.TemporaryDirectory() as tmp:
        report("embedded demo (tinyproxy v1.1.0)", embedded_demo(Path(tmp)))
        report("synthetic (6 modules x 330 lines)", demo(Path(tmp)))
    if args.mirror.is_dir():
        for fork, upstream in SYNC_MERGES:
            t = replay(args.mirror, fork, upstream)
            report(f"litellm {fork[:7]}+{upstream[:7]}", t)
            grand = {k: grand[k] + t[k] for k in grand}
        report("litellm replays, all", grand)
    else:
        print(f"(no litellm mirror at {args.mirror}: replay skipped)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Propose a feature manifest from history: the fork's own commits, grouped into features.

The fork's commits are those not reachable from upstream (its remote-tracking refs, the refs
forksync keeps under refs/forksync/upstream/, or else its release tags). Commits are grouped
by pull request number when the message names one, else by the file they change most; each
feature lists the symbols its commits added or changed that still exist, the new ones that
are called from elsewhere (so that losing the call is caught), and the tests it added.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from ..config import Config, compile_pattern
from ..errors import UpstreamError
from ..git import Git, cat_blobs
from ..resolve.paths import is_test_file
from .orphans import uses
from .project import Project
from .pyindex import PyFile, module_names, parse
from .trees import Tree, git_lines, parse_diff

_PR = re.compile(r"(?:\(#(\d+)\)\s*$|Merge pull request #(\d+))")
_SEP, _FS = "\x1e", "\x1f"


@dataclass
class Proposal:
    name: str
    description: str
    files: list[str] = field(default_factory=list)
    commits: list[str] = field(default_factory=list)
    pull_requests: list[int] = field(default_factory=list)
    defines: list[str] = field(default_factory=list)
    called: list[str] = field(default_factory=list)
    tests: list[str] = field(default_factory=list)


def upstream_refs(git: Git, config: Config) -> list[str]:
    """Refs whose history is upstream's: remote-tracking refs, forksync's refs, or release tags."""
    remote = config.upstream.remote
    refs = git.out(
        "for-each-ref", "--format=%(refname)", f"refs/remotes/{remote}/", "refs/forksync/upstream/"
    )
    found = [r for r in git_lines(refs) if r and not r.endswith("/HEAD")]
    if found:
        return found
    pattern = compile_pattern(config.upstream.release_tags)
    tags = git_lines(git.out("for-each-ref", "--format=%(refname:short)", "refs/tags/"))
    found = [f"refs/tags/{t}" for t in tags if pattern.match(t)]
    if found:
        return found
    newest = git.out("for-each-ref", "--sort=-creatordate", "--count=1", "--format=%(refname)", "refs/tags/")
    if newest:
        return [newest]
    raise UpstreamError(
        "cannot tell the fork's commits from upstream's: no upstream remote refs, no refs/forksync/upstream/*, "
        "no tags",
        hint=f"fetch the upstream remote '{remote}' with its tags first",
    )


def _pr_number(text: str) -> int | None:
    m = _PR.search(text)
    return int(m.group(1) or m.group(2)) if m else None


def fork_commits(git: Git, head: str, exclude: list[str]) -> list[tuple[str, str, Counter[str]]]:
    """(sha, subject, changed lines per file) of the fork's non-merge commits, oldest first."""
    out = git.out(
        "-c",
        "core.quotePath=false",
        "log",
        "--reverse",
        "--no-merges",
        "--no-renames",
        "--numstat",
        f"--format={_SEP}%H{_FS}%s",
        head,
        "--not",
        *exclude,
    )
    commits = []
    for record in out.split(_SEP):
        if not record.strip():
            continue
        header, _, rest = record.partition("\n")
        sha, _, subject = header.partition(_FS)
        sizes: Counter[str] = Counter()
        for line in git_lines(rest):
            parts = line.split("\t")
            if len(parts) == 3:
                added, deleted = (int(x) if x.isdigit() else 1 for x in parts[:2])
                sizes[parts[2]] += added + deleted
        commits.append((sha.strip(), subject, sizes))
    return commits


def pull_requests(git: Git, head: str, exclude: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """Commit -> PR number for commits merged through 'Merge pull request #N', and PR titles."""
    out = git.out("log", "--merges", f"--format=%H{_FS}%P{_FS}%s{_FS}%b{_SEP}", head, "--not", *exclude)
    owner: dict[str, int] = {}
    titles: dict[int, str] = {}
    for record in out.split(_SEP):
        fields = record.strip().split(_FS)
        if len(fields) < 3:
            continue
        parents, subject = fields[1].split(), fields[2]
        number = _pr_number(subject)
        if number is None or len(parents) < 2:
            continue
        body = git_lines(fields[3].strip()) if len(fields) > 3 else []
        titles[number] = body[0] if body else subject
        for sha in git.out(
            "rev-list", "--no-merges", f"{parents[0]}..{parents[1]}", "--not", *exclude
        ).split():
            owner.setdefault(sha, number)
    return owner, titles


def _changed_symbols(git: Git, head: str, exclude: list[str]) -> dict[str, list[tuple[str, str, bool]]]:
    """Commit -> (path, qualname, added) for every def/class a fork commit touched."""
    out = git.run(
        "-c",
        "core.quotePath=false",
        "log",
        "--no-merges",
        "--no-renames",
        "-p",
        "-U0",
        f"--format={_SEP}%H",
        head,
        "--not",
        *exclude,
        "--",
        "*.py",
    ).stdout.decode("utf-8", "surrogateescape")
    per_commit: dict[str, list[tuple[str, list[tuple[int, int]]]]] = {}
    for record in out.split(_SEP):
        sha, _, diff = record.partition("\n")
        if not sha.strip():
            continue
        spans: dict[str, list[tuple[int, int]]] = {}
        for hunk in parse_diff(diff):
            if hunk.new_lines:
                spans.setdefault(hunk.path, []).append(
                    (hunk.new_start, hunk.new_start + len(hunk.new_lines) - 1)
                )
        per_commit[sha.strip()] = list(spans.items())
    specs = [f"{sha}:{path}" for sha, items in per_commit.items() for path, _ in items]
    specs += [f"{sha}^:{path}" for sha, items in per_commit.items() for path, _ in items]
    blobs = cat_blobs(git, specs)
    result: dict[str, list[tuple[str, str, bool]]] = {}
    for sha, items in per_commit.items():
        for path, spans_ in items:
            now = _parsed(path, blobs.get(f"{sha}:{path}"))
            if now is None:
                continue
            before = _parsed(path, blobs.get(f"{sha}^:{path}"))
            for qualname, d in now.defs.items():
                inner = [q for q in now.defs if q.startswith(qualname + ".")]
                hit = [s for s in spans_ if s[0] <= d.end_line and s[1] >= d.line]
                if not hit:
                    continue
                if inner and all(
                    any(s[0] <= now.defs[q].end_line and s[1] >= now.defs[q].line for q in inner) for s in hit
                ):
                    continue  # the change is inside a method: name the method, not the class
                result.setdefault(sha, []).append(
                    (path, qualname, before is None or qualname not in before.defs)
                )
    return result


def _parsed(path: str, data: bytes | None) -> PyFile | None:
    return parse(path, data.decode("utf-8", "surrogateescape")) if data is not None else None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "feature"


def discover(git: Git, config: Config, head: str = "HEAD") -> list[Proposal]:
    exclude = upstream_refs(git, config)
    commits = fork_commits(git, head, exclude)
    owner, titles = pull_requests(git, head, exclude)
    groups: dict[str, Proposal] = {}
    for sha, subject, sizes in commits:
        number = owner.get(sha) or _pr_number(subject)
        if number is not None:
            key = f"pr-{number}"
            title = titles.get(number) or _PR.sub("", subject).strip()
        else:
            code = [p for p in sizes if not is_test_file(p)] or list(sizes)
            if not code:
                continue
            key = _slug(max(code, key=lambda p: sizes[p]))
            title = subject
        prop = groups.setdefault(key, Proposal(key, title))
        if number is not None and number not in prop.pull_requests:
            prop.pull_requests.append(number)
        elif number is None:
            prop.description = subject  # the newest commit describes the file best
        prop.commits.append(sha[:12])
        prop.files += [p for p in sizes if p not in prop.files]
    _add_symbols(git, head, exclude, commits, owner, groups)
    return list(groups.values())


def _add_symbols(
    git: Git,
    head: str,
    exclude: list[str],
    commits: list[tuple[str, str, Counter[str]]],
    owner: dict[str, int],
    groups: dict[str, Proposal],
) -> None:
    by_sha = {sha[:12]: prop for prop in groups.values() for sha in prop.commits}
    symbols = _changed_symbols(git, head, exclude)
    project = Project(Tree(git, head))
    touched = sorted({p for items in symbols.values() for p, _, _ in items})
    project.files(touched)
    added: list[tuple[Proposal, str, str]] = []
    for sha, items in symbols.items():
        prop = by_sha.get(sha[:12])
        if prop is None:
            continue
        for path, qualname, is_new in items:
            info = project.file(path)
            if info is None or qualname not in info.defs:
                continue  # changed then, gone now
            leaf = qualname.rsplit(".", 1)[-1]
            if is_test_file(path):
                if leaf.startswith("test"):
                    node = f"{path}::{qualname.replace('.', '::')}"
                    if node not in prop.tests:
                        prop.tests.append(node)
                continue
            names = module_names(path)
            symbol = f"{names[-1] if names else path}:{qualname}"
            if symbol not in prop.defines:
                prop.defines.append(symbol)
            if is_new and not leaf.startswith("__"):
                added.append((prop, path, qualname))
    if not added:
        return
    files = project.tree.grep_files(sorted({q.rsplit(".", 1)[-1] for _, _, q in added}))
    for prop, path, qualname in added:
        names = module_names(path)
        symbol = f"{names[-1] if names else path}:{qualname}"
        if symbol not in prop.called and uses(project, files, path, qualname):
            prop.called.append(symbol)


def render_toml(proposals: list[Proposal]) -> str:
    import tomlkit

    doc = tomlkit.document()
    doc.add(tomlkit.comment("Proposed by `forksync features discover`: review, trim and commit."))
    features = tomlkit.aot()
    for prop in proposals:
        table = tomlkit.table()
        table["name"] = prop.name
        table["description"] = prop.description
        for key in ("files", "commits", "pull-requests", "defines", "called", "tests"):
            value = getattr(prop, key.replace("-", "_"))
            if value:
                table[key] = value
        features.append(table)
    doc["features"] = features
    return tomlkit.dumps(doc)

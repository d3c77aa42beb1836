"""The resolver chain, in the order the engine consults it.

File resolvers settle whole paths (policies first: the user's word beats any heuristic);
hunk resolvers then settle what `git merge-file` leaves, cheapest and surest first.
Adding a resolver is one module and one line here. `[resolve] disable` removes by name.
"""

from __future__ import annotations

from .finer import FinerResolver
from .history import HistoryResolver
from .learned import LearnedResolver
from .linesets import LineSetResolver
from .markers import ForkMarkersResolver
from .model import Context, FileResolver, HunkResolver
from .policy import PathPolicyResolver
from .python_merge import PythonSyntaxResolver
from .structured_json import JsonResolver
from .structured_toml import TomlResolver
from .structured_yaml import YamlResolver
from .trivial import TrivialResolver
from .version_bump import VersionBumpResolver


def file_resolvers(ctx: Context) -> list[FileResolver]:
    chain: list[FileResolver] = [
        PathPolicyResolver(),
        HistoryResolver(),
        TomlResolver(),
        JsonResolver(),
        YamlResolver(),
        LineSetResolver(),
    ]
    return [r for r in chain if r.name not in ctx.config.resolve.disable]


def hunk_resolvers(ctx: Context) -> list[HunkResolver]:
    chain: list[HunkResolver] = [
        TrivialResolver(),
        ForkMarkersResolver(),
        VersionBumpResolver(),
        LearnedResolver(),
        FinerResolver(),
        PythonSyntaxResolver(),
    ]
    return [r for r in chain if r.name not in ctx.config.resolve.disable]

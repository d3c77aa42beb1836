"""Parsed Python files of one snapshot, parsed on demand and cached.

Snapshots share most files: a parse is cached by blob id and path across the snapshots of one
verification, so an unchanged module is parsed once, not once per snapshot.
"""

from __future__ import annotations

from collections import Counter

from .pyindex import Definition, PyFile, header_names, module_map, parse
from .trees import Tree


class Project:
    def __init__(
        self,
        tree: Tree,
        shared: dict[tuple[str, str], PyFile | None] | None = None,
        headers: dict[str, Counter[tuple[str, str]]] | None = None,
    ) -> None:
        self.tree = tree
        self._parsed: dict[str, PyFile | None] = {}
        self._shared = {} if shared is None else shared  # (blob id, path) -> parse
        self._shared_headers = {} if headers is None else headers  # blob id -> header_names
        self._modules: dict[str, str] | None = None

    @property
    def modules(self) -> dict[str, str]:
        if self._modules is None:
            self._modules = module_map([p for p in self.tree.files() if p.endswith(".py")])
        return self._modules

    def headers(self, path: str) -> Counter[tuple[str, str]]:
        """`header_names` of the file (empty when absent), once per blob across snapshots."""
        oid = self.tree.oid(path)
        if oid is not None and oid in self._shared_headers:
            return self._shared_headers[oid]
        found = header_names(self.tree.text(path) or "")
        if oid is not None:
            self._shared_headers[oid] = found
        return found

    def _key(self, path: str) -> tuple[str, str] | None:
        oid = self.tree.oid(path)
        return (oid, path) if oid else None

    def file(self, path: str, calls: bool = False) -> PyFile | None:
        """The parsed file; with ``calls`` its calls are walked in the same parse."""
        if path not in self._parsed:
            key = self._key(path) if path.endswith(".py") else None
            if key is not None and key in self._shared:
                self._parsed[path] = self._shared[key]
                return self._parsed[path]
            text = self.tree.text(path) if path.endswith(".py") else None
            self._parsed[path] = parse(path, text, calls) if text is not None else None
            if key is not None:
                self._shared[key] = self._parsed[path]
        return self._parsed[path]

    def files(self, paths: list[str], calls: bool = False) -> list[PyFile]:
        self.tree.prefetch(
            p
            for p in paths
            if p.endswith(".py") and p not in self._parsed and self._key(p) not in self._shared
        )
        return [f for f in (self.file(p, calls) for p in paths) if f is not None]

    def prefetch_targets(self, infos: list[PyFile]) -> None:
        """Read, in one batch, every module that these files' calls resolve into."""
        paths = {self.modules.get(c.target[0], "") for info in infos for c in info.calls if c.target}
        self.tree.prefetch(p for p in paths if p and p not in self._parsed)

    def module_file(self, module: str) -> PyFile | None:
        path = self.modules.get(module)
        return self.file(path) if path else None

    def definition(self, module: str, qualname: str) -> tuple[str, Definition] | None:
        info = self.module_file(module)
        if info is None:
            return None
        found = info.defs.get(qualname)
        return (info.path, found) if found else None

    def locate(self, target: tuple[str, str]) -> tuple[str, str] | None:
        """(path, qualname) of the definition a resolved call target names, if it is in the tree."""
        module, name = self.canonical(target)
        path = self.modules.get(module)
        return (path, name) if path else None

    def canonical(self, target: tuple[str, str]) -> tuple[str, str]:
        """Follow re-exports (``from .impl import f`` in a package) to the defining module."""
        module, name = target
        for _ in range(3):
            info = self.module_file(module)
            if name in (info.defs if info else {}):
                break
            head, _, rest = name.partition(".")
            if rest and f"{module}.{head}" in self.modules:  # `from pkg import mod; mod.f`
                module, name = f"{module}.{head}", rest
                continue
            if info is None:
                break
            src_module, src_name = info.imports.get(head, ("", ""))
            if not src_name:
                break
            module, name = src_module, src_name + ("." + rest if rest else "")
        return module, name

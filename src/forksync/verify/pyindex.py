"""What one Python file defines and calls, by static analysis with `ast`.

Calls are resolved only where imports make the target certain (a name defined or imported
in the file, ``module.name`` through an import, ``self.method`` within a class); anything
else stays unresolved, so that checks built on this raise no false alarms.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass

# Decorators that leave a function's call signature as written.
_PLAIN_DECORATORS = {
    "staticmethod",
    "classmethod",
    "abstractmethod",
    "override",
    "cache",
    "lru_cache",
    "cached_property",
    "property",
}


def module_names(path: str) -> list[str]:
    """Dotted names a file can be imported as (``src/`` and ``lib/`` layouts included)."""
    if not path.endswith((".py", ".pyi")):
        return []
    parts = path.rsplit(".", 1)[0].split("/")
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts:
        return []
    names = [".".join(parts)]
    if parts[0] in ("src", "lib") and len(parts) > 1:
        names.append(".".join(parts[1:]))
    return names


def module_map(paths: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in paths:
        for name in module_names(path):
            out.setdefault(name, path)
    return out


@dataclass(frozen=True)
class Signature:
    positional: tuple[str, ...]  # positional-only and positional-or-keyword names, in order
    posonly: int
    required_positional: int  # how many leading positional params have no default
    kwonly: tuple[str, ...]
    kwonly_required: tuple[str, ...]
    varargs: bool
    varkw: bool

    def bound(self) -> Signature:
        """The signature seen through an instance or class (first parameter supplied)."""
        if not self.positional:
            return self
        return Signature(
            self.positional[1:],
            max(self.posonly - 1, 0),
            max(self.required_positional - 1, 0),
            self.kwonly,
            self.kwonly_required,
            self.varargs,
            self.varkw,
        )

    def render(self) -> str:
        parts = list(self.positional)
        if self.varargs:
            parts.append("*args")
        elif self.kwonly:
            parts.append("*")
        parts += self.kwonly
        if self.varkw:
            parts.append("**kwargs")
        return "(" + ", ".join(parts) + ")"


@dataclass(frozen=True)
class Definition:
    qualname: str  # "func", "Class", "Class.method"
    kind: str  # function | class | method
    line: int
    end_line: int
    signature: Signature | None  # None when decorators or inheritance make it unknowable
    binding: str = ""  # "" | "static" | "class" (for methods)


@dataclass(frozen=True)
class Call:
    target: tuple[str, str] | None  # (module, qualname) when resolved
    name: str  # the called name as written (last component)
    line: int
    caller: str  # qualname of the enclosing function ("" at module level)
    positional: int
    keywords: tuple[str, ...]
    star: bool  # *args in the call
    starstar: bool  # **kwargs in the call
    via: str  # "instance" (self.m), "class" (C.m, cls.m) or "" (plain name or module attribute)
    is_call: bool = True  # False: a bare reference (callback, registration)
    end_line: int = 0  # last line of the call's text (0: same as line)


class PyFile:
    """Definitions and module-level imports at once; calls only when first asked for (the costly walk)."""

    def __init__(self, path: str, module: str, text: str) -> None:
        self.path = path
        self.module = module
        self.defs: dict[str, Definition] = {}
        self._text: str | None = text  # kept instead of the tree: thousands of trees swamp memory and gc
        self._calls: list[Call] = []
        # Module-level imports: local name -> (module, name), name "" for a module import. Read at
        # parse time: following a re-export must not cost the walk of every call.
        self.imports: dict[str, tuple[str, str]] = {}

    def analyse(self, tree: ast.Module | None = None) -> None:
        """Walk the calls now, from ``tree`` when the caller has just parsed the text anyway
        (parsing a 290 kB module twice cost more than the walk)."""
        if self._text is not None:
            visitor = _Calls(self, self.path.endswith("__init__.py"))
            visitor.visit(tree if tree is not None else ast.parse(self._text))
            self._calls, self._text = visitor.calls, None

    @property
    def calls(self) -> list[Call]:
        self.analyse()
        return self._calls


def parse(path: str, text: str, calls: bool = False) -> PyFile | None:
    """The file's definitions (calls now with ``calls``, else lazily); None when it does not parse."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    names = module_names(path)
    info = PyFile(path, names[-1] if names else path, text)
    _collect_defs(tree, info)
    info.imports = _module_imports(tree, info)
    if calls:
        info.analyse(tree)
    return info


def _module_imports(tree: ast.Module, info: PyFile) -> dict[str, tuple[str, str]]:
    """Imports outside any function or class (inside ``if``/``try`` blocks too)."""
    visitor = _Calls(info, info.path.endswith("__init__.py"))
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop(0)
        if isinstance(node, ast.Import):
            visitor.visit_Import(node)
        elif isinstance(node, ast.ImportFrom):
            visitor.visit_ImportFrom(node)
        elif isinstance(node, ast.If | ast.Try | ast.With):
            todo[:0] = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", [])]
            todo[:0] = [stmt for handler in getattr(node, "handlers", []) for stmt in handler.body]
    return visitor.aliases


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return "?"


def signature_of(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> Signature | None:
    if any(_decorator_name(d) not in _PLAIN_DECORATORS for d in fn.decorator_list):
        return None
    a = fn.args
    positional = tuple(p.arg for p in [*a.posonlyargs, *a.args])
    kw_required = tuple(p.arg for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is None)
    return Signature(
        positional,
        len(a.posonlyargs),
        len(positional) - len(a.defaults),
        tuple(p.arg for p in a.kwonlyargs),
        kw_required,
        a.vararg is not None,
        a.kwarg is not None,
    )


def _binding(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    names = {_decorator_name(d) for d in fn.decorator_list}
    return "static" if "staticmethod" in names else "class" if "classmethod" in names else ""


def _collect_defs(tree: ast.Module, info: PyFile) -> None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            info.defs[node.name] = Definition(node.name, "function", node.lineno, end, signature_of(node))
        elif isinstance(node, ast.ClassDef):
            init_sig: Signature | None = None
            plain = not node.decorator_list and not node.keywords
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                    qual = f"{node.name}.{item.name}"
                    sig = signature_of(item)
                    info.defs[qual] = Definition(
                        qual, "method", item.lineno, item.end_lineno or item.lineno, sig, _binding(item)
                    )
                    if item.name == "__init__" and sig is not None and plain:
                        init_sig = sig.bound()
            info.defs[node.name] = Definition(
                node.name, "class", node.lineno, node.end_lineno or node.lineno, init_sig
            )


class _Calls(ast.NodeVisitor):
    """Collects calls and references with the targets that imports make certain."""

    def __init__(self, info: PyFile, is_package: bool) -> None:
        self.info = info
        self.calls: list[Call] = []
        self.local: set[str] = set()
        self.package = info.module if is_package else info.module.rpartition(".")[0]
        self.aliases: dict[str, tuple[str, str]] = {}  # local name -> (module, qualname) or (module, "")
        self.scope: list[str] = []
        self.classes: list[str] = []
        self.in_call: set[int] = set()

    # -- imports -----------------------------------------------------------------------
    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        base = self.package.split(".") if self.package else []
        if level > 1:
            base = base[: len(base) - (level - 1)]
        return ".".join([*base, module] if module else base)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.aliases[alias.asname] = (alias.name, "")
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = (top, "")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = self._absolute(node.module, node.level)
        for alias in node.names:
            if alias.name != "*":
                self.aliases[alias.asname or alias.name] = (module, alias.name)

    # -- scopes ------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for d in [*node.decorator_list, *node.bases]:
            self.visit(d)
        self.classes.append(node.name)
        self.scope.append(node.name)
        for item in node.body:
            self.visit(item)
        self.scope.pop()
        self.classes.pop()

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for d in node.decorator_list:
            self.visit(d)
        self.scope.append(node.name)
        # A flat walk of the body: several times faster than visitor dispatch on every node.
        # Nested functions count as their outer function (the caller is only used to skip recursion).
        nodes = [sub for top in [node.args, *node.body] for sub in ast.walk(top)]
        a = node.args
        local = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, a.vararg, a.kwarg] if p is not None}
        local |= {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
        local -= {"self", "cls"}
        outer, self.local = self.local, local  # a parameter or assignment shadows a module-level name
        for sub in nodes:
            kind = type(sub)
            if kind is ast.Call:
                self._call(sub)  # type: ignore[arg-type]
            elif kind is ast.Name:
                self._reference(sub)  # type: ignore[arg-type]
            elif kind is ast.Attribute:
                self._reference(sub)  # type: ignore[arg-type]
                self.in_call.add(id(sub.value))  # type: ignore[attr-defined]
            elif kind is ast.Import:
                self.visit_Import(sub)  # type: ignore[arg-type]
            elif kind is ast.ImportFrom:
                self.visit_ImportFrom(sub)  # type: ignore[arg-type]
        self.local = outer
        self.scope.pop()

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    # -- targets -----------------------------------------------------------------------
    def _dotted(self, node: ast.expr) -> list[str] | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        parts.append(node.id)
        return parts[::-1]

    def _resolve(self, node: ast.expr) -> tuple[tuple[str, str] | None, str]:
        """(module, qualname) of what ``node`` names, and how a method is reached."""
        parts = self._dotted(node)
        if not parts:
            return None, ""
        head, rest = parts[0], parts[1:]
        if head in self.local:
            return None, ""
        if head in ("self", "cls") and self.classes and len(rest) == 1 and len(self.scope) >= 2:
            return (
                self.info.module,
                f"{self.classes[-1]}.{rest[0]}",
            ), "instance" if head == "self" else "class"
        if head in self.aliases:
            module, name = self.aliases[head]
            if name and not rest:
                return (module, name), ""
            if name and len(rest) == 1:  # Class.method via an imported class
                return (module, f"{name}.{rest[0]}"), "class"
            if not name and rest:
                # `import x as m; m.f` / `m.C.f`; `import a.b` binds `a`, so `a.b.f` is f in a.b
                if module != head:
                    return (module, ".".join(rest)), "class" if len(rest) == 2 else ""
                return (".".join([module, *rest[:-1]]), rest[-1]), ""
            return None, ""
        if head in self.info.defs:
            if not rest:
                return (self.info.module, head), ""
            if len(rest) == 1:
                return (self.info.module, f"{head}.{rest[0]}"), "class"
        return None, ""

    def visit_Call(self, node: ast.Call) -> None:
        self._call(node)
        self.generic_visit(node)

    def _call(self, node: ast.Call) -> None:
        target, via = self._resolve(node.func)
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        self.in_call.add(id(node.func))
        star = any(isinstance(a, ast.Starred) for a in node.args)
        keywords = tuple(k.arg for k in node.keywords if k.arg is not None)
        starstar = any(k.arg is None for k in node.keywords)
        positional = sum(1 for a in node.args if not isinstance(a, ast.Starred))
        self.calls.append(
            Call(
                target,
                name,
                node.lineno,
                ".".join(self.scope),
                positional,
                keywords,
                star,
                starstar,
                via,
                end_line=node.end_lineno or node.lineno,
            )
        )

    def _reference(self, node: ast.Name | ast.Attribute) -> None:
        if id(node) in self.in_call or not isinstance(node.ctx, ast.Load):
            return
        target, via = self._resolve(node)
        name = node.attr if isinstance(node, ast.Attribute) else node.id
        self.calls.append(
            Call(target, name, node.lineno, ".".join(self.scope), 0, (), False, False, via, is_call=False)
        )

    def visit_Name(self, node: ast.Name) -> None:
        self._reference(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self._reference(node)
        self.in_call.add(id(node.value))  # `a.b.c`: only the full chain is a reference
        self.visit(node.value)


def is_bound(definition: Definition, via: str) -> bool:
    """Does the call supply the first parameter implicitly (self / cls)?"""
    if definition.kind != "method":
        return False
    if definition.binding == "static":
        return False
    return definition.binding == "class" or via == "instance"


def mismatch(sig: Signature, call: Call, bound: bool) -> str | None:
    """Why ``call`` cannot bind to ``sig`` (one line), or None when it can or it cannot be told."""
    s = sig.bound() if bound else sig
    if not call.star and not s.varargs and call.positional > len(s.positional):
        return (
            f"passes {call.positional} positional arguments; {s.render()} takes at most {len(s.positional)}"
        )
    keyword_ok = set(s.positional[s.posonly :]) | set(s.kwonly)
    if not s.varkw:
        for kw in call.keywords:
            if kw not in keyword_ok:
                return f"passes keyword '{kw}' that {s.render()} does not accept"
    if call.star or call.starstar:
        return None
    filled = set(s.positional[: call.positional]) | set(call.keywords)
    for name in s.positional[: s.required_positional]:
        if name not in filled:
            return f"does not pass required argument '{name}' of {s.render()}"
    for name in s.kwonly_required:
        if name not in filled:
            return f"does not pass required keyword '{name}' of {s.render()}"
    return None


def _header_starts(text: str) -> list[int]:
    """Where each line opening a header starts: `[ \t]*` then `@`, `def `, `async def ` or
    `class `. Found with `str.find` per keyword (C speed): a `^…` regex in multi-line mode is
    tried at every character, 6 ms of 8 on litellm's 440 kB proxy_server.py (now under 1 ms)."""
    starts: set[int] = set()
    for word in ("def", "class", "@"):
        at = text.find(word)
        while at != -1:
            line = text.rfind("\n", 0, at) + 1
            lead = text[line:at]
            if word == "@" or text[at + len(word) : at + len(word) + 1] in (" ", "\t"):
                bare = lead.strip(" \t")
                if not bare or (word == "def" and bare == "async" and lead[-1] in " \t"):
                    starts.add(line)
            at = text.find(word, at + 1)
    return sorted(starts)


_ONE_LINE = re.compile(r"\)\s*(?:->[^:]*)?:")
_HEADER_NAME = re.compile(r"^[ \t]*(?:(?:async[ \t]+)?def|class)[ \t]+([A-Za-z_][A-Za-z0-9_]*)")


def _headers(text: str) -> list[tuple[int, str, str]]:
    """(indentation, whitespace-normalized header, name) of every decorator, ``class`` and ``def``
    header; a decorator's name is "". A header runs from its first line to the line that closes its
    brackets and ends with a colon; brackets inside strings can only make it longer. Header starts
    are found by `_header_starts` (a Python loop over every line cost seconds on a sync)."""
    out: list[tuple[int, str, str]] = []
    consumed = 0
    for pos in _header_starts(text):
        if pos < consumed:
            continue  # a line of the previous header
        first = ""
        parts, depth = [], 0
        while pos < len(text):
            nl = text.find("\n", pos)
            end = len(text) if nl < 0 else nl
            line = text[pos:end]
            pos = end + 1
            first = first or line
            parts.append(" ".join(line.split()))
            depth += (
                line.count("(")
                + line.count("[")
                + line.count("{")
                - line.count(")")
                - line.count("]")
                - line.count("}")
            )
            if depth > 0:
                continue
            if first.lstrip().startswith("@"):
                break
            code = line.split("#", 1)[0].rstrip()
            if code.endswith(":") or _ONE_LINE.search(code):
                break  # `def f(a): return a` ends on its line too
        consumed = pos
        name = _HEADER_NAME.match(first)
        out.append((len(first) - len(first.lstrip()), " ".join(parts), name.group(1) if name else ""))
    return out


def def_headers(text: str) -> Counter[str]:
    """Every decorator, ``class`` and ``def`` header of a file, whitespace-normalized.

    Signatures come from these lines alone (`signature_of`, `_collect_defs`), so two texts with
    the same headers have the same signatures: a cheap gate before parsing."""
    return Counter(header for _, header, _ in _headers(text))


_INNER_NAME = re.compile(r"(?:^| )(?:async )?(?:def|class) ([A-Za-z_][A-Za-z0-9_]*)")


def header_names(text: str) -> Counter[tuple[str, str]]:
    """(name, header with its decorators) of every ``def`` and ``class``. A changed ``__init__``
    (or other dunder method) also counts under its class's name, which is how it is called."""
    out: Counter[tuple[str, str]] = Counter()
    decorators: list[str] = []
    classes: list[tuple[int, str]] = []
    for indent, header, name in _headers(text):
        if not name:
            decorators.append(header)
            for inner in set(_INNER_NAME.findall(header)):  # a decorator run on over defs
                out[(inner, header)] += 1
            continue
        while classes and classes[-1][0] >= indent:
            classes.pop()
        full = " ".join([*decorators, header])
        decorators = []
        out[(name, full)] += 1
        # A bracket inside a string makes a header run on over the defs after it: name them too.
        for inner in set(_INNER_NAME.findall(full)) - {name}:
            out[(inner, full)] += 1
        if name.startswith("__") and classes:
            out[(classes[-1][1], full)] += 1
        if header.startswith("class "):
            classes.append((indent, name))
    return out

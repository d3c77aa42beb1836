"""Static call analysis: what a call resolves to, and whether its arguments still fit."""

from __future__ import annotations

import textwrap

import pytest

from forksync.verify.pyindex import Call, PyFile, is_bound, mismatch, module_names, parse


def parsed(path: str, source: str) -> PyFile:
    info = parse(path, textwrap.dedent(source))
    assert info is not None
    return info


def calls(info: PyFile, name: str) -> list[Call]:
    return [c for c in info.calls if c.name == name and c.is_call]


def test_module_names_for_src_layout_and_packages() -> None:
    assert module_names("src/pkg/mod.py") == ["src.pkg.mod", "pkg.mod"]
    assert module_names("pkg/__init__.py") == ["pkg"]
    assert module_names("README.md") == []


def test_resolution_through_imports_and_self() -> None:
    info = parsed(
        "pkg/sub/mod.py",
        """
        import os.path
        import pkg.other as other
        from . import sibling
        from ..api import send as deliver
        from pkg.models import Model

        def local(a):
            return a

        class Worker:
            def run(self):
                self.step(1)
                deliver("x")
                other.go()
                sibling.ping()
                Model.build(2)
                local(3)
                os.path.join("a")
                unknown()

            def step(self, n):
                return n
    """,
    )
    targets = {c.name: c.target for c in info.calls if c.is_call}
    assert targets["step"] == ("pkg.sub.mod", "Worker.step")
    assert targets["deliver"] == ("pkg.api", "send")
    assert targets["go"] == ("pkg.other", "go")
    assert targets["ping"] == ("pkg.sub", "sibling.ping")
    assert targets["build"] == ("pkg.models", "Model.build")
    assert targets["local"] == ("pkg.sub.mod", "local")
    assert targets["join"] == ("os.path", "join")
    assert targets["unknown"] is None
    step = calls(info, "step")[0]
    assert step.caller == "Worker.run" and step.via == "instance"


def test_parameters_and_local_assignments_shadow_imports() -> None:
    info = parsed(
        "m.py",
        """
        from api import send

        def relay(send):
            send(1, 2, 3)

        def other():
            send = make()
            send(4)

        def plain():
            send(5)
    """,
    )
    targets = [c.target for c in calls(info, "send")]
    assert targets == [None, None, ("api", "send")]


def test_references_are_recorded_apart_from_calls() -> None:
    info = parsed(
        "m.py",
        """
        def helper():
            pass

        HANDLERS = {"h": helper}
    """,
    )
    refs = [c for c in info.calls if c.name == "helper"]
    assert [(c.is_call, c.target) for c in refs] == [(False, ("m", "helper"))]


SIG_SOURCE = """
    def f(a, b=1, *, c, d=2):
        pass

    def g(a, /, b, *args, **kwargs):
        pass

    class K:
        def __init__(self, x, y=0):
            pass

        def m(self, z):
            pass

        @staticmethod
        def s(z):
            pass

        @classmethod
        def c(cls, z):
            pass

    @some_decorator
    def wrapped(a):
        pass

    @dataclass
    class D:
        x: int
"""


@pytest.mark.parametrize(
    ("call", "problem"),
    [
        ("f(1, c=3)", None),
        ("f(1, 2, 3, c=4)", "passes 3 positional arguments"),
        ("f(1, e=3, c=1)", "keyword 'e'"),
        ("f(1)", "required keyword 'c'"),
        ("f(b=1, c=1)", "required argument 'a'"),
        ("f(*args, c=1)", None),
        ("f(1, **kw)", None),
        ("g(1, 2, 3, 4, q=5)", None),
        ("g(a=1, b=2)", None),  # posonly passed by keyword lands in **kwargs: allowed by this signature
        ("K(1)", None),
        ("K(1, 2, 3)", "passes 3 positional"),
        ("K(1, z=2)", "keyword 'z'"),
    ],
)
def test_signature_mismatch(call: str, problem: str | None) -> None:
    info = parsed("m.py", SIG_SOURCE + f"\n    result = {call}\n")
    found = calls(info, call.split("(")[0])[-1]
    assert found.target is not None
    definition = info.defs[found.target[1]]
    assert definition.signature is not None
    reason = mismatch(definition.signature, found, is_bound(definition, found.via))
    assert (reason is None) if problem is None else (reason is not None and problem in reason)


def test_binding_of_methods() -> None:
    info = parsed(
        "m.py",
        SIG_SOURCE
        + """
    class L(K):
        def go(self):
            self.m(1)
            K.m(self, 1)
            K.s(1)
            K.c(1)
    """,
    )
    checked = 0
    for name in ("m", "s", "c"):
        for call in calls(info, name):
            assert call.target is not None
            definition = info.defs.get(call.target[1])
            if call.via == "instance":
                assert definition is None  # inherited through self: left unresolved, never a false alarm
                continue
            assert definition is not None and definition.signature is not None
            assert mismatch(definition.signature, call, is_bound(definition, call.via)) is None, call
            checked += 1
    assert checked == 3


def test_unknowable_signatures_are_skipped() -> None:
    info = parsed("m.py", SIG_SOURCE)
    assert info.defs["wrapped"].signature is None
    assert info.defs["D"].signature is None
    assert parse("bad.py", "def (:\n") is None


def test_def_headers_gate_signature_changes_only() -> None:
    from forksync.verify.pyindex import def_headers

    before = (
        "@app.get(\n    '/x'\n)\ndef f(a,\n      b=')'):\n    return a\n\n\n"
        "class C(Base):\n    def m(self, x: dict[str, int]) -> None:  # note\n        pass\n"
    )
    body_only = before.replace("return a", "return a + b").replace("pass", "return None")
    assert def_headers(before) == def_headers(body_only)
    for changed in (
        before.replace("      b=')'", "      b=')', c=1"),  # a parameter on a continuation line
        before.replace("'/x'", "'/y'"),  # a decorator's argument
        before.replace("x: dict[str, int]", "x: dict[str, int], y"),
        before.replace("class C(Base)", "class C(Base, metaclass=M)"),
    ):
        assert def_headers(before) != def_headers(changed)
    # A one-line def is read with what follows it on its line: a parameter change still shows.
    assert def_headers("def f(a): return a\n") != def_headers("def f(a, b): return a\n")


def test_header_names_name_each_definition_once_with_its_decorators() -> None:
    from forksync.verify.pyindex import header_names

    text = (
        "@app.get(\n    '/x'\n)\ndef f(a,\n      b):\n    pass\n\n\n"
        "class C(Base):\n    def __init__(self, x):\n        def inner(): pass\n"
        "    def m(self): ...\n\n\ndef g() -> int: return 1\n"
    )
    assert sorted(header_names(text)) == [
        ("C", "class C(Base):"),
        ("C", "def __init__(self, x):"),  # a changed __init__ changes how the class is called
        ("__init__", "def __init__(self, x):"),
        ("f", "@app.get( '/x' ) def f(a, b):"),
        ("g", "def g() -> int: return 1"),
        ("inner", "def inner(): pass"),
        ("m", "def m(self): ..."),
    ]


def test_header_names_name_the_defs_a_runaway_header_swallowed() -> None:
    from forksync.verify.pyindex import header_names

    text = '@pytest.mark.parametrize("x", ["a("])\ndef test_a(x):\n    pass\n\n\ndef test_b():\n    pass\n'
    assert {name for name, _ in header_names(text)} >= {"test_a", "test_b"}

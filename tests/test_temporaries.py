"""When may a chain absorb a temporary (``kt = k.transpose(-1, -2); s = q @ kt``)? Only when moving
the view to its use cannot change what it computes."""

from __future__ import annotations

import ast

import pytest

from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import FunctionFacts
from einlint.evidence.temporaries import foldable_definition


def _fold(source: str, name: str = "kt") -> str | None:
    module = ast.parse(source)
    function = module.body[0]
    facts = FunctionFacts(function, ImportTable.from_module(module))
    use = function.body[-1]  # the statement using the temporary is the function's last
    found = foldable_definition(function, facts, name, facts.use_chain((), use))
    return ast.unparse(found) if found is not None else None


def test_single_use_view_folds() -> None:
    assert _fold("def f(q, k):\n    kt = k.transpose(-1, -2)\n    return q @ kt") == "kt = k.transpose(-1, -2)"


@pytest.mark.parametrize(
    "source",
    [
        # used twice
        "def f(q, k):\n    kt = k.transpose(-1, -2)\n    print(kt)\n    return q @ kt",
        # bound twice
        "def f(q, k):\n    kt = k.transpose(-1, -2)\n    kt = kt * 2\n    return q @ kt",
        # the receiver is rebound between definition and use
        "def f(q, k):\n    kt = k.transpose(-1, -2)\n    k = q\n    return q @ kt",
        # the definition does not dominate the use
        "def f(q, k, c):\n    if c:\n        kt = k.transpose(-1, -2)\n    return q @ kt",
        # not a pure view: a call that could have effects or depend on state
        "def f(q, k):\n    kt = k.transpose(-1, -2).cpu()\n    return q @ kt",
        # an attribute read could change between definition and use
        "def f(self, q):\n    kt = self.k.transpose(-1, -2)\n    return q @ kt",
        # non-literal dims
        "def f(q, k, d):\n    kt = k.transpose(d, -2)\n    return q @ kt",
        # a global receiver
        "def f(q):\n    kt = K.transpose(-1, -2)\n    return q @ kt",
        # used in a nested function too
        "def f(q, k):\n    kt = k.transpose(-1, -2)\n    g = lambda: kt\n    return q @ kt",
    ],
)
def test_unsafe_temporaries_do_not_fold(source: str) -> None:
    assert _fold(source) is None

"""When may a chain absorb a temporary (``kt = k.transpose(-1, -2); s = q @ kt``)? Only when moving
the view to its use cannot change what it computes."""

from __future__ import annotations

import ast

import pytest

from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import FunctionFacts
from einlint.evidence.temporaries import single_use_view


def _fold(source: str, name: str = "kt") -> str | None:
    module = ast.parse(source)
    function = module.body[0]
    facts = FunctionFacts(function, ImportTable.from_module(module))
    use = function.body[-1]  # the statement using the temporary is the function's last
    found = single_use_view(function, facts, name, use, facts.use_chain((), use))
    return ast.unparse(found.definition) if found is not None and found.refusal is None else None


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


def _refusal(source: str, name: str = "kt") -> str | None:
    module = ast.parse(source)
    function = module.body[0]
    facts = FunctionFacts(function, ImportTable.from_module(module))
    ancestors, use = (), function.body[-1]
    while hasattr(use, "body"):  # the use is the last simple statement, maybe in a nested block
        ancestors, use = (*ancestors, use), use.body[-1]
    found = single_use_view(function, facts, name, use, facts.use_chain(ancestors, use))
    assert found is not None, "not recognised as a single-use view temporary"
    return found.refusal


@pytest.mark.parametrize(
    "between",
    [
        "scale = q.shape[-1] ** -0.5",  # operators and attribute reads
        "keys = k",  # an alias alone changes nothing
        "a, *rest = q.shape",
        "n: int = 4",
        "pass",
        '"""a docstring-like expression"""',
    ],
)
def test_inert_statements_between_keep_the_fold(between: str) -> None:
    source = f"def f(q, k):\n    kt = k.transpose(-1, -2)\n    {between}\n    return q @ kt"
    assert _fold(source) == "kt = k.transpose(-1, -2)"


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        # any call between: it may reach the base through an alias, a container, a helper, getattr,
        # torch.Tensor.transpose_, or change the grad mode
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    q = q.float()\n    return q @ kt", "line 3 runs code"),
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    torch.set_grad_enabled(False)\n    return q @ kt", "line 3 runs code"),
        # no call, but an attribute or subscript store, an augmented assignment, a del, a with
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    alias = k\n    alias.data = q\n    return q @ kt", "line 4 runs code"),
        ("def f(q, k, s):\n    kt = k.transpose(-1, -2)\n    s[0] = q\n    return q @ kt", "line 3 runs code"),
        ("def f(q, k, a):\n    kt = k.transpose(-1, -2)\n    a += 1\n    return q @ kt", "line 3 runs code"),
        ("def f(q, k, m):\n    kt = k.transpose(-1, -2)\n    with m:\n        pass\n    return q @ kt", "line 3 runs code"),
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    yield\n    yield q @ kt", "line 3 runs code"),
        ("def f(q, k, xs):\n    kt = k.transpose(-1, -2)\n    n = len([x for x in xs])\n    return q @ kt", "line 3 runs code"),
        # the use is in another block: grad mode or a loop may differ there
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    with torch.no_grad():\n        return q @ kt", "another block"),
        # in the use's statement, code with an effect evaluated before the temporary is read
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    return g(k) @ kt", "before it reads kt"),
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    return (q @ kt) if k.transpose_(0, 1) else q", "before it reads kt"),
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    return {k.mul_(2): q @ kt}", "before it reads kt"),
        # the read runs later, repeatedly, or with names of its own
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    return lambda: q @ kt", "lambda or comprehension"),
        ("def f(qs, k):\n    kt = k.transpose(-1, -2)\n    return [k @ kt for k in qs]", "lambda or comprehension"),
        ("def f(qs, k):\n    kt = k.transpose(-1, -2)\n    return (q @ kt for q in qs)", "lambda or comprehension"),
        # the base is rebound after the definition (here by a walrus in the use)
        ("def f(q, k):\n    kt = k.transpose(-1, -2)\n    return (k := q) @ kt", "bound more than once"),
        ("def f(q):\n    kt = k.transpose(-1, -2)\n    k = q\n    return q @ kt", "bound again"),
    ],
)
def test_moving_the_view_past_possible_changes_is_refused(source: str, reason: str) -> None:
    refusal = _refusal(source)
    assert refusal is not None and reason in refusal, refusal


def test_effects_after_the_read_in_the_use_statement_keep_the_fold() -> None:
    """What the use's statement evaluates after the temporary (the call it is an argument of, a
    later argument, the assignment target) runs after the original read too."""
    source = "def f(q, k, out):\n    kt = k.transpose(-1, -2)\n    out[0] = torch.matmul(q, kt).softmax(-1) * g(q)"
    assert _refusal(source) is None


def _findings(body: str) -> list:
    from einlint.config import Settings
    from einlint.engine.runner import RuleSet, lint_source
    from einlint.engine.source import SourceText

    settings = Settings(select=("EIN101", "EIN102", "EIN104"), unsafe_fixes=True)
    text = "import torch\n\n\ndef f(q, k):\n" + "".join(f"    {line}\n" for line in body.strip().splitlines())
    return lint_source(SourceText.from_bytes("case.py", text.encode()), settings, RuleSet.for_settings(settings)).diagnostics


def test_a_refused_fold_is_still_reported_without_a_fix() -> None:
    (finding,) = _findings("kt = k.transpose(-1, -2)\nkeys = k\nkeys.transpose_(0, 1)\nreturn torch.matmul(q, kt)")
    assert finding.code == "EIN104" and finding.fix is None
    assert "no fix: line 7 runs code between kt's definition and this use" in finding.message


def test_a_refused_fold_keeps_the_fix_of_the_chain_as_written() -> None:
    """Folded, ``bmm(q, kt).transpose(1, 2)`` has two reorderings (EIN102); as written it has one
    (EIN104), whose fix does not move the view."""
    (finding,) = _findings("kt = k.transpose(1, 2)\nk.mul_(2)\nreturn torch.bmm(q, kt).transpose(1, 2)")
    assert finding.code == "EIN104" and finding.fix is not None
    assert "kt" in finding.fix.edits[0].replacement and len(finding.fix.edits) == 1

"""Shape facts about a name hold at a use only while nothing may have changed the tensor in place
since the fact (evidence.stability): through an alias, a container, a helper, a closure, a later
statement of a loop, or a ``global``/``nonlocal`` rebinding. Each program below marks its use with
``# use``; the rank of ``a`` there is either proven (3) or unknown."""

from __future__ import annotations

import ast
import textwrap

import pytest

from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import FunctionFacts
from einlint.evidence.reaching import reaching_evidence
from einlint.evidence.stability import declared_elsewhere

HEADER = "import torch\n\n\ndef grow(t):\n    t.unsqueeze_(0)\n\n\ndef run(x, w):\n    a = torch.zeros(2, 3, 4)\n"


def _rank_at_use(body: str) -> int | None:
    text = HEADER + textwrap.indent(textwrap.dedent(body), "    ")
    module = ast.parse(text)
    function = next(node for node in module.body if isinstance(node, ast.FunctionDef) and node.name == "run")
    imports = ImportTable.from_module(module)
    facts = FunctionFacts(function, imports, text.splitlines(), declared_elsewhere=declared_elsewhere(module, text))
    use_line = next(number for number, line in enumerate(text.splitlines(), 1) if "# use" in line)

    def chain_to(body_list: list[ast.stmt], ancestors: list[ast.stmt]) -> list[ast.stmt] | None:
        for statement in body_list:
            if statement.lineno == use_line:
                return [*ancestors, statement]
            if statement.lineno < use_line <= (statement.end_lineno or 0):
                for field in ("body", "orelse", "finalbody"):
                    found = chain_to(getattr(statement, field, []) or [], [*ancestors, statement])
                    if found:
                        return found
                return [*ancestors, statement]  # the use is in the statement's header
        return None

    statements = chain_to(function.body, [])
    assert statements, "no statement carries the # use marker"
    chain = tuple(facts.use_chain(tuple(statements[:-1]), statements[-1]))
    return reaching_evidence(facts, imports, "a", chain).rank


STALE = {
    "alias": "b = a\nb.unsqueeze_(0)\nreturn a @ w  # use\n",
    "alias_squeeze": "b = a\nb.squeeze_(0)\nreturn a @ w  # use\n",
    "alias_resize": "b = a\nb.resize_(6, 4)\nreturn a @ w  # use\n",
    "alias_set": "b = a\nb.set_(torch.zeros(6, 4))\nreturn a @ w  # use\n",
    "alias_as_strided": "b = a\nb.as_strided_((6, 4), (4, 1))\nreturn a @ w  # use\n",
    "alias_data": "b = a\nb.data = torch.zeros(6, 4)\nreturn a @ w  # use\n",
    "container": "box = [a]\nbox[0].unsqueeze_(0)\nreturn a @ w  # use\n",
    "appended": "box = []\nbox.append(a)\nbox[0].t_()\nreturn a @ w  # use\n",
    "dict": "box = {'k': a}\nbox['k'].unsqueeze_(0)\nreturn a @ w  # use\n",
    "walrus": "if (b := a) is not None:\n    b.unsqueeze_(0)\nreturn a @ w  # use\n",
    "getattr": "getattr(a, 'unsqueeze_')(0)\nreturn a @ w  # use\n",
    "unbound_method": "torch.Tensor.unsqueeze_(a, 0)\nreturn a @ w  # use\n",
    "bound_method": "f = a.unsqueeze_\nf(0)\nreturn a @ w  # use\n",
    "returns_self": "a.contiguous().unsqueeze_(0)\nreturn a @ w  # use\n",
    "inplace_result": "b = a.unsqueeze_(0)\nreturn a @ w  # use\n",
    "helper": "grow(a)\nreturn a @ w  # use\n",
    "method_helper": "self_like.grow(a)\nreturn a @ w  # use\n",
    "stored_then_called": "obj.kept = a\nobj.reshape_kept()\nreturn a @ w  # use\n",
    "lambda": "f = lambda: a.unsqueeze_(0)\nf()\nreturn a @ w  # use\n",
    "nested_function": "def f():\n    a.unsqueeze_(0)\n\nreturn a @ w  # use\n",
    "out_argument": "torch.matmul(w, w, out=a)\nreturn a @ w  # use\n",
    "generator": "yield a\nreturn a @ w  # use\n",
    "loop_later_statement": "for _ in range(2):\n    y = a @ w  # use\n    grow(a)\n",
    "while_header": "while (a @ w).sum() > 0:  # use\n    grow(a)\n",
    "same_line": "grow(a); y = a @ w  # use\n",
    "nonlocal": "def f():\n    nonlocal a\n    a = a.unsqueeze(0)\n\nf()\nreturn a @ w  # use\n",
}
HOLDS = {
    "no_hazard": "return a @ w  # use\n",
    "helper_on_other": "grow(w)\nreturn a @ w  # use\n",
    "helper_after_use": "y = a @ w  # use\ngrow(a)\n",
    "view_kept": "box = [a[0]]\nbox[0].unsqueeze_(0)\nreturn a @ w  # use\n",
    "torch_function": "y = torch.matmul(a, w)\nz = torch.cat([a, a])\nprint(len(a))\nreturn a @ w  # use\n",
    "fresh_method_kept": "box = [a.transpose(0, 1)]\nbox[0].unsqueeze_(0)\nreturn a @ w  # use\n",
    "loop_before_fact": "for _ in range(2):\n    grow(w)\nreturn a @ w  # use\n",
    "arithmetic_kept": "b = a * 2\nb.unsqueeze_(0)\nreturn a @ w  # use\n",
}


@pytest.mark.parametrize("body", list(STALE.values()), ids=list(STALE))
def test_fact_is_void_where_the_tensor_may_have_changed(body: str) -> None:
    assert _rank_at_use(body) is None


@pytest.mark.parametrize("body", list(HOLDS.values()), ids=list(HOLDS))
def test_fact_holds_where_nothing_reaches_the_tensor(body: str) -> None:
    assert _rank_at_use(body) == 3


def test_module_fact_void_under_global_anywhere() -> None:
    text = "import torch\nW = torch.zeros(5, 4)\n\n\ndef load(v):\n    global W\n    W = v\n\n\nY = W @ W.T\n"
    module = ast.parse(text)
    imports = ImportTable.from_module(module)
    use = module.body[-1]
    for declared, rank in ((declared_elsewhere(module, text), None), (frozenset(), 2)):
        facts = FunctionFacts(module, imports, text.splitlines(), declared_elsewhere=declared)
        assert reaching_evidence(facts, imports, "W", tuple(facts.use_chain((), use))).rank == rank


def test_declarations_found_in_every_kind_of_block() -> None:
    """``global``/``nonlocal`` are found by a walk over statement blocks alone: one in each kind of
    block, against a walk over every node."""
    text = textwrap.dedent(
        """
        class C:
            def m(self):
                global in_method
        def outer():
            v = 0
            def inner():
                nonlocal v
            if v:
                pass
            else:
                global in_else
            for _ in ():
                pass
            else:
                global in_for_else
            while v:
                global in_while
            with open("f"):
                global in_with
            try:
                global in_try
            except OSError:
                global in_handler
            else:
                global in_try_else
            finally:
                global in_finally
            match v:
                case 1:
                    global in_case
        """
    )
    module = ast.parse(text)
    every_node = {name for node in ast.walk(module) if isinstance(node, (ast.Global, ast.Nonlocal)) for name in node.names}
    assert len(every_node) == 11
    assert declared_elsewhere(module, text) == every_node


def test_names_bound_by_a_statement_reuse_the_walk() -> None:
    """FunctionFacts.names_bound_by reuses what its walk found for each statement; it must still give
    what a fresh search of the statement's blocks gives, for every kind of block."""
    from einlint.evidence.operands import _block_names

    text = textwrap.dedent(
        """
        def f(a, xs):
            b = a
            if (c := a):
                d, *e = xs
            else:
                del b
            for i in xs:
                f1 = i
            else:
                f2 = 0
            while a:
                w = 1
            with open(a) as (h1, h2):
                g = 2
            try:
                t = 3
            except OSError as err:
                u = 4
            else:
                v = 5
            finally:
                z = 6
            match a:
                case [m, *rest] | {"k": m, **rest} if m:
                    n = 7
                case Point(x=px) as p:
                    q = 8
            class K:
                inside = 9
            def g(y):
                local = y
            import torch as th
            global gl
            a.data = b
            a.unsqueeze_(0)
        """
    )
    module = ast.parse(text)
    function = module.body[0]
    facts = FunctionFacts(function, ImportTable.from_module(module), text.splitlines(), has_walrus=True)
    statements = [statement for body, _ in facts.bodies.values() for statement in body]
    assert len(statements) > 20
    for statement in statements:
        assert facts.names_bound_by(statement) == frozenset(node.id for node in _block_names([statement], True)), ast.unparse(statement)

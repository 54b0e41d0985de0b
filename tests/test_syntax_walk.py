"""evidence.syntax_walk.code_nodes yields what a recursive descent through ``ast.iter_child_nodes``
yields, in the same order, less the marker nodes (contexts and operators): the analyses that use it
depend on that order (the first attributes an operand is read with are quoted in messages)."""

from __future__ import annotations

import ast
import textwrap

import pytest

from conftest import REPOSITORY_ROOT
from einlint.evidence.syntax_walk import code_nodes

_MARKERS = (ast.expr_context, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)

EVERY_KIND_OF_SYNTAX = textwrap.dedent(
    """
    @decorate(1)
    def f(a, /, b: int = 2, *args, c=-3, d, **kwargs) -> None:
        global g
        x = a if b else c
        y = {k: v for k, v in kwargs.items() if k} | {1, *args}
        z = [i async for i in a] if False else (j for j in b)
        del x[1:2, ::3]
        a += not b or c and d
        assert a < b <= c is not d, f"{a!r:>{b}}"
        with open(a) as h, open(b):
            raise ValueError from None
        try:
            pass
        except* OSError as e:
            print(e)
        match a:
            case [1, *rest] | {"k": _, **more} if rest:
                lambda q, *r: (q, r)
            case Point(x=0) as p:
                (w := p)
        return (yield from a) @ (await b)
    class C(Base, metaclass=M):
        x: int = 1
    """
)


def _reference(root: ast.AST) -> list[ast.AST]:
    found = [root]
    for child in ast.iter_child_nodes(root):
        found.extend(_reference(child))
    return [node for node in found if not isinstance(node, _MARKERS)]


@pytest.mark.parametrize("path", [None, *sorted((REPOSITORY_ROOT / "einlint" / "engine").glob("*.py"))], ids=lambda path: path.name if path else "every-kind")
def test_code_nodes_is_the_recursive_descent_less_markers(path) -> None:
    tree = ast.parse(EVERY_KIND_OF_SYNTAX if path is None else path.read_text(encoding="utf-8"))
    assert list(code_nodes(tree)) == _reference(tree)


def test_enter_prunes_children_but_yields_the_node() -> None:
    tree = ast.parse("def f():\n    def g():\n        x = 1\n    y = 2\n")
    outer = tree.body[0]
    names = [type(node).__name__ for node in code_nodes(outer, lambda node: node is outer)]
    assert names == ["FunctionDef", "arguments", "FunctionDef", "Assign"]

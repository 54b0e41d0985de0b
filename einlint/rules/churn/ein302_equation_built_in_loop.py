from __future__ import annotations

import ast

import libcst as cst

from einlint.rules.base import Example, Rule
from einlint.rules.churn._loops import generates_code, innermost_for, loop_targets
from einlint.rules.einsum_calls import is_einsum
from einlint.rules.equation._checked import EINSUM_TRIGGERS

MAX_LISTED = 8
EVALUATED_NODES = (ast.JoinedStr, ast.FormattedValue, ast.Constant, ast.Name, ast.Subscript, ast.Load, ast.Slice)


class EquationBuiltInLoop(Rule):
    """An einsum equation built from the loop variable inside the loop.

    What it flags: ``for i in range(3): torch.einsum(f'b{chr(105 + i)}j->bj', x)``,
    ``torch.einsum(eq_prefix + letters[i] + '->b', x)`` - an equation (f-string, ``+``, ``.format``,
    ``join``) that depends on a loop variable. When the loop runs over a literal range or tuple and the
    equation is an f-string of the loop variable, the message lists the equations it produces.

    Why it matters: building the string is cheap (~0.2 us); an equation that changes every iteration
    is not. It defeats caching of contraction paths (for 3+ operands a path search runs each time) and
    makes ``torch.compile`` see a different graph per equation. Precomputing the equations outside the
    loop makes the set of contractions explicit.

    Fix: none applied; precompute the equations in a tuple or dict outside the loop.

    Fix safety: report-only. Functions that generate code (fx graphs, source text) are not flagged.
    """

    code = "EIN302"
    name = "equation-built-in-loop"
    triggers = EINSUM_TRIGGERS
    invalid = (Example("def f(x):\n    for i in 'ij':\n        y = torch.einsum(f'b{i}->b', x)"),)
    valid = (
        "def f(xs):\n    for x in xs:\n        y = torch.einsum('bi->b', x)",
        "def f(x, n):\n    eq = f'b{n}->b'\n    return torch.einsum(eq, x)",
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not node.args or not is_einsum(node, self.context):
            return
        targets = loop_targets(self.context)
        if not targets:
            return
        equation = node.args[0].value
        if isinstance(equation, cst.SimpleString) or not _is_string_building(equation):
            return
        used = _names(equation)
        if not used & targets or generates_code(self.context):
            return
        produced = self._static_equations(equation)
        listed = f": {', '.join(repr(e) for e in produced)}" if produced else ""
        self.report(equation, f"einsum equation rebuilt from the loop variable on every iteration{listed}; precompute the equations outside the loop")

    def _static_equations(self, equation: cst.BaseExpression) -> list[str]:
        loop = innermost_for(self.context)
        if loop is None or not isinstance(loop.target, ast.Name) or not isinstance(equation, cst.FormattedString):
            return []
        values = _literal_iterable(loop.iter)
        if values is None:
            return []
        source = self.context.unit.code_for(equation)
        try:
            template = ast.parse(source, mode="eval").body
        except SyntaxError:
            return []
        names = {node.id for node in ast.walk(template) if isinstance(node, ast.Name)}
        if names != {loop.target.id} or not all(isinstance(node, EVALUATED_NODES) for node in ast.walk(template)):
            return []  # only names, literals and indexing: evaluating it runs no user code
        results = []
        for value in values:
            try:
                # Only an f-string over one literal value is evaluated, with no builtins.
                results.append(eval(compile(ast.Expression(template), "<equation>", "eval"), {"__builtins__": {}}, {loop.target.id: value}))
            except Exception:  # noqa: BLE001 - anything unexpected: do not list
                return []
        unique = list(dict.fromkeys(r for r in results if isinstance(r, str)))
        return unique[:MAX_LISTED]


def _is_string_building(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.FormattedString, cst.BinaryOperation, cst.ConcatenatedString)):
        return True
    if isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute):
        return node.func.attr.value in ("format", "join", "replace")
    return isinstance(node, cst.Name)  # a name assigned in the loop is checked by the loop-variable test


def _names(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class _Collector(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

    node.visit(_Collector())
    return found


def _literal_iterable(node: ast.expr) -> list | None:
    if isinstance(node, (ast.Tuple, ast.List)) and all(isinstance(e, ast.Constant) for e in node.elts):
        return [e.value for e in node.elts]
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return list(node.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "range":
        bounds = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, int)]
        if len(bounds) == len(node.args) and 1 <= len(bounds) <= 3 and not node.keywords:
            values = list(range(*bounds))
            return values if len(values) <= 64 else None
    return None

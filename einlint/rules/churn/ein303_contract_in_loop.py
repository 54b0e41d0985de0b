from __future__ import annotations

import ast

import libcst as cst

from einlint.rules.base import Example, Rule, Triggers
from einlint.rules.churn._loops import generates_code, in_loop, loop_targets
from einlint.rules.einsum_calls import equation_literal


class ContractInLoop(Rule):
    """``opt_einsum.contract`` with a literal equation inside a loop.

    What it flags: ``for x in xs: oe.contract('ij,jk,kl->il', a, b, x)``.

    Why it matters: ``contract`` parses the equation and searches a contraction path on every call;
    ``opt_einsum.contract_expression(eq, *shapes)`` does both once and returns a callable that only
    contracts (66-167 us in total where the repeated search alone cost 0.11-1.2 ms, CPU).

    Fix: none applied; build the expression once before the loop (valid while the shapes are fixed).

    Fix safety: report-only. Functions that generate code are not flagged, nor calls whose options
    (``optimize=``, ``memory_limit=``, ...) read the loop variable: those vary the search on purpose.
    """

    needs_torch_import = False  # opt_einsum contracts numpy arrays as well as tensors
    code = "EIN303"
    name = "contract-in-loop"
    triggers = Triggers(names=frozenset({"contract"}))
    invalid = (Example("import opt_einsum as oe\ndef f(xs, a, b):\n    for x in xs:\n        y = oe.contract('ij,jk,kl->il', a, b, x)"),)
    valid = (
        "import opt_einsum as oe\ndef f(a, b, c):\n    return oe.contract('ij,jk,kl->il', a, b, c)",
        "import opt_einsum as oe\ndef f(a, b):\n    for optimize in (True, False):\n        y = oe.contract('ij,jk->ik', a, b, optimize=optimize)",
    )

    def visit_Call(self, node: cst.Call) -> None:
        if not in_loop(self.context) or self.context.qualified_name(node.func) != "opt_einsum.contract":
            return
        if not node.args or equation_literal(node.args[0].value) is None or generates_code(self.context):
            return
        if _options_vary(node, loop_targets(self.context), self.context):
            return  # ``for optimize in (True, False)``: each iteration asks for another search on purpose
        self.report(node, "opt_einsum.contract re-parses the equation and re-searches the path every iteration; hoist an opt_einsum.contract_expression")


def _options_vary(node: cst.Call, loop_names: set[str], context) -> bool:
    for arg in node.args:
        if arg.keyword is None:
            continue
        value = context.as_ast(arg.value)
        if value is not None and any(isinstance(n, ast.Name) and n.id in loop_names for n in ast.walk(value)):
            return True
    return False

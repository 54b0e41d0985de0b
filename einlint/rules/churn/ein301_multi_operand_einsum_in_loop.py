from __future__ import annotations

import libcst as cst

from einlint.rules.base import Example, Rule
from einlint.rules.churn._loops import generates_code, in_forward, in_loop
from einlint.rules.einsum_calls import einsum_call
from einlint.rules.equation._checked import EINSUM_TRIGGERS

COMPREHENSIONS = (cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp)


class MultiOperandEinsumInLoop(Rule):
    """``torch.einsum`` with three or more operands in a loop, a comprehension or ``forward``.

    What it flags: ``for x in batches: torch.einsum('ij,jk,kl->il', a, b, x)``, and such a call in a
    module's ``forward`` (which runs every step). What runs once is not flagged: a ``for`` loop's
    iterable and ``else`` clause, a comprehension's first iterable, and a function merely called from a
    loop. Operands are counted only where the call lists them (not ``*operands`` or a list variable).

    Why it matters: with three or more operands torch.einsum asks opt_einsum for a contraction path on
    every call - about 0.11 ms for 3 operands up to 1.2 ms for 6 (CPU, torch 2.13), with no cache -
    while an ``opt_einsum.contract_expression`` built once and reused costs that search once. Two-operand
    calls have a single path and are not flagged.

    Fix: none applied automatically. Build ``expr = opt_einsum.contract_expression(eq, *shapes)`` once
    outside the loop (valid while the shapes stay fixed) and call ``expr(*operands, backend='torch')``;
    for a chain of matrix products use ``torch.linalg.multi_dot``.

    Fix safety: report-only (hoisting assumes the shapes are the same in every iteration). Functions
    that generate code (fx graphs, source text) are not flagged: building many equations is their job.
    """

    code = "EIN301"
    name = "multi-operand-einsum-in-loop"
    triggers = EINSUM_TRIGGERS
    invalid = (Example("def f(xs, a, b):\n    for x in xs:\n        y = torch.einsum('ij,jk,kl->il', a, b, x)"),)
    valid = (
        "def f(xs, a):\n    for x in xs:\n        y = torch.einsum('ij,jk->ik', a, x)",
        "def f(a, b, c):\n    return torch.einsum('ij,jk,kl->il', a, b, c)",
    )

    def visit_Call(self, node: cst.Call) -> None:
        if in_loop(self.context) or in_forward(self.context):
            self._check(node, "in a loop" if in_loop(self.context) else "in forward()")

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, COMPREHENSIONS) and not (in_loop(self.context) or in_forward(self.context)):
            for part in _repeated_parts(node):
                for call in _calls_in(part):
                    self._check(call, "in a comprehension")
            return False
        return super().on_visit(node)

    def _check(self, node: cst.Call, where: str) -> None:
        call = einsum_call(node, self.context)
        if call is None or call.operands is None or len(call.operands) < 3 or generates_code(self.context):
            return
        self.report(
            node,
            f"torch.einsum with {len(call.operands)} operands {where} searches a contraction path on every call; "
            "build an opt_einsum.contract_expression once (or use torch.linalg.multi_dot)",
        )


def _repeated_parts(node: cst.ListComp | cst.SetComp | cst.DictComp | cst.GeneratorExp) -> list[cst.CSTNode]:
    """What a comprehension evaluates once per item: all of it but its first iterable, which runs once."""
    parts: list[cst.CSTNode] = [node.key, node.value] if isinstance(node, cst.DictComp) else [node.elt]
    parts.extend(node.for_in.ifs)
    if node.for_in.inner_for_in is not None:
        parts.append(node.for_in.inner_for_in)
    return parts


def _calls_in(node: cst.CSTNode) -> list[cst.Call]:
    found: list[cst.Call] = []

    class _Collector(cst.CSTVisitor):
        def visit_Call(self, call: cst.Call) -> None:
            found.append(call)

    node.visit(_Collector())
    return found

from __future__ import annotations

import libcst as cst

from einlint.rules.base import Example, Rule, Triggers
from einlint.rules.churn._loops import in_loop

SETTINGS = frozenset({"torch.backends.opt_einsum.enabled", "torch.backends.opt_einsum.strategy"})


class BackendSettingInLoop(Rule):
    """``torch.backends.opt_einsum.enabled`` or ``.strategy`` assigned inside a loop.

    What it flags: ``for x in xs: torch.backends.opt_einsum.strategy = 'optimal'``.

    Why it matters: these are process-wide switches that change how every later einsum picks its
    contraction path; flipping them per iteration makes timings and compiled graphs depend on loop
    order, and ``'optimal'`` is exponential in the number of operands. Set them once at start-up.

    Fix: none applied; move the assignment before the loop.

    Fix safety: report-only.
    """

    code = "EIN304"
    name = "backend-setting-in-loop"
    triggers = Triggers(names=frozenset({"opt_einsum"}))
    invalid = (Example("def f(xs):\n    for x in xs:\n        torch.backends.opt_einsum.strategy = 'greedy'"),)
    valid = ("torch.backends.opt_einsum.strategy = 'greedy'",)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if in_loop(self.context) and self.context.qualified_name(node.target) in SETTINGS:
            self.report(node.target, "opt_einsum backend setting changed inside a loop; set it once before the loop")

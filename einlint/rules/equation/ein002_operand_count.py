from __future__ import annotations

from einlint.equation.checks import ProblemKind
from einlint.rules.base import Example
from einlint.rules.equation._checked import EquationRule


class OperandCountMismatch(EquationRule):
    """The equation's number of input terms differs from the number of operands.

    What it flags: ``torch.einsum('ij,jk->ik', x)`` - two terms, one operand - when the operands are
    written out (positionally or as a list literal); the implicit form (``torch.einsum('ij,jk', x)``,
    no ``->``) counts its terms the same way. A single operand counts as one only when it is
    known to be a tensor, since ``einsum(eq, ops)`` also accepts a list of operands.

    Why it matters: ``torch.einsum`` raises ("more operands were provided than specified in the
    equation", or too few).

    Fix: none; either the equation or the call is wrong.

    Fix safety: report-only.
    """

    code = "EIN002"
    name = "operand-count-mismatch"
    problem_kind = ProblemKind.OPERAND_COUNT
    invalid = (
        Example("torch.einsum('ij,jk->ik', torch.randn(2, 3))"),
        Example("torch.einsum('ij->ji', [a, b])"),
        Example("torch.einsum('ij,jk', torch.randn(2, 3))"),
    )
    valid = ("torch.einsum('ij,jk->ik', a, b)", "torch.einsum('ij,jk->ik', [a, b])", "torch.einsum('ij,jk->ik', *ops)")

from __future__ import annotations

from einlint.equation.checks import ProblemKind
from einlint.rules.base import Example
from einlint.rules.equation._checked import EquationRule


class LabelSizeConflict(EquationRule):
    """One label used for dimensions of two different literal sizes.

    What it flags: ``torch.einsum('ij,jk->ik', torch.randn(2, 3), torch.randn(4, 5))`` - ``j`` is 3 in
    one operand and 4 in the other. Sizes are taken only from literal shapes; a size of 1 is not a
    conflict because torch broadcasts it.

    Why it matters: ``torch.einsum`` raises ("operands do not broadcast").

    Fix: none.

    Fix safety: report-only.
    """

    code = "EIN008"
    name = "label-size-conflict"
    problem_kind = ProblemKind.SIZE_CONFLICT
    invalid = (Example("torch.einsum('ij,jk->ik', torch.randn(2, 3), torch.randn(4, 5))"),)
    valid = ("torch.einsum('ij,jk->ik', torch.randn(2, 3), torch.randn(1, 5))",)

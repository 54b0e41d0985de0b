from __future__ import annotations

from einlint.equation.checks import ProblemKind
from einlint.rules.base import Example
from einlint.rules.equation._checked import EquationRule


class UnknownOutputLabel(EquationRule):
    """An output label that appears in no input term.

    What it flags: ``'ij,jk->iz'`` - ``z`` labels no input dimension.

    Why it matters: ``torch.einsum`` raises ("output subscript z does not appear in the equation for any
    input operand"); often a typo for a label that does exist.

    Fix: none.

    Fix safety: report-only.
    """

    code = "EIN003"
    name = "unknown-output-label"
    problem_kind = ProblemKind.OUTPUT_LABEL_UNKNOWN
    invalid = (Example("torch.einsum('ij,jk->iz', a, b)"),)
    valid = ("torch.einsum('ij,jk->ki', a, b)",)

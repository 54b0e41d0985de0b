from __future__ import annotations

from einlint.equation.checks import ProblemKind
from einlint.rules.base import Example
from einlint.rules.equation._checked import EquationRule


class RepeatedOutputLabel(EquationRule):
    """A label repeated in the output term.

    What it flags: ``'ij->ii'``. (A label repeated in an *input* term is a diagonal and is valid.)

    Why it matters: ``torch.einsum`` raises ("output subscript i appears more than once in the output").
    To build a diagonal matrix use ``torch.diag_embed``.

    Fix: none.

    Fix safety: report-only.
    """

    code = "EIN004"
    name = "repeated-output-label"
    problem_kind = ProblemKind.OUTPUT_LABEL_REPEATED
    invalid = (Example("torch.einsum('ij->ii', a)"),)
    valid = ("torch.einsum('ii->i', a)",)

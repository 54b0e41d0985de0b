from __future__ import annotations

from einlint.equation.checks import ProblemKind
from einlint.rules.base import Example
from einlint.rules.equation._checked import EquationRule


class MultipleEllipsis(EquationRule):
    """A term with more than one ellipsis.

    What it flags: ``'...i...->i'``.

    Why it matters: which dimensions each ``...`` covers would be ambiguous; ``torch.einsum`` raises.

    Fix: none.

    Fix safety: report-only.
    """

    code = "EIN005"
    name = "multiple-ellipsis"
    problem_kind = ProblemKind.MULTIPLE_ELLIPSIS
    invalid = (Example("torch.einsum('...i...->i', a)"),)
    valid = ("torch.einsum('...ij->...', a)",)

from __future__ import annotations

from einlint.equation.checks import ProblemKind
from einlint.rules.base import Example
from einlint.rules.equation._checked import EquationRule


class RankMismatch(EquationRule):
    """An operand whose known rank differs from its term's number of labels.

    What it flags: ``torch.einsum('ij,jk->ik', torch.randn(2, 3, 4), b)``, or a name whose rank is known
    from the same function: its only assignment (``x = torch.zeros(b, n)``), a shape unpack
    (``b, n, d = x.shape``), ``assert x.ndim == 3``, a ``torch.Tensor``-typed jaxtyping annotation, or a
    ``# einlint: shape x=b n d`` pragma, where that statement runs before the call on every path.

    Why it matters: ``torch.einsum`` raises ("the number of subscripts in the equation does not match
    the number of dimensions"). With ``...`` the term needs at least as many dimensions as letters.

    Fix: none.

    Fix safety: report-only.
    """

    code = "EIN007"
    name = "rank-mismatch"
    problem_kind = ProblemKind.RANK_MISMATCH
    invalid = (
        Example("torch.einsum('ij,jk->ik', torch.randn(2, 3, 4), b)"),
        Example("def f(x):\n    b, n, d = x.shape\n    return torch.einsum('ij->ji', x)"),
    )
    valid = (
        "torch.einsum('...ij,jk->...ik', torch.randn(2, 3, 4), b)",
        "def f(x):\n    if x.ndim == 2:\n        b, n, d = x.shape\n    return torch.einsum('ij->ji', x)",
    )

from __future__ import annotations

from einlint.equation.model import EquationSyntaxError
from einlint.rules.base import Example
from einlint.rules.einsum_calls import EinsumCall
from einlint.rules.equation._checked import EquationRule


class MalformedEquation(EquationRule):
    """An einsum equation that is not well formed.

    What it flags: a character that is not an ASCII letter, ``,``, ``...``, ``->`` or a space; a lone
    ``.``; an arrow written ``- >`` or twice; a ``,`` in the output.

    Why it matters: ``torch.einsum`` raises on such an equation, so the line fails the first time it runs.

    Fix: none; the intended equation cannot be guessed.

    Fix safety: report-only.
    """

    code = "EIN001"
    name = "malformed-equation"
    invalid = (
        Example("torch.einsum('ij,jk->i k1', a, b)"),
        Example("torch.einsum('ij,jk- >ik', a, b)"),
        Example("torch.einsum('..ij->ij', a)"),
    )
    valid = ("torch.einsum('i j, j k -> i k', a, b)", "torch.einsum('...ij->...ji', a)")

    def on_syntax_error(self, call: EinsumCall, error: EquationSyntaxError) -> None:
        self.report_in_equation(call, error.index, f"malformed einsum equation: {error}")

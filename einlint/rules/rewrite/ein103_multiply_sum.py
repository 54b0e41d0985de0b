from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import SUMMED_PRODUCT_SOUNDNESS, ChainRule


class MultiplySum(ChainRule):
    """An elementwise product reduced with ``sum`` (off by default: it is usually slower as einsum).

    What it flags: ``(a * b).sum(-1)``, ``torch.mul(a, b).sum(dim=1)`` where no dimension is broadcast
    against a size-1 one (that case is EIN111). Operands of unknown rank indexed from the front
    (``(probs * bins[:, None, None, :]).sum(-1)``) are reported with the ranks that indexing suggests
    and the dimensions summed, without a fix (another rank would pair other dimensions).

    Why it matters: readability only - ``torch.einsum('...i,...i->...', a, b)`` states the contraction.
    Measured on CPU with torch 2.13, einsum is about 2x slower forward and up to 10x slower
    forward+backward than multiply-then-sum for this pattern, which is why the rule is opt-in
    (``--select EIN103``).

    Fix: one ``torch.einsum`` call.

    Fix safety: ``sum`` promotes integer and bool products to int64 while einsum keeps the operand
    dtype, so with integer operands the rewrite would silently change the result's dtype. The fix is
    not offered when the code states an integer or bool dtype for an operand (``torch.LongTensor``,
    ``torch.BoolTensor``, jaxtyping ``Int``/``Bool``, ``.long()``, ``dtype=torch.int32``), even
    where the project declares ``float-dtypes``. Where the code states no dtype at all, the fix
    assumes ``float-dtypes``: wrong, it fails loudly for bool operands and mixed dtypes (einsum
    raises) and gives the same result for int64 ones, but silently for integers narrower than int64
    (einsum keeps int32 where sum gives int64), as the README's table of assumptions says. The operands must also share one
    dtype: ``*`` promotes float32 times float64 where einsum raises. The fix is safe when the code
    states the same dtype for both (two ``torch.randn`` calls without ``dtype=``, two
    ``.double()``), unsafe (``float-dtypes``) when it does not say, and not offered when it states
    two different ones (``.float()`` on one factor, ``.half()`` on the other). ``keepdim=True``, ``dtype=``,
    ``out=``, a full ``sum()`` and a 0-D factor are never rewritten. Because the rewrite is measured
    slower, every fix also carries ``slower-rewrite``, which no ``assume`` entry waives: a plain
    ``--fix`` never applies it, ``--fix --unsafe-fixes`` does.

    Single-use temporaries fold into the rewrite as for EIN101, under the same conditions.
    """

    code = "EIN103"
    name = "multiply-sum"
    kind = ChainKind.MULTIPLY_SUM
    soundness = SUMMED_PRODUCT_SOUNDNESS
    enabled_by_default = False
    summary_text = "multiply-then-sum"
    benefit = "readability; einsum is usually slower here"
    slower_rewrite = "a slower form is acceptable (einsum measured about 2x slower forward on CPU)"
    invalid = (
        Example(
            "a = torch.randn(4, 5)\nb = torch.randn(4, 5)\ny = (a * b).sum(-1)",
            fixed="a = torch.randn(4, 5)\nb = torch.randn(4, 5)\ny = torch.einsum('bd,bd->b', a, b)",
            unsafe=True,
        ),
        Example("y = (a * b).sum(-1)", fixed="y = torch.einsum('...d,...d->...', a, b)", unsafe=True),
    )
    valid = ("y = (a * b).sum(-1, keepdim=True)", "y = (a * b).sum()", "y = (a + b).sum(-1)", "y = (a * b).sum(-1, dtype=torch.float64)")

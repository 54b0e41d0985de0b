from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import MATMUL_CHAIN_SOUNDNESS, ChainRule


class TransposedMatmulResult(ChainRule):
    """A matmul whose result is permuted, or reordered along with an operand (permute, matmul, permute back).

    What it flags: a matmul whose result is reordered when that is more than one transpose: a permute
    that moves three or more dimensions (``torch.matmul(a, b).permute(0, 2, 3, 1)``), or a reordered
    result of a chain that also reorders an operand (``x.permute(0, 2, 1, 3) @ w`` followed by
    ``.permute(0, 2, 1, 3)``; ``(attn @ v.mT).mT``) - the output permutation becomes the einsum's
    output term: ``torch.einsum('bihd,bhdj->bihj', x, w)``. A single transpose of the result
    (``(attn @ v).transpose(1, 2)``, ``(a @ b).mT``) reads plainly as written: that is the opt-in
    idiom rule EIN104.

    Why it matters: readability; the output layout is written in the equation instead of in a
    permutation after the fact, and a permute before and after the matmul collapses into one term.
    No speed claim: einsum runs the same kernel, and on small tensors its per-call overhead can make
    it slower. The result's strides can differ from the permuted view's (torch.einsum may return a
    contiguous tensor or a permuted view), so code that relied on the layout sees a different one;
    values are unaffected.

    Fix: one ``torch.einsum`` call whose output term is the permuted order.

    Fix safety: as for EIN101 - safe when operand tensor-ness and every needed rank are proven;
    otherwise unsafe, naming ``tensor-operands`` / ``operand-ranks``, and a wrong rank assumption makes
    einsum raise. A transposed result of unknown rank (``(x @ y).transpose(0, 1)``) is not rewritten:
    no ``...`` equation can name absolute positions. A result that flows into ``.view()`` makes the
    fix unsafe (``contiguous-result``).

    Single-use temporaries fold into the rewrite as for EIN101, under the same conditions.
    """

    code = "EIN102"
    name = "transposed-matmul-result"
    kind = ChainKind.TRANSPOSED_RESULT
    soundness = MATMUL_CHAIN_SOUNDNESS
    summary_text = "reordered matmul result"
    benefit = "readability; same matmul kernel, no speed claim"
    invalid = (
        Example(
            "def f(a: torch.Tensor, b: torch.Tensor):\n    return torch.bmm(a.transpose(0, 1), b).transpose(1, 2)",
            fixed="def f(a: torch.Tensor, b: torch.Tensor):\n    return torch.einsum('ibd,bdj->bji', a, b)",
            unsafe=True,
        ),
        Example(
            "y = torch.matmul(x.permute(0, 2, 1, 3), w).permute(0, 2, 1, 3)",
            fixed="y = torch.einsum('bihd,bhdj->bihj', x, w)",
            unsafe=True,
        ),
    )
    valid = ("y = (a @ b).contiguous()", "y = torch.matmul(a, b)", "y = torch.bmm(a, b).transpose(1, 2)", "y = (a @ b).mT")

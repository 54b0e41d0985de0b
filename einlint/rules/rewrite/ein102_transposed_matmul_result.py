from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import ChainRule


class TransposedMatmulResult(ChainRule):
    """A matmul whose result is transposed or permuted.

    What it flags: ``(attn @ v).transpose(1, 2)``, ``torch.matmul(a, b).permute(0, 2, 1, 3)`` - the
    output permutation becomes the einsum's output term: ``torch.einsum('bhqk,bhkd->bqhd', attn, v)``.

    Why it matters: readability; the output layout is written in the equation instead of in a
    transpose after the fact. No speed claim: einsum runs the same kernel. The result's strides can
    differ from the transposed view's (torch.einsum may return a contiguous tensor or a permuted view),
    so code that relied on the result being non-contiguous is unaffected in value but not in layout.

    Fix: one ``torch.einsum`` call whose output term is the permuted order.

    Fix safety: as for EIN101 - safe when operand tensor-ness and every needed rank are proven;
    otherwise unsafe, naming ``tensor-operands`` / ``operand-ranks``, and a wrong rank assumption makes
    einsum raise. A transposed result of unknown rank (``(x @ y).transpose(0, 1)``) is not rewritten:
    no ``...`` equation can name absolute positions. A result that flows into ``.view()`` makes the
    fix unsafe (``contiguous-result``).
    """

    code = "EIN102"
    name = "transposed-matmul-result"
    kind = ChainKind.TRANSPOSED_RESULT
    summary_text = "transposed matmul result"
    benefit = "readability; same matmul kernel, no speed claim"
    invalid = (
        Example(
            "def f(a: torch.Tensor, b: torch.Tensor):\n    return torch.bmm(a, b).transpose(1, 2)",
            fixed="def f(a: torch.Tensor, b: torch.Tensor):\n    return torch.einsum('bid,bdj->bji', a, b)",
        ),
        Example("y = torch.bmm(a, b).transpose(1, 2)", fixed="y = torch.einsum('bid,bdj->bji', a, b)", unsafe=True),
    )
    valid = ("y = (a @ b).contiguous()", "y = torch.matmul(a, b)")

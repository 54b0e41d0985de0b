from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import SUMMED_PRODUCT_SOUNDNESS, ChainRule


class OuterProductSum(ChainRule):
    """A broadcast (outer) product that is then summed: the intermediate is materialised for nothing.

    What it flags: ``(x.unsqueeze(-1) * y.unsqueeze(-2)).sum(-2)``, ``(a[:, :, None] * b[:, None]).sum(1)``
    - a product whose size-1 dimensions broadcast against the other operand, building a tensor larger
    than both inputs, followed by a reduction. Where the operands' ranks are unknown and only indexing
    from the front shows them (``(a[:, :, None] * b[:, None, :]).sum(0)``: ``a`` and ``b`` read as 2-D),
    the finding names the ranks so read and the dimensions the sum then pairs, without a fix.

    Why it matters: speed and memory. The product allocates every element of the outer product before
    ``sum`` reduces it; ``torch.einsum`` contracts directly (a matmul) without that intermediate. On CPU
    with torch 2.13 the einsum took about 0.05x the time of the original on medium sizes; the verifier
    (``einlint --verify``) measures it on your machine and shapes.

    Fix: one ``torch.einsum`` call with the broadcast dimensions as shared labels.

    Fix safety: the same dtype rules as EIN103 (sum promotes integers, einsum does not; ``*`` promotes
    mixed floating dtypes, einsum raises): a stated integer or bool dtype withdraws the fix, an unstated
    dtype makes it assume ``float-dtypes`` (silent only for integers narrower than int64), and it is
    safe only when both operands have one stated floating dtype; ranks and
    tensor-ness as for EIN101. A rank read from indexing is no proof: broadcasting aligns from the
    right, so with another rank the same code pairs other dimensions instead of raising; such a
    finding has no fix.

    Single-use temporaries fold into the rewrite as for EIN101, under the same conditions.
    """

    code = "EIN111"
    name = "outer-product-sum"
    kind = ChainKind.OUTER_PRODUCT_SUM
    soundness = SUMMED_PRODUCT_SOUNDNESS
    summary_text = "outer product reduced by sum"
    benefit = "avoids materialising the broadcast product"
    invalid = (
        Example(
            "x = torch.randn(8, 3)\ny = torch.randn(8, 5)\nz = (x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)",
            fixed="x = torch.randn(8, 3)\ny = torch.randn(8, 5)\nz = torch.einsum('di,dj->ij', x, y)",
            unsafe=True,
        ),
        Example("z = (a[:, :, None] * b[:, None, :]).sum(0)"),
    )
    valid = ("z = (x.unsqueeze(-1) * y.unsqueeze(-2))", "z = (x * y).sum(-1)")

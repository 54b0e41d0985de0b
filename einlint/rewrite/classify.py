"""Which rule a modelled chain belongs to: what rewriting it into einsum buys decides the rule."""

from __future__ import annotations

import enum

from einlint.rewrite.algebra import Chain


class ChainKind(enum.Enum):
    OUTER_PRODUCT_SUM = "outer-product-sum"  # a broadcast product that is then reduced
    MULTIPLY_SUM = "multiply-sum"  # an elementwise product that is then reduced
    # Reorderings the equation states more plainly than the code: an operand's batch dimension moved,
    # a permute of three or more dimensions, two or more reorderings in one chain (permute, matmul,
    # permute back).
    TRANSPOSED_RESULT = "transposed-matmul-result"
    TRANSPOSED_OPERAND = "transposed-matmul-operand"
    # A single transpose every reader knows, faster as written: of an operand's or the result's last
    # two dimensions (``x @ W.T``, ``q @ k.transpose(-1, -2)``, ``A.T @ A``), or of two dimensions of
    # the result (``(attn @ v).transpose(1, 2)``, read after the product it applies to).
    TRANSPOSE_IDIOM = "transposed-matmul-idiom"
    # A batch of vectors made columns (or rows) for matmul and squeezed back: a matrix-vector product.
    MATRIX_VECTOR = "matrix-vector-unsqueeze"


def classify(chain: Chain) -> ChainKind | None:
    if chain.multiplies and chain.sums:
        return ChainKind.OUTER_PRODUCT_SUM if chain.outer_product else ChainKind.MULTIPLY_SUM
    if chain.matmuls and chain.squeezes:
        kind = _reordering_kind(chain)
        return kind if kind in (ChainKind.TRANSPOSED_RESULT, ChainKind.TRANSPOSED_OPERAND) else ChainKind.MATRIX_VECTOR
    return _reordering_kind(chain)


def _reordering_kind(chain: Chain) -> ChainKind | None:
    reorderings = chain.reorderings
    if not (chain.matmuls and reorderings):
        return None  # a plain product: nothing to fold
    if len(reorderings) == 1:
        (only,) = reorderings
        if only.swaps_last_two or (only.on_result and only.moved == 2):
            return ChainKind.TRANSPOSE_IDIOM
    if any(reordering.on_result for reordering in reorderings):
        return ChainKind.TRANSPOSED_RESULT
    return ChainKind.TRANSPOSED_OPERAND

"""Which rule a modelled chain belongs to: what rewriting it into einsum buys decides the rule."""

from __future__ import annotations

import enum

from einlint.rewrite.algebra import Chain


class ChainKind(enum.Enum):
    OUTER_PRODUCT_SUM = "outer-product-sum"  # a broadcast product that is then reduced
    MULTIPLY_SUM = "multiply-sum"  # an elementwise product that is then reduced
    TRANSPOSED_RESULT = "transposed-matmul-result"
    TRANSPOSED_OPERAND = "transposed-matmul-operand"


def classify(chain: Chain) -> ChainKind | None:
    if chain.multiplies and chain.sums:
        return ChainKind.OUTER_PRODUCT_SUM if chain.outer_product else ChainKind.MULTIPLY_SUM
    if chain.matmuls and chain.result_transposes:
        return ChainKind.TRANSPOSED_RESULT
    if chain.matmuls and chain.operand_transposes:
        return ChainKind.TRANSPOSED_OPERAND
    return None  # a plain product: nothing to fold

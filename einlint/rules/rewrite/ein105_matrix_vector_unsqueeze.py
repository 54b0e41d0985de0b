from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import MATMUL_CHAIN_SOUNDNESS, ChainRule


class MatrixVectorUnsqueeze(ChainRule):
    """A matrix-vector product written as a matmul through ``unsqueeze`` and ``squeeze``: an opt-in style rule.

    What it flags: ``(A @ x.unsqueeze(-1)).squeeze(-1)``, ``torch.matmul(A, x[..., None]).squeeze(-1)``,
    ``torch.bmm(w, x.unsqueeze(-1)).squeeze(-1)`` and the row form ``(x.unsqueeze(-2) @ A).squeeze(-2)``:
    a size-1 dimension added only to make ``matmul`` treat a batch of vectors as matrices, then removed
    from the result. It is off by default; select it (``--select EIN105``) where einsum is preferred.

    Why it matters: readability. ``torch.einsum('...ij,...j->...i', A, x)`` says it is a matrix-vector
    product over batches; the unsqueeze/squeeze pair is bookkeeping a reader has to undo. It is not a
    speed win: the unsqueeze and squeeze are views and the matmul is one batched kernel. Timed forward
    on CPU with torch 2.13, one thread (``timeit``, best of five), the einsum ran at 0.55x the speed of
    the original for one 4x4 matrix, 0.8x for 64 of 64x64, 1.0x for 16 of 256x256 and 1.2x for 4096 of
    16x16; ``benchmarks/verify_rule_kinds.py`` times the pair with the verifier.

    Fix: one ``torch.einsum`` call without the size-1 dimension.

    Fix safety: ``squeeze(d)`` is read as removing exactly the dimension the unsqueeze inserted (it has
    size 1, so squeeze always removes it); a squeeze of any other dimension, or ``squeeze()`` without a
    dimension, is not modelled and nothing is reported. The rest is as for EIN101: the ranks that
    ``bmm``/``mm`` prove, ``tensor-operands``, ``matching-sizes`` for the contracted dimension (matmul
    raises on a mismatch where einsum broadcasts a size-1 one), ``result-layout``. The equation spells
    the vector's rank as at least one dimension, so a 0-D vector makes einsum raise where the original
    broadcast it. Because the rewrite is measured slower on small and medium shapes, every fix also
    carries ``slower-rewrite``: a plain ``--fix`` never applies it, ``--fix --unsafe-fixes`` does.
    """

    code = "EIN105"
    name = "matrix-vector-unsqueeze"
    kind = ChainKind.MATRIX_VECTOR
    soundness = MATMUL_CHAIN_SOUNDNESS
    enabled_by_default = False
    summary_text = "matrix-vector product through unsqueeze and squeeze"
    benefit = "readability only; einsum is measured slower on small shapes"
    slower_rewrite = "a slower form is acceptable (einsum measured at 0.55x-1.2x the speed of the original on CPU)"
    invalid = (
        Example(
            "A = torch.randn(3, 4, 5)\nx = torch.randn(3, 5)\ny = (A @ x.unsqueeze(-1)).squeeze(-1)",
            fixed="A = torch.randn(3, 4, 5)\nx = torch.randn(3, 5)\ny = torch.einsum('bid,bd->bi', A, x)",
            unsafe=True,
        ),
        Example("y = torch.bmm(w, x.unsqueeze(-1)).squeeze(-1)", fixed="y = torch.einsum('bid,bd->bi', w, x)", unsafe=True),
    )
    valid = ("y = (A @ x.unsqueeze(-1)).squeeze()", "y = (A @ x).squeeze(-1)", "y = (A @ x.unsqueeze(-1))")

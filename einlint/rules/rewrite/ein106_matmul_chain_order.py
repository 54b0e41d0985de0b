from __future__ import annotations

from einlint.diagnostics import Applicability
from einlint.rewrite.matrix_chain import shown_best, shown_order, spelled
from einlint.rules.base import Example, FixProposal, VerificationTarget
from einlint.rules.rewrite._matrix_chain_rule import MATRIX_CHAIN_SOUNDNESS, ChainCase, MatrixChain, MatrixChainRule, all_float64, has_comment


class MatmulChainOrder(MatrixChainRule):
    """A chain of three or more matrix products, with sizes the code shows, associated in a costly order.

    What it flags: ``a @ b @ c``, ``a.mm(b).mm(c)``, ``torch.matmul(torch.matmul(a, b), c)`` and longer
    chains whose every factor is a matrix of literal sizes the same function proves (``a =
    torch.randn(4096, 64)``, ``A.T`` of such a matrix), where another association is modelled to take
    at most half the time and to save at least the time of 2^20 multiply-adds: ``a @ b @ c`` with ``a``
    4096x64, ``b`` 64x4096 and ``c`` 4096x64 builds a 4096x4096 intermediate (2 x 4096 x 64 x 4096
    multiply-adds) where ``a @ (b @ c)`` needs a 64x64 one (64x fewer). The model counts each product's
    multiply-adds plus 16 for every element it reads or writes, because a product with few
    multiply-adds still reads its whole matrix: ``x @ w @ v`` with ``x`` 16x512, ``w`` 512x512 and ``v``
    512x1 needs 16x fewer multiply-adds as ``x @ (w @ v)``, but both orders read ``w`` once and the
    matrix-vector product is bound by that; it is not reported. The message gives both multiply-add
    counts.

    Why it matters: speed and memory, from the sizes: matrix products are associative, and the cost of
    a chain depends only on the order. ``@`` groups left to right whatever the sizes. Timed forward on
    CPU, one thread, fastest block, two runs on a shared machine (``benchmarks/matrix_chain_order.py``,
    torch 2.13): the 4096/64 chain above ran 140-160x faster reassociated, a 4x512 row times two
    512x512 matrices 24-190x, 128x1024 times 1024x1024 times a column 37x, the 512/8 projection 5-6x
    and a chain of four 256/4 factors 2.0-2.3x; the memory-bound 16x512 chain, not reported, measured
    0.8x and 4.9x. ``einlint --verify`` checks each fix on tensors (values, gradients, autocast), but
    times it on sizes of its own, not the code's.

    Fix: the cheapest association, written with ``@`` and the parentheses it needs (``a @ (b @ c)``).
    Where the sizes change from run to run, ``torch.linalg.multi_dot`` chooses the order at run time
    (the opt-in rule EIN107 suggests it).

    Fix safety: the same products of the same factors, in another order: every factor is a proven 2-D
    torch tensor (a factory in the same function) whose sizes the code states, so ``@`` is ``mm``
    throughout, the sizes the products match are equal (a chain whose sizes the original rejects is
    not reported) and mixed dtypes raise in both versions. The result is a fresh contiguous matrix
    either way; its values differ only by floating-point rounding (another order of the same sums;
    integer products wrap around the same way in every order). In 16-bit floats an intermediate
    product can overflow to inf in one order and not the other, so a factor of a stated float16 or
    bfloat16 dtype, a visible ``torch.autocast`` around the chain, or a factory left to the default
    dtype in a file that calls ``set_default_dtype`` is reported without a fix. An autocast that a
    caller enables out of sight runs the products in 16-bit floats too, and the code cannot show it:
    the fix is safe only where every factor is float64 (which autocast leaves alone), and elsewhere
    unsafe, naming ``no-autocast`` (``assume = ["no-autocast"]`` makes it safe). Every factor must be a name or a transpose of one (``A``,
    ``A.T``, ``A.t()``), so evaluating the factors runs no code between the products; where one is
    something else, or a comment sits inside the chain, or a factor is not proven a tensor (``a.mm(b)``
    raises on a numpy array where ``@`` would not), the chain is reported without a fix.
    """

    code = "EIN106"
    name = "matmul-chain-order"
    case = ChainCase.COSTLY_ORDER
    soundness = MATRIX_CHAIN_SOUNDNESS
    invalid = (
        Example(
            "a = torch.randn(4096, 64)\nb = torch.randn(64, 4096)\nc = torch.randn(4096, 64)\ny = a @ b @ c",
            fixed="a = torch.randn(4096, 64)\nb = torch.randn(64, 4096)\nc = torch.randn(4096, 64)\ny = a @ (b @ c)",
            unsafe=True,
        ),
        Example(
            "x = torch.randn(64, 2048)\nw = torch.randn(2048, 2048)\nv = torch.randn(2048, 1)\ny = x.mm(w).mm(v)",
            fixed="x = torch.randn(64, 2048)\nw = torch.randn(2048, 2048)\nv = torch.randn(2048, 1)\ny = x @ (w @ v)",
            unsafe=True,
        ),
        Example(
            "a = torch.randn(4096, 64, dtype=torch.float64)\nb = torch.randn(64, 4096, dtype=torch.float64)\n"
            "c = torch.randn(4096, 64, dtype=torch.float64)\ny = a @ b @ c",
            fixed="a = torch.randn(4096, 64, dtype=torch.float64)\nb = torch.randn(64, 4096, dtype=torch.float64)\n"
            "c = torch.randn(4096, 64, dtype=torch.float64)\ny = a @ (b @ c)",
        ),
    )
    valid = (
        "a = torch.randn(64, 4096)\nb = torch.randn(4096, 64)\nc = torch.randn(64, 4096)\ny = a @ b @ c",
        "a = torch.randn(8, 4)\nb = torch.randn(4, 8)\nc = torch.randn(8, 4)\ny = a @ b @ c",
        "y = a @ b @ c",
    )

    def report_chain(self, chain: MatrixChain) -> None:
        texts = self.factor_texts(chain)
        assert chain.order is not None
        names = {id(factor): text for factor, text in zip(chain.factors, texts)}
        sizes = ", ".join(f"{text} {factor.shape[0]}x{factor.shape[1]}" for factor, text in zip(chain.factors, texts) if factor.shape)
        message = (
            f"matrix chain in a costly order: {shown_order(chain.tree, names)} takes {chain.written:,} multiply-adds, "
            f"{shown_best(chain.order, texts)} takes {chain.best:,} ({_fewer(chain.written, chain.best)}) with the sizes the code shows ({sizes})"
        )
        blocked = None
        if not all(factor.plain for factor in chain.factors):
            blocked = "a factor is not a name or a transpose of one: evaluating it may run code between the products"
        elif not all(factor.is_tensor for factor in chain.factors):
            blocked = "a factor is not proven a torch tensor"
        elif has_comment(chain.root):
            blocked = "a comment inside the chain would be lost"
        elif self.runs_in_16_bit_floats(chain):
            blocked = "the products run in 16-bit floats here, where another association can overflow to inf and this one not"
        if blocked is not None:
            self.report(chain.root, f"{message} [no fix: {blocked}]")
            return
        target = VerificationTarget("the matrix chain, multiplied in the cheaper order", chain.root, tuple(texts))
        replacement = spelled(chain.order, texts)
        if all_float64(chain):
            self.report(chain.root, message, FixProposal(chain.root, replacement, Applicability.SAFE, target=target))
            return
        message += (
            " [unsafe fix: assumes no caller runs it under torch.autocast (there the products run in 16-bit floats, "
            "where another association can overflow to inf and this one not)]"
        )
        self.report(chain.root, message, FixProposal(chain.root, replacement, Applicability.UNSAFE, ("no-autocast",), target=target))


def _fewer(written: int, best: int) -> str:
    # A size 0 (``torch.zeros(0, n)``) can leave the best order no multiply-add at all.
    return f"{written / best:.0f}x fewer" if best else "none at all"

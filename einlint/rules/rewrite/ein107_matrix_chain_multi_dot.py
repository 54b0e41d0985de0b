from __future__ import annotations

from einlint.diagnostics import Applicability
from einlint.rules.base import Example, FixProposal, VerificationTarget
from einlint.rules.rewrite._chain_rule import SLOWER_REWRITE
from einlint.rules.rewrite._matrix_chain_rule import MATRIX_CHAIN_SOUNDNESS, ChainCase, MatrixChain, MatrixChainRule, all_float64, has_comment


class MatrixChainMultiDot(MatrixChainRule):
    """A chain of three or more matrix products whose sizes the code does not show: an opt-in rule.

    What it flags: matrix sandwiches and chains (``A.T @ P @ A``, ``A.T @ (P @ A)``, ``x.mm(y).mm(z)``,
    ``torch.mm(torch.mm(a, b), c)``) where some size is unknown, so which association is cheapest is
    decided only by the sizes at run time. It is off by default; select it (``--select EIN107``) to
    review such chains. A chain whose every size the code shows is EIN106's (reported on by default
    where its order is costly, and not at all where it is fine).

    Why it matters: ``@`` always groups left to right; ``torch.linalg.multi_dot`` computes the cheapest
    association from the actual sizes on every call, which pays where the factors' sizes differ
    widely (a projection to a few dimensions at one end). It is no win for a sandwich of square or
    same-sized factors (``A.T @ P @ A`` costs the same in both orders) and is no faster on small
    matrices: ``einlint --verify`` (CPU, torch 2.13) found ``torch.mm(torch.mm(a, b), c)`` and its
    ``multi_dot`` equivalent and timed the rewrite at 0.96x, 0.89x and 0.87x the original's speed
    forward on 2x3x4x5, 24..27 and 73..81 sizes, all within the measured noise. Readability is a
    matter of taste here, which is why the rule is opt-in.

    Fix: ``torch.linalg.multi_dot([A.T, P, A])``, only where every factor is proven 2-D: the first and
    last by what the code shows (a factory, a view or a shape unpack with two sizes), since
    ``multi_dot`` accepts a 1-D one there where ``mm`` raises and ``@`` returns another shape; a middle
    one may also be proven by being an operand of ``mm`` (``multi_dot`` raises on a 1-D or batched
    middle factor, as ``mm`` does). Every factor must also be a name or a transpose of one, since
    ``multi_dot`` evaluates all factors before the first product.

    Fix safety: the same products in the order ``multi_dot`` picks: values differ by rounding only, the
    result is a fresh contiguous matrix, mixed dtypes raise in both versions. In 16-bit floats another
    order can overflow to inf where the written one does not: stated float16/bfloat16 factors or a
    visible autocast withdraw the fix, and unless every factor is float64 it names ``no-autocast``. Unless a factory proves every factor a torch tensor, the fix assumes
    ``tensor-operands`` (a ``__torch_function__`` subclass then sees ``multi_dot`` instead of its
    ``@``/``mm``; a numpy array makes ``multi_dot`` raise). Because the rewrite can be slower on small
    matrices, every fix also carries ``slower-rewrite``: only ``--fix --unsafe-fixes`` applies it.
    """

    code = "EIN107"
    name = "matrix-chain-multi-dot"
    case = ChainCase.SIZES_UNKNOWN
    enabled_by_default = False
    soundness = MATRIX_CHAIN_SOUNDNESS
    invalid = (
        Example(
            "def f(h, w, v, n):\n    x = h.view(n, 64)\n    y = v.view(64, n)\n    return x.mm(w).mm(y)",
            fixed="def f(h, w, v, n):\n    x = h.view(n, 64)\n    y = v.view(64, n)\n    return torch.linalg.multi_dot([x, w, y])",
            unsafe=True,
        ),
        Example("y = A.T @ P @ A"),
    )
    valid = ("y = a @ b", "y = (a @ b).sum() @ c", "a = torch.randn(8, 4)\nb = torch.randn(4, 8)\nc = torch.randn(8, 4)\ny = a @ b @ c")

    def report_chain(self, chain: MatrixChain) -> None:
        texts = self.factor_texts(chain)
        message = (
            f"chain of {len(texts)} matrix products of unknown sizes: torch.linalg.multi_dot([{', '.join(texts)}]) "
            "picks the cheapest order from the sizes at run time (no faster on small matrices)"
        )
        reference = self.context.module_alias("torch", chain.root)
        blocked = None
        ends = (chain.factors[0], chain.factors[-1])
        if not all(factor.two_d for factor in ends) or not all(factor.two_d or factor.mm_operand for factor in chain.factors):
            blocked = "not every factor is proven 2-D (multi_dot takes a 1-D first or last factor that @ and mm treat otherwise)"
        elif not all(factor.plain for factor in chain.factors):
            blocked = "a factor is not a name or a transpose of one (multi_dot evaluates every factor before the first product)"
        elif reference is None:
            blocked = "torch is not provably imported where this code runs"
        elif has_comment(chain.root):
            blocked = "a comment inside the chain would be lost"
        elif self.runs_in_16_bit_floats(chain):
            blocked = "the products run in 16-bit floats here, where multi_dot's order can overflow to inf and the written one not"
        if blocked is not None:
            self.report(chain.root, f"{message} [no fix: {blocked}]")
            return
        assumptions = []
        details = []
        if not all(factor.is_tensor for factor in chain.factors):
            assumptions.append("tensor-operands")
            details.append("every factor is a torch tensor")
        if not all_float64(chain):
            assumptions.append("no-autocast")
            details.append(
                "no caller runs it under torch.autocast (there multi_dot's order can overflow to inf in 16-bit floats where the written one does not)"
            )
        assumptions.append(SLOWER_REWRITE)
        details.append("a slower form is acceptable on small matrices")
        replacement = f"{reference}.linalg.multi_dot([{', '.join(texts)}])"
        message += f" [unsafe fix: assumes {'; '.join(details)}]"
        target = VerificationTarget("the matrix chain replaced by multi_dot", chain.root, tuple(texts))
        self.report(chain.root, message, FixProposal(chain.root, replacement, Applicability.UNSAFE, tuple(assumptions), target=target))

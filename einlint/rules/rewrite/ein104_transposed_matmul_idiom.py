from __future__ import annotations

import libcst as cst

from einlint.engine.context import RuleContext
from einlint.rewrite.classify import ChainKind
from einlint.rewrite.literals import literal_int
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import MATMUL_CHAIN_SOUNDNESS, ChainRule


TRANSPOSE_METHODS = frozenset({"transpose", "swapaxes", "swapdims"})


class TransposedMatmulIdiom(ChainRule):
    """A matmul with one everyday transpose (``x @ W.T``, ``(attn @ v).transpose(1, 2)``): an opt-in style rule.

    What it flags: a matmul (``@``, ``matmul``, ``bmm``, ``mm``) whose only reordering is one
    transpose: of the last two dimensions of an operand or of the result (``x @ W.T``,
    ``torch.matmul(q, k.transpose(-1, -2))``, ``A.T @ A`` and other Gram matrices, ``a.t().mm(b)``,
    ``q @ k.mT``, ``(a @ b).mT``), or of any two dimensions of the result (``(attn @
    v).transpose(1, 2)``, read after the product it applies to). ``x @= w.T`` is the same product:
    torch.Tensor has no ``__imatmul__``, so Python runs ``x = x @ w.T`` (a new tensor bound to ``x``,
    nothing written in place), and the fix writes ``x = torch.einsum(...)``. It is off by default;
    select it (``--select EIN104``) in projects that want einsum everywhere.

    Why it matters: readability only, and only for some readers. These are idioms every PyTorch reader
    knows, and the einsum form is slower: measured forward on CPU with torch 2.13, one thread
    (``benchmarks/verify_rule_kinds.py``, tiny / medium / large shapes), ``x @ W.T`` as einsum ran at
    0.28x / 0.31x / 0.73x the speed of the original, ``torch.matmul(q, k.transpose(-1, -2))`` at
    0.47x / 0.68x / 1.0x and ``(attn @ v).transpose(1, 2)`` at 0.48x / 0.67x / 1.0x (einsum's per-call
    parsing and planning; the kernel is the same). Reorderings that einsum does make clearer (an
    operand's batch dimension moved, a permute, several reorderings in one chain) are EIN101 and
    EIN102.

    Fix: one ``torch.einsum`` call with the transpose folded into the labels, as for EIN101.

    Fix safety: the equation is exact under the same proofs and assumptions as EIN101's
    (``tensor-operands``, ``operand-ranks``, ``matching-ranks``, ``contiguous-result``; a wrong rank
    assumption makes einsum raise). Because the rewrite is measured slower, every fix also carries
    ``slower-rewrite``, which no ``assume`` entry waives: a plain ``--fix`` never applies it, ``--fix
    --unsafe-fixes`` does.

    Single-use temporaries fold into the rewrite as for EIN101, under the same conditions.

    A product whose rank the code does not show, transposed at dims counted from the front (``(a @
    b).transpose(1, 2)`` of parameters ``a`` and ``b``), is reported without a fix: which dims those
    are depends on the rank (the last two of a 3-D product, the middle two of a 4-D one), and no
    einsum equation can name them without it.
    """

    code = "EIN104"
    name = "transposed-matmul-idiom"
    kind = ChainKind.TRANSPOSE_IDIOM
    soundness = MATMUL_CHAIN_SOUNDNESS
    enabled_by_default = False
    summary_text = "matmul with one transpose"
    benefit = "readability only; einsum is measured slower here"
    slower_rewrite = "a slower form is acceptable (einsum measured at 0.3x-1.0x the speed of the original on CPU)"
    invalid = (
        Example(
            "def f(q: torch.Tensor, k: torch.Tensor):\n    return torch.matmul(q, k.transpose(-1, -2))",
            fixed="def f(q: torch.Tensor, k: torch.Tensor):\n    return torch.einsum('...qd,...kd->...qk', q, k)",
            unsafe=True,
        ),
        Example(
            "a = torch.randn(2, 3, 4)\nb = torch.randn(2, 5, 4)\ny = torch.bmm(a, b.transpose(1, 2))",
            fixed="a = torch.randn(2, 3, 4)\nb = torch.randn(2, 5, 4)\ny = torch.einsum('bid,bjd->bij', a, b)",
            unsafe=True,
        ),
        Example("y = x @ w.T", fixed="y = torch.einsum('...d,id->...i', x, w)", unsafe=True),
    )
    valid = ("y = x @ w", "y = a.permute(0, 2, 1, 3) @ b", "y = np.matmul(a, b.T)", "y = a.T @ b.T", "y = (a @ b).transpose(-1, -3)")

    def report_unmodelled(self, node: cst.BaseExpression) -> bool:
        transposed = _transposed_product(node, self.context)
        if transposed is None:
            return False
        product, method, first, second = transposed
        written = f".{method}({first}, {second})"
        found = self._chain(product)
        if found is None or found[1] is not None or found[0].output is None or not found[0].output.ellipsis:
            # Not a torch matrix product, one of known rank (modelled elsewhere), or a product that is
            # a finding of its own (``(a @ b.T).transpose(1, 2)``: reported, with its fix, inside).
            return False
        self.report(
            node,
            f"{self.summary_text}: `{written}` of a matmul whose rank the code does not show ({self.benefit}) "
            f"[no fix: which dims `{written}` swaps depends on the rank, and no einsum equation names them without it]",
        )
        return True


def _transposed_product(node: cst.BaseExpression, context: RuleContext) -> tuple[cst.BaseExpression, str, int, int] | None:
    """``(a @ b).transpose(i, j)`` or ``torch.matmul(a, b).swapaxes(i, j)`` with i, j >= 0: (the
    product, the method, i, j)."""
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute) and node.func.attr.value in TRANSPOSE_METHODS):
        return None
    if len(node.args) != 2 or any(arg.keyword is not None or arg.star for arg in node.args):
        return None
    first, second = literal_int(node.args[0].value), literal_int(node.args[1].value)
    if first is None or second is None or first < 0 or second < 0 or first == second:
        return None
    product, method = node.func.value, node.func.attr.value
    if isinstance(product, cst.BinaryOperation) and isinstance(product.operator, cst.MatrixMultiply):
        return product, method, first, second
    if isinstance(product, cst.Call) and context.qualified_name(product.func) == "torch.matmul":
        return product, method, first, second
    return None

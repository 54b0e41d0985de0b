from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import MATMUL_CHAIN_SOUNDNESS, ChainRule


class TransposedMatmulOperand(ChainRule):
    """A matmul of an operand reordered beyond a swap of its last two dimensions.

    What it flags: a matmul (``@``, ``matmul``, ``bmm``, ``mm``) of an operand reordered in a way that
    is not a single swap of its last two dimensions: ``hidden.permute(0, 2, 1, 3) @ value`` (a permute
    that moves a batch dimension), ``torch.matmul(q.transpose(1, 2), k)`` on 4-D tensors, or two or
    more reorderings in one chain (``a.T @ b.T``, ``k.transpose(1, 2).transpose(2, 3)``). The
    reorderings fold into einsum labels: ``torch.einsum('bihd,bhdv->bhiv', hidden, value)``. A single
    swap of the last two dimensions (``x @ W.T``, ``q @ k.transpose(-1, -2)``, ``A.T @ A``) is an
    everyday idiom, faster as written: that is the opt-in rule EIN104, not this one. An in-place
    product (``h @= v.permute(0, 2, 1, 3)``) is read as ``h = h @ ...``, which is what Python runs for a
    torch tensor (it has no ``__imatmul__``), and fixed as ``h = torch.einsum(...)``.

    Why it matters: readability. Which dimension a ``permute(0, 2, 1, 3)`` followed by a matmul
    contracts, and where each batch dimension ends up, takes the reader a minute; the labels say it
    at once. No speed claim: einsum performs the same permutation and batched matmul, and on small
    tensors its fixed per-call overhead can make it slower.

    Fix: one ``torch.einsum`` call, spelled as the file already spells torch (``torch.einsum``,
    ``t.einsum`` or an imported ``einsum``), with labels named after the operands.

    Fix safety: the equation follows torch's matmul semantics exactly (batch broadcasting, negative
    dims, the 2-D ``x @ W`` case for any rank of ``x``). It is safe when the code proves every operand
    is a plain torch tensor and every rank the labels need. Tensors are proven by a torch factory in
    the same scope (``torch.randn(...)``, ``torch.tensor(...)``) or a method of a proven tensor; not by
    a ``torch.Tensor`` annotation (Python never checks it; a sparse tensor or a subclass satisfies it)
    nor by methods alone: gpytorch's ``LinearOperator`` and other ``__torch_function__`` classes have
    ``matmul``, ``.mT`` and ``transpose`` but make einsum raise. ``bmm``/``mm``/``permute``
    fix ranks (they raise otherwise), ``transpose(-1, -2)``/``.mT`` prove at least two dimensions, a
    shape unpack or ``view(b, h, n, d)`` gives the rank. Otherwise the fix is unsafe and names what it
    assumes: ``tensor-operands`` (an operand of ``@`` may be a numpy array or another class), ``operand-ranks``
    (``transpose(2, 3)`` taken to swap the last two dimensions of a 4-D tensor, ``.T`` taken as a 2-D
    transpose, an operand taken to have at least two dimensions). Every assumption is encoded as
    explicit labels, so when it is wrong ``torch.einsum`` raises instead of computing something else.
    Declare ``assume = ["tensor-operands", "operand-ranks"]`` in ``[tool.einlint]`` to apply them as
    safe fixes. An operand known to be something else (a numpy array, an instance of a class) is
    never rewritten. torch.einsum may return a non-contiguous tensor where matmul returned a
    contiguous one (with broadcast batch dimensions, for one), so a result that flows into
    ``.view()``, directly or through the local it is assigned to, makes the fix unsafe
    (``contiguous-result``). A ``sum`` over the product follows EIN103's dtype rules.

    A single-use temporary (``kt = k.transpose(-1, -2)`` read once, by this chain) is folded into
    the rewrite only where moving the view to its use cannot make it read something else: the
    definition and the use are in one block (no ``with``, loop or branch between them), every
    statement between them only binds names to expressions without a call, and in the use's own
    statement nothing with a call, walrus or ``yield`` is evaluated before the temporary is read,
    which is not inside a lambda or comprehension. An in-place op through an alias, a helper,
    ``getattr`` or a lambda, ``.data =``, ``requires_grad_()``, a grad-mode switch, ``nonlocal`` or
    ``global`` rebinding all need one of those. Where the fold is refused, the chain as written
    keeps its own finding and fix if it has one; otherwise the finding names why it has no fix.
    """

    code = "EIN101"
    name = "transposed-matmul-operand"
    kind = ChainKind.TRANSPOSED_OPERAND
    soundness = MATMUL_CHAIN_SOUNDNESS
    summary_text = "matmul of a reordered operand"
    benefit = "readability; same matmul kernel, no speed claim"
    invalid = (
        Example(
            "a = torch.randn(2, 3, 4, 5)\nb = torch.randn(2, 5, 6)\ny = (a.permute(1, 0, 2, 3) @ b).contiguous()",
            fixed="a = torch.randn(2, 3, 4, 5)\nb = torch.randn(2, 5, 6)\ny = torch.einsum('bijd,bdk->ibjk', a, b).contiguous()",
        ),
        Example(
            "def f(q: torch.Tensor, k: torch.Tensor):\n    return torch.matmul(q.transpose(-2, -3), k)",
            fixed="def f(q: torch.Tensor, k: torch.Tensor):\n    return torch.einsum('...qbd,...bdk->...bqk', q, k)",
            unsafe=True,
        ),
        Example("y = a.T @ b.T", fixed="y = torch.einsum('di,jd->ij', a, b)", unsafe=True),
    )
    valid = ("y = x @ w", "y = x @ w.T", "y = torch.matmul(q, k.transpose(-1, -2))", "y = np.matmul(a, b.T)", "y = a @ b @ c.T")

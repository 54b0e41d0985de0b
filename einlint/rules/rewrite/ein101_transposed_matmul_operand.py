from __future__ import annotations

from einlint.rewrite.classify import ChainKind
from einlint.rules.base import Example
from einlint.rules.rewrite._chain_rule import ChainRule


class TransposedMatmulOperand(ChainRule):
    """A matmul (``@``, ``matmul``, ``bmm``, ``mm``) of a transposed or permuted operand.

    What it flags: ``torch.matmul(q, k.transpose(-1, -2))``, ``x @ w.T``, ``torch.bmm(a, b.transpose(1,
    2))``, ``a.permute(0, 2, 1, 3) @ b`` - the transposition is folded into einsum labels:
    ``torch.einsum('...qd,...kd->...qk', q, k)``.

    Why it matters: readability. The labels say which dimensions are contracted and which survive,
    where ``transpose(-1, -2)`` makes the reader reconstruct it. einsum runs the same batched matmul
    kernel, so there is no speed claim: on small tensors einsum's fixed overhead can make it slower.
    Projects that prefer ``permute`` + ``@`` by policy should ignore EIN101-EIN103.

    Fix: one ``torch.einsum`` call, spelled as the file already spells torch (``torch.einsum``,
    ``t.einsum`` or an imported ``einsum``), with labels named after the operands.

    Fix safety: the equation follows torch's matmul semantics exactly (batch broadcasting, negative
    dims, the 2-D ``x @ W`` case for any rank of ``x``). It is safe when the code proves every operand
    is a torch tensor and every rank the labels need. Tensors are proven by a torch factory
    (``torch.randn(...)``, ``torch.tensor(...)``), a ``torch.Tensor`` annotation, or a method of a
    proven tensor; not by methods alone: gpytorch's ``LinearOperator`` and other ``__torch_function__``
    classes have ``matmul``, ``.mT`` and ``transpose`` but make einsum raise. ``bmm``/``mm``/``permute``
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
    (``contiguous-result``). A ``sum`` over the product needs a floating operand, as for EIN103.
    """

    code = "EIN101"
    name = "transposed-matmul-operand"
    kind = ChainKind.TRANSPOSED_OPERAND
    summary_text = "matmul of a transposed operand"
    benefit = "readability; same matmul kernel, no speed claim"
    invalid = (
        Example(
            "def f(q: torch.Tensor, k: torch.Tensor):\n    return torch.matmul(q, k.transpose(-1, -2))",
            fixed="def f(q: torch.Tensor, k: torch.Tensor):\n    return torch.einsum('...qd,...kd->...qk', q, k)",
            unsafe=True,
        ),
        Example(
            "a = torch.randn(2, 3, 4)\nb = torch.randn(2, 5, 4)\ny = torch.bmm(a, b.transpose(1, 2))",
            fixed="a = torch.randn(2, 3, 4)\nb = torch.randn(2, 5, 4)\ny = torch.einsum('bid,bjd->bij', a, b)",
        ),
        Example("y = torch.bmm(a, b.transpose(1, 2))", fixed="y = torch.einsum('bid,bjd->bij', a, b)", unsafe=True),
        Example("y = x @ w.T", fixed="y = torch.einsum('...d,id->...i', x, w)", unsafe=True),
    )
    valid = ("y = x @ w", "y = torch.matmul(q, k)", "y = np.matmul(a, b.T)", "y = a @ b @ c.T")

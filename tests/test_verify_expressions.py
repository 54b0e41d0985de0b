"""What the verifier runs: the two expressions of a fix, canonical (operands ``x0, x1, ...``, torch
spelled ``torch.<name>``), and only if every operation is on the allowlist. No torch needed here."""

from __future__ import annotations

import ast

import pytest

from einlint.verify.expressions import NotVerifiable, prepare
from einlint.verify.targets import file_imports

REWRITE = "torch.einsum('ij,jk->ik', q, k)"


@pytest.mark.parametrize(
    ("original", "rewritten", "original_code", "rewritten_code", "operands"),
    [
        pytest.param(
            "torch.matmul(q, k.transpose(-1, -2))", "torch.einsum('...qd,...kd->...qk', q, k)",
            "torch.matmul(x0, x1.transpose(-1, -2))", "torch.einsum('...qd,...kd->...qk', x0, x1)", ("q", "k"),
            id="names",
        ),
        pytest.param(
            "self.query(h) @ self.key(h).transpose(-1, -2)", "torch.einsum('...qd,...kd->...qk', self.query(h), self.key(h))",
            "x0 @ x1.transpose(-1, -2)", "torch.einsum('...qd,...kd->...qk', x0, x1)", ("self.query(h)", "self.key(h)"),
            id="operands-computed-by-user-code-are-never-run",
        ),
        pytest.param(
            "(x * x).sum(-1)", "torch.einsum('...i,...i->...', x, x)",
            "(x0 * x0).sum(-1)", "torch.einsum('...i,...i->...', x0, x0)", ("x",),
            id="an-operand-used-twice",
        ),
        pytest.param(
            "torch.matmul(\n    a,\n    b.transpose(-1, -2),  # keys\n)", "torch.einsum('...id,...jd->...ij', a, b)",
            "torch.matmul(x0, x1.transpose(-1, -2))", "torch.einsum('...id,...jd->...ij', x0, x1)", ("a", "b"),
            id="multi-line-with-comment",
        ),
        pytest.param(
            "torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))",
            "torch.matmul(x0, x1.transpose(-1, -2).contiguous())", "torch.matmul(x0, x1.transpose(-1, -2))", ("a", "b"),
            id="no-einsum-operands-are-the-names-read",
        ),
        pytest.param(
            "torch.einsum('ij,jk->ik', [a.permute(1, 0), b])", "torch.einsum('ji,jk->ik', [a, b])",
            "torch.einsum('ij,jk->ik', [x0.permute(1, 0), x1])", "torch.einsum('ji,jk->ik', [x0, x1])", ("a", "b"),
            id="einsum-operands-in-a-list",
        ),
    ],
)  # fmt: skip
def test_canonical_form(original: str, rewritten: str, original_code: str, rewritten_code: str, operands: tuple[str, ...]) -> None:
    pair = prepare(original, rewritten)
    assert (pair.original_code, pair.rewritten_code, pair.operands) == (original_code, rewritten_code, operands)


def test_torch_aliases_of_the_file_are_spelled_torch() -> None:
    imports = file_imports("import torch as t\nfrom torch import einsum as es, matmul\n")
    pair = prepare("matmul(q, k.mT)", "es('...qd,...kd->...qk', q, k)", imports)
    assert pair.original_code == "torch.matmul(x0, x1.mT)"
    assert pair.rewritten_code == "torch.einsum('...qd,...kd->...qk', x0, x1)"
    assert prepare("t.bmm(a, b)", "t.einsum('bij,bjk->bik', a, b)", imports).original_code == "torch.bmm(x0, x1)"


@pytest.mark.parametrize(
    ("original", "reason"),
    [
        pytest.param("os.system('rm -rf /')", "call of 'os.system' is not in the allowlist", id="os.system"),
        pytest.param("__import__('os').system('ls')", "dunder name '__import__'", id="__import__"),
        pytest.param("torch.matmul(q, k).__class__", "dunder name '__class__'", id="dunder-attribute"),
        pytest.param("q.__dict__", "dunder name '__dict__'", id="dunder-attribute-of-an-operand"),
        pytest.param("torch.matmul(q, k)._base", "private name '_base'", id="private-attribute"),
        pytest.param("torch.load('weights.pt')", "'torch.load' is not in the allowlist", id="unknown-torch-function"),
        pytest.param("matmul_fast(q, k)", "call of 'matmul_fast' is not in the allowlist", id="unknown-function"),
        pytest.param("q.numpy()", "tensor attribute 'numpy' is not in the allowlist", id="unknown-tensor-method"),
        pytest.param("(lambda: q)()", "is not an operation the verifier evaluates", id="lambda"),
        pytest.param("torch.matmul(q, k) * scale", "'scale' is neither an operand nor torch", id="free-name"),
        pytest.param("torch.matmul(q, k) ** 2", "operator Pow is not in the allowlist", id="operator"),
        pytest.param("torch.matmul(q, k).reshape(100000000)", "too large", id="huge-constant"),
        pytest.param("[q for q in k]", "is not an operation the verifier evaluates", id="comprehension"),
    ],
)  # fmt: skip
def test_allowlist_refuses(original: str, reason: str) -> None:
    with pytest.raises(NotVerifiable, match=reason.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        prepare(original, REWRITE)


def test_the_rewritten_expression_is_checked_too() -> None:
    with pytest.raises(NotVerifiable, match="os.system"):
        prepare("torch.matmul(q, k)", "torch.einsum('ij,jk->ik', q, k) + os.system('ls')")


def test_torch_bound_to_something_else_is_refused() -> None:
    with pytest.raises(NotVerifiable, match="'torch' names something other than torch"):
        prepare("torch.matmul(q, k)", REWRITE, file_imports("import numpy as torch\n"))


def test_a_user_name_that_looks_like_a_placeholder_is_not_an_operand() -> None:
    with pytest.raises(NotVerifiable, match="'x0' is neither an operand nor torch"):
        prepare("torch.matmul(q, k) + x0", REWRITE)


def test_the_canonical_code_is_plain_python_with_only_torch_and_placeholders() -> None:
    pair = prepare("(a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)", "torch.einsum('di,dj->ij', a, b)")
    names = {node.id for node in ast.walk(ast.parse(pair.original_code + "\n" + pair.rewritten_code)) if isinstance(node, ast.Name)}
    assert names == {"torch", "x0", "x1"}

"""EIN121 rewrites a matmul-shaped einsum into torch.matmul: both must agree on real tensors."""

from __future__ import annotations

import itertools

import pytest

torch = pytest.importorskip("torch")

from einlint.equation.model import parse_equation  # noqa: E402
from einlint.rules.rewrite.ein121_einsum_to_matmul import _matmul_plan  # noqa: E402

SIZES = dict(zip("bhijkqd", (2, 3, 5, 7, 4, 6, 9)))
BATCH_SHAPES = [(), (1,), (3,), (2, 3)]


def _operands(equation: str, batch: tuple[int, ...], dtype) -> list:
    parsed = parse_equation(equation)
    operands = []
    for position, term in enumerate(parsed.inputs):
        shape = [SIZES[label] for label in term.letters]
        if term.ellipsis_count:
            # the second operand broadcasts a size-1 batch dimension against the first
            own_batch = tuple(1 if position and index == 0 else size for index, size in enumerate(batch))
            shape = [*own_batch, *shape]
        operands.append(torch.randn(*shape, dtype=dtype, requires_grad=True))
    return operands


def _matmul_form(equation: str, first, second):
    parsed = parse_equation(equation)
    plan = _matmul_plan(parsed.inputs[0], parsed.inputs[1], parsed.effective_output())
    assert plan is not None
    transpose_first, transpose_second = plan
    a = first.transpose(-2, -1) if transpose_first else first
    b = second.transpose(-2, -1) if transpose_second else second
    return torch.matmul(a, b)


MATMUL_EQUATIONS = ["bhqd,bhkd->bhqk", "bhqk,bhkd->bhqd", "...ij,...jk->...ik", "ji,kj->ik", "ij,kj->ik", "bij,bjk->bik", "...ji,...jk->...ik"]


CASES = [
    (equation, batch, dtype)
    for equation, batch, dtype in itertools.product(MATMUL_EQUATIONS, BATCH_SHAPES, (torch.float32, torch.float64))
    if "..." in equation or not batch  # explicit labels have no batch variants
]


@pytest.mark.parametrize("equation,batch,dtype", CASES)
def test_matmul_form_equals_einsum(equation: str, batch, dtype) -> None:
    first, second = _operands(equation, batch, dtype)
    expected = torch.einsum(equation, first, second)
    actual = _matmul_form(equation, first, second)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    tolerance = 1e-5 if dtype is torch.float32 else 1e-12
    torch.testing.assert_close(actual, expected, rtol=tolerance, atol=tolerance)
    # matmul's result is always contiguous; einsum's is not always (broadcast batch dimensions), so
    # the rewrite can only remove a .view() failure, never add one.
    assert actual.is_contiguous()
    grad = torch.randn_like(expected)
    expected_grads = torch.autograd.grad(expected, (first, second), grad)
    actual_grads = torch.autograd.grad(actual, (first, second), grad)
    for mine, theirs in zip(actual_grads, expected_grads):
        torch.testing.assert_close(mine, theirs, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("equation", ["bij,bjk->bki", "ij,ij->i", "i,i->", "bij,jbk->bik", "...ij,jk->...ik", "ij,jk->ik,", "iij,jk->ik"])
def test_non_matmul_equations_have_no_plan(equation: str) -> None:
    try:
        parsed = parse_equation(equation)
    except ValueError:
        return
    if len(parsed.inputs) != 2:
        return
    assert _matmul_plan(parsed.inputs[0], parsed.inputs[1], parsed.effective_output()) is None

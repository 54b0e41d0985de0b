"""The synthetic operands: every label a different size, the variants the issue asks for, and tensors
that really are non-contiguous and require grad."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from einlint.verify.equivalence import compile_pair  # noqa: E402
from einlint.verify.expressions import prepare  # noqa: E402
from einlint.verify.inputs import PROFILES, make_inputs, plan_cases  # noqa: E402

ATTENTION = prepare("torch.matmul(q, k.transpose(-1, -2))", "torch.einsum('...qd,...kd->...qk', q, k)")
BMM = prepare("torch.bmm(q, k.transpose(1, 2))", "torch.einsum('bqd,bkd->bqk', q, k)")


def _named(cases):
    return {case.name: case for case in cases}


def test_every_label_has_its_own_size_in_every_profile() -> None:
    for case in plan_cases(BMM):
        if case.variant in ("contiguous", "non-contiguous"):
            (b, q, d), (b2, k, d2) = case.shapes
            assert (b, d) == (b2, d2)
            assert len({b, q, d, k}) == 4, case


def test_the_variants() -> None:
    cases = _named(plan_cases(ATTENTION))
    assert {"tiny", "medium", "large", "tiny/non-contiguous", "tiny/batch-1", "tiny/broadcast", "tiny/ellipsis-0",
            "tiny/ellipsis-1", "tiny/broadcast-rank"} <= set(cases)  # fmt: skip
    assert cases["tiny/batch-1"].shapes[0][:2] == (1, 1)
    assert cases["tiny/broadcast"].shapes[1][:2] == (1, 1) and cases["tiny/broadcast"].optional
    assert [len(shape) for shape in cases["tiny/ellipsis-0"].shapes] == [2, 2]
    assert [len(shape) for shape in cases["tiny/broadcast-rank"].shapes] == [4, 3]
    assert [case.profile for case in plan_cases(ATTENTION) if case.timed] == list(PROFILES)


def test_sizes_grow_with_the_profile_within_a_budget() -> None:
    cases = _named(plan_cases(BMM))
    largest = [max(max(shape) for shape in cases[profile].shapes) for profile in PROFILES]
    assert largest == sorted(largest) and largest[0] < 8 < largest[2]
    assert all(torch.Size(shape).numel() <= 1 << 21 for shape in cases["large"].shapes)


def test_non_contiguous_inputs_are_views_that_require_grad() -> None:
    case = _named(plan_cases(BMM))["medium/non-contiguous"]
    inputs = make_inputs(case, "float64", "cpu", seed=3)
    assert [tuple(tensor.shape) for tensor in inputs] == list(case.shapes)
    assert not any(tensor.is_contiguous() for tensor in inputs)
    assert all(tensor.requires_grad and tensor.dtype == torch.float64 for tensor in inputs)
    contiguous = make_inputs(_named(plan_cases(BMM))["medium"], "float32", "cpu", seed=3)
    assert all(tensor.is_contiguous() and tensor.is_leaf and tensor.requires_grad for tensor in contiguous)


def test_inputs_are_reproducible() -> None:
    case = _named(plan_cases(BMM))["tiny"]
    first, second = make_inputs(case, "float32", "cpu", seed=7), make_inputs(case, "float32", "cpu", seed=7)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


def test_shapes_are_searched_for_without_an_equation() -> None:
    pair = prepare("torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))")
    cases = _named(plan_cases(pair, original=compile_pair(pair)[0]))
    (a_batch, i, d), (b_batch, j, d2) = cases["tiny"].shapes
    assert (a_batch, d) == (b_batch, d2) and len({a_batch, i, j, d}) == 4
    assert {"tiny/rank-2", "tiny/rank-4"} <= set(cases)

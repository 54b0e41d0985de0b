"""EIN201/EIN202 fixes run on real tensors: every fixed contraction in the layout fixtures and in the
rules' ``invalid`` examples is evaluated before and after the fix, with every label a distinct size,
several shapes (a batch of 1 among them), float32 and float64, and inputs that require grad. Both
versions must agree on values, gradients, dtype, shape and contiguity, and on whether the result
shares storage with an input: never, where EIN202 says einsum or matmul computes a fresh tensor.

The expected rewrites themselves are checked elsewhere (test_fixtures.py, test_rule_examples.py); this
file checks that they mean the same thing."""

from __future__ import annotations

import ast
import contextlib
import io
import json
from dataclasses import dataclass

import pytest

from conftest import FIXTURES, main
from einlint.rules.layout.ein201_view_into_einsum import ViewIntoEinsum
from einlint.rules.layout.ein202_copy_before_contraction import CopyBeforeContraction

torch = pytest.importorskip("torch")

LAYOUT = FIXTURES / "layout"
MATMUL_NAMES = frozenset({"matmul", "bmm", "mm"})
NAMESPACE = {"torch": torch, "t": torch, "einsum": torch.einsum}
# matmul has no equation to read operand shapes from: the labels of each operand, per fixed expression.
MATMUL_OPERAND_LABELS = {
    "torch.matmul(probs, v.transpose(1, 2))": {"probs": "bhqk", "v": "bkhd"},
    "x @ w.mT": {"x": "bnd", "w": "ed"},
    "x @ w.T": {"x": "nd", "w": "ed"},
    "torch.bmm(x, a.permute(0, 2, 1))": {"x": "bnd", "a": "bed"},
    "w.T.matmul(b)": {"w": "di", "b": "de"},
    "x.matmul(torch.transpose(a, 1, 2))": {"x": "bnd", "a": "bed"},
    "torch.matmul(a, b.transpose(-1, -2))": {"a": "bij", "b": "bkj"},
}
# Label sizes, per variant: all distinct; then the first label (the batch) of size 1; then other sizes.
SIZE_VARIANTS = ((2, 3, 4, 5, 6, 7, 8), (1, 3, 4, 5, 6, 7, 8), (9, 7, 5, 3, 2, 4, 6))
ELLIPSIS_VARIANTS = ((11,), (), (1, 13))


@dataclass(frozen=True)
class FixedContraction:
    origin: str
    code: str  # the rule whose fix this is
    original: str
    fixed: str


def _is_contraction(node: ast.AST) -> bool:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
        return True
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name == "einsum" or name in MATMUL_NAMES


def _contractions(tree: ast.AST) -> dict[tuple[int, int], ast.expr]:
    return {(node.lineno, node.col_offset): node for node in ast.walk(tree) if _is_contraction(node)}


def _innermost_around(nodes: dict[tuple[int, int], ast.expr], line: int, col: int) -> tuple[int, int]:
    around = [key for key, node in nodes.items() if (node.lineno, node.col_offset) <= (line, col) <= (node.end_lineno, node.end_col_offset)]
    return max(around)


def _fixture_contractions(code: str, fixed_name: str) -> list[FixedContraction]:
    """Each contraction a finding points into, as written in the fixture and in its expected output."""
    fixture = LAYOUT / f"{code}.py"
    # A copy bound to a local is dropped from its binding, which leaves the contraction as written: the
    # soundness corpus runs those (snapshots: bound_copy_*) as whole programs instead.
    findings = [finding for finding in _findings(code) if finding["fix"] is not None and "copy of a transposed view (line" not in finding["message"]]
    before = _contractions(ast.parse(fixture.read_text(encoding="utf-8")))
    after = _contractions(ast.parse((LAYOUT / fixed_name).read_text(encoding="utf-8")))
    keys = sorted({_innermost_around(before, f["line"], f["col"] - 1) for f in findings})
    return [FixedContraction(f"{code}.py:{key[0]}", code, ast.unparse(before[key]), ast.unparse(after[key])) for key in keys]


def _example_contractions(rule) -> list[FixedContraction]:
    return [
        FixedContraction(
            f"{rule.code} example {index}",
            rule.code,
            ast.unparse(ast.parse(example.code).body[-1].value),
            ast.unparse(ast.parse(example.fixed).body[-1].value),
        )
        for index, example in enumerate(rule.invalid)
        if example.fixed is not None
    ]


def _findings(code: str) -> list[dict]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        main(["--select", code, "--unsafe-fixes", "--no-cache", "--format", "json", str(LAYOUT / f"{code}.py")])
    return json.loads(out.getvalue())


@pytest.fixture(scope="module")
def fixed_contractions() -> list[FixedContraction]:
    return [
        *_fixture_contractions("EIN201", "EIN201.unsafe.out.py"),
        *_fixture_contractions("EIN202", "EIN202.unsafe.out.py"),
        *_example_contractions(ViewIntoEinsum),
        *_example_contractions(CopyBeforeContraction),
    ]


# --- operand shapes ------------------------------------------------------------------------------


def _terms(equation: str) -> list[str]:
    inputs = equation.replace(" ", "").split("->")[0]
    return inputs.split(",")


def _operand_labels(fixed: str) -> dict[str, str]:
    """Labels of each operand name of the fixed expression: from its einsum term, or from the table."""
    call = ast.parse(fixed, mode="eval").body
    if isinstance(call, ast.Call) and (getattr(call.func, "attr", None) or getattr(call.func, "id", None)) == "einsum":
        operands = call.args[1:]
        if len(operands) == 1 and isinstance(operands[0], (ast.List, ast.Tuple)):
            operands = operands[0].elts
        terms = _terms(call.args[0].value)
        assert all(isinstance(operand, ast.Name) for operand in operands), f"give {fixed} plain names as operands"
        return {operand.id: term for operand, term in zip(operands, terms)}
    assert fixed in MATMUL_OPERAND_LABELS, f"add the operand labels of {fixed!r} to MATMUL_OPERAND_LABELS"
    return MATMUL_OPERAND_LABELS[fixed]


def _inputs(labels: dict[str, str], variant: int, dtype) -> dict[str, torch.Tensor]:
    order = list(dict.fromkeys(label for term in labels.values() for label in term.replace("...", "")))
    sizes = dict(zip(order, SIZE_VARIANTS[variant]))
    ellipsis = ELLIPSIS_VARIANTS[variant]
    generator = torch.Generator().manual_seed(variant)
    tensors = {}
    for name, term in labels.items():
        before, _, after = term.partition("...")
        shape = [sizes[label] for label in before]
        if "..." in term:
            shape += list(ellipsis)
        shape += [sizes[label] for label in after]
        tensors[name] = torch.randn(shape, generator=generator, dtype=dtype).requires_grad_()
    return tensors


def _evaluate(expression: str, tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    return eval(expression, dict(NAMESPACE), dict(tensors))  # noqa: S307 - fixture code, written here


def _shares_storage(result: torch.Tensor, tensors: dict[str, torch.Tensor]) -> bool:
    pointer = result.untyped_storage().data_ptr()
    return any(tensor.untyped_storage().data_ptr() == pointer for tensor in tensors.values())


# --- the tests -----------------------------------------------------------------------------------


def test_every_fixture_fix_is_collected(fixed_contractions: list[FixedContraction]) -> None:
    # Guards the collection: a broken lookup would leave the runtime test below with nothing to run.
    origins = [c.origin for c in fixed_contractions]
    assert sum(origin.startswith("EIN201.py") for origin in origins) >= 14
    assert sum(origin.startswith("EIN202.py") for origin in origins) >= 8
    assert all(c.original != c.fixed for c in fixed_contractions)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("variant", range(len(SIZE_VARIANTS)), ids=["distinct", "batch1", "other-sizes"])
def test_fixed_contraction_is_equivalent(fixed_contractions: list[FixedContraction], variant: int, dtype) -> None:
    for contraction in fixed_contractions:
        labels = _operand_labels(contraction.fixed)
        before_inputs = _inputs(labels, variant, dtype)
        after_inputs = {name: tensor.detach().clone().requires_grad_() for name, tensor in before_inputs.items()}
        where = f"{contraction.origin}: {contraction.original} -> {contraction.fixed}"

        before = _evaluate(contraction.original, before_inputs)
        after = _evaluate(contraction.fixed, after_inputs)

        assert before.shape == after.shape, where
        assert before.dtype == after.dtype == dtype, where
        torch.testing.assert_close(after, before, msg=where)
        # A later .view() of the result works after the fix exactly when it worked before.
        assert before.is_contiguous() == after.is_contiguous(), where
        if contraction.code == "EIN202":
            assert not _shares_storage(before, before_inputs), where
            assert not _shares_storage(after, after_inputs), where
        else:
            assert _shares_storage(before, before_inputs) == _shares_storage(after, after_inputs), where

        upstream = torch.randn(before.shape, generator=torch.Generator().manual_seed(99), dtype=dtype)
        names = sorted(labels)
        grads_before = torch.autograd.grad(before, [before_inputs[n] for n in names], upstream, allow_unused=True)
        grads_after = torch.autograd.grad(after, [after_inputs[n] for n in names], upstream, allow_unused=True)
        for name, grad_before, grad_after in zip(names, grads_before, grads_after):
            assert (grad_before is None) == (grad_after is None), f"{where}: gradient of {name}"
            if grad_before is not None:
                torch.testing.assert_close(grad_after, grad_before, msg=f"{where}: gradient of {name}")


@pytest.mark.parametrize(
    ("copied", "folded"),
    [
        ("einsum('ij->ji', x.transpose(0, 1).clone())", "einsum('ji->ji', x)"),
        ("torch.einsum('ii->i', x.T.contiguous())", "torch.einsum('ii->i', x)"),
    ],
)
def test_single_operand_einsum_without_the_copy_would_alias(copied: str, folded: str) -> None:
    """Why EIN202 leaves a single-operand einsum without a sum alone: dropping the copy would make the
    result a view of the input, so writes to one would show in the other."""
    x = {"x": torch.randn(3, 3)}
    assert not _shares_storage(_evaluate(copied, x), x)
    assert _shares_storage(_evaluate(folded, x), x)
    torch.testing.assert_close(_evaluate(folded, x), _evaluate(copied, x))


def test_folded_ellipsis_transpose_is_checked_with_several_batch_ranks(fixed_contractions) -> None:
    with_ellipsis = [c for c in fixed_contractions if "..." in c.fixed]
    assert len(with_ellipsis) >= 3
    assert {len(shape) for shape in ELLIPSIS_VARIANTS} == {0, 1, 2}


def test_matmul_table_has_no_stale_entries(fixed_contractions: list[FixedContraction]) -> None:
    used = {c.fixed for c in fixed_contractions}
    assert set(MATMUL_OPERAND_LABELS) <= used

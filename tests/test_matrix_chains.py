"""EIN106 and EIN107 on real tensors: the association the cost model picks is the cheapest one, and
every fixed chain in the fixtures computes what the original computes (values and gradients)."""

from __future__ import annotations

import itertools
import random
import types
from pathlib import Path

import libcst as cst
import pytest

torch = pytest.importorskip("torch")

from conftest import FIXTURES  # noqa: E402
from einlint.rewrite.matrix_chain import best_order, modelled_time, multiply_adds, order_cost, spelled  # noqa: E402


def _all_costs(dims: list[int], first: int, last: int, cost) -> list[int]:
    """The ``cost`` of every association of matrices ``first..last`` (brute force)."""
    if first == last:
        return [0]
    costs = []
    for middle in range(first, last):
        for left, right in itertools.product(_all_costs(dims, first, middle, cost), _all_costs(dims, middle + 1, last, cost)):
            costs.append(left + right + cost(dims[first], dims[middle + 1], dims[last + 1]))
    return costs


def _cost_of_spelling(text: str, shapes: dict[str, tuple[int, int]]) -> int:
    """Multiply-adds of an ``@`` expression over named matrices, read as Python groups it."""
    total = 0

    def shape(node: cst.BaseExpression) -> tuple[int, int]:
        nonlocal total
        if isinstance(node, cst.Name):
            return shapes[node.value]
        assert isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply)
        (rows, inner), (inner_right, columns) = shape(node.left), shape(node.right)
        assert inner == inner_right
        total += rows * inner * columns
        return rows, columns

    shape(cst.parse_expression(text))
    return total


@pytest.mark.parametrize("cost", [multiply_adds, modelled_time])
@pytest.mark.parametrize("seed", range(30))
def test_best_order_is_the_cheapest_and_spelled_as_costed(seed: int, cost) -> None:
    generator = random.Random(seed)
    count = generator.randint(3, 6)
    dims = [generator.choice((1, 2, 3, 7, 16, 64, 300)) for _ in range(count + 1)]
    shapes = [(dims[i], dims[i + 1]) for i in range(count)]
    best, order = best_order(shapes, cost)
    assert best == min(_all_costs(dims, 0, count - 1, cost)) == order_cost(order, shapes, cost)
    names = [f"m{i}" for i in range(count)]
    assert _cost_of_spelling(spelled(order, names), dict(zip(names, shapes))) == order_cost(order, shapes)


def _module(path: Path) -> types.ModuleType:
    module = types.ModuleType(path.stem.replace(".", "_"))
    exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), module.__dict__)
    return module


def _changed_functions(original: Path, fixed: Path) -> list[str]:
    """The functions whose text the fix changed."""

    def bodies(path: Path) -> dict[str, str]:
        tree = cst.parse_module(path.read_text(encoding="utf-8"))
        return {node.name.value: tree.code_for_node(node) for node in tree.body if isinstance(node, cst.FunctionDef)}

    before, after = bodies(original), bodies(fixed)
    return sorted(name for name in before if before[name] != after[name])


EIN106 = FIXTURES / "rewrite" / "EIN106.py"
EIN106_CHANGED = _changed_functions(EIN106, EIN106.with_suffix(".unsafe.out.py"))


def test_the_ein106_fixture_has_fixed_chains() -> None:
    assert len(EIN106_CHANGED) >= 6


@pytest.mark.parametrize("name", EIN106_CHANGED)
def test_reassociated_chain_computes_the_same(name: str) -> None:
    original, fixed = _module(EIN106), _module(EIN106.with_suffix(".unsafe.out.py"))
    torch.manual_seed(0)
    expected = getattr(original, name)()
    torch.manual_seed(0)
    actual = getattr(fixed, name)()
    assert actual.shape == expected.shape and actual.dtype == expected.dtype and actual.is_contiguous()
    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4 * float(expected.abs().max()))


EIN107 = FIXTURES / "rewrite" / "EIN107.py"
# Arguments for each function the EIN107 fix rewrites: sizes that make every association differ in cost.
EIN107_ARGUMENTS = {
    "method_chain": lambda: (torch.randn(3 * 64), torch.randn(64, 64), torch.randn(64 * 3), 3),
    "function_chain": lambda: (torch.randn(7 * 4), torch.randn(4, 30), torch.randn(30, 4), torch.randn(4 * 7), 7),
    "tensors_proven": lambda: (9,),
}


def test_every_ein107_fix_has_arguments() -> None:
    assert _changed_functions(EIN107, EIN107.with_suffix(".unsafe.out.py")) == sorted(EIN107_ARGUMENTS)


@pytest.mark.parametrize("name", sorted(EIN107_ARGUMENTS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_multi_dot_chain_computes_the_same(name: str, dtype: torch.dtype) -> None:
    original, fixed = _module(EIN107), _module(EIN107.with_suffix(".unsafe.out.py"))
    torch.manual_seed(1)
    arguments = [a.to(dtype).requires_grad_() if isinstance(a, torch.Tensor) else a for a in EIN107_ARGUMENTS[name]()]
    results = []
    for module in (original, fixed):
        torch.manual_seed(2)
        value = getattr(module, name)(*arguments)
        tensors = [a for a in arguments if isinstance(a, torch.Tensor)]
        gradients = torch.autograd.grad(value.sum(), tensors) if tensors else ()
        results.append((value, gradients))
    (expected, expected_gradients), (actual, actual_gradients) = results
    assert actual.shape == expected.shape and actual.dtype == expected.dtype and actual.is_contiguous()
    torch.testing.assert_close(actual, expected)
    for got, want in zip(actual_gradients, expected_gradients):
        torch.testing.assert_close(got, want)


# EIN106 on 16-bit floats: (code around ``y = a @ b @ c``, with the three factories of a 4096/64 chain).
HALF_PRECISION = {
    "float16 factor": "a = torch.randn(4096, 64, dtype=torch.half)\nb = torch.randn(64, 4096)\nc = torch.randn(4096, 64)\ny = a @ b @ c\n",
    "bfloat16 factors": (
        "a = torch.randn(4096, 64, dtype=torch.bfloat16)\nb = torch.randn(64, 4096, dtype=torch.bfloat16)\n"
        "c = torch.randn(4096, 64, dtype=torch.bfloat16)\ny = a @ b @ c\n"
    ),
    "default dtype changed": (
        "torch.set_default_dtype(torch.float16)\na = torch.randn(4096, 64)\nb = torch.randn(64, 4096)\nc = torch.randn(4096, 64)\ny = a @ b @ c\n"
    ),
    "visible autocast": (
        "def f():\n    a = torch.randn(4096, 64)\n    b = torch.randn(64, 4096)\n    c = torch.randn(4096, 64)\n"
        "    with torch.autocast('cpu'):\n        y = a @ b @ c\n    return y\n"
    ),
}


@pytest.mark.parametrize("code", HALF_PRECISION.values(), ids=HALF_PRECISION.keys())
def test_ein106_has_no_fix_in_16_bit_floats(code: str, einlint, tmp_path: Path) -> None:
    import json

    path = tmp_path / "chain.py"
    for text, fixed in (
        (code, False),
        (
            code.replace("torch.half", "torch.float64")
            .replace("torch.bfloat16", "torch.float64")
            .replace("torch.set_default_dtype(torch.float16)\n", "")
            .replace("with torch.autocast('cpu'):", "if True:"),
            True,
        ),
    ):
        path.write_text("import torch\n" + text, encoding="utf-8")
        (finding,) = json.loads(einlint("--select", "EIN106", "--unsafe-fixes", "--no-cache", "--format", "json", str(path)).out)
        assert (finding["fix"] is not None) is fixed, finding["message"]
        if not fixed:
            assert "[no fix: the products run in 16-bit floats" in finding["message"]


@pytest.mark.parametrize(("dtype", "applicability", "assumptions"), [("", "unsafe", ["no-autocast"]), (", dtype=torch.float64", "safe", [])])
def test_ein106_is_safe_only_on_float64_factors(dtype: str, applicability: str, assumptions: list[str], einlint, tmp_path: Path) -> None:
    """A caller's autocast, which the code cannot show, runs float32 products in 16 bits (see above);
    it leaves float64 alone."""
    import json

    path = tmp_path / "chain.py"
    path.write_text(
        f"import torch\na = torch.randn(4096, 64{dtype})\nb = torch.randn(64, 4096{dtype})\nc = torch.randn(4096, 64{dtype})\ny = a @ b @ c\n",
        encoding="utf-8",
    )
    (finding,) = json.loads(einlint("--select", "EIN106", "--unsafe-fixes", "--no-cache", "--format", "json", str(path)).out)
    assert (finding["fix"]["applicability"], finding["fix"]["assumptions"]) == (applicability, assumptions)


def test_a_float16_chain_overflows_in_one_association_only() -> None:
    """Why 16-bit chains get no fix: the same products, grouped otherwise, leave float16's range."""
    a = torch.full((2, 64), 40.0, dtype=torch.float16)
    b = torch.full((64, 64), 40.0, dtype=torch.float16)
    c = torch.full((64, 2), 1.0 / 4096, dtype=torch.float16)
    written, reassociated = (a @ b) @ c, a @ (b @ c)
    assert torch.isinf(written).all() and torch.isfinite(reassociated).all()


def test_ein107_has_no_fix_under_a_visible_autocast(einlint, tmp_path: Path) -> None:
    import json

    path = tmp_path / "chain.py"
    body = (
        "def f(n):\n    a = torch.randn(n, 4)\n    b = torch.randn(4, n)\n    c = torch.randn(n, n)\n"
        "    with torch.autocast('cpu'):\n        return a.mm(b).mm(c)\n"
    )
    for text, fixed in ((body, False), (body.replace("with torch.autocast('cpu'):", "if True:"), True)):
        path.write_text("import torch\n\n\n" + text, encoding="utf-8")
        (finding,) = json.loads(einlint("--select", "EIN107", "--unsafe-fixes", "--no-cache", "--format", "json", str(path)).out)
        assert (finding["fix"] is not None) is fixed, finding["message"]
        if fixed:
            assert "no-autocast" in finding["fix"]["assumptions"]

"""Every EIN1xx rewrite, run: the original chain and its einsum on the same real tensors.

The fixes come from the rewrite fixtures (``fixtures/rewrite/EIN1xx.py``, unsafe fixes included) and
from the rules' ``invalid`` examples. For each fix, the operands of the einsum (``torch.einsum(eq, a,
b)``) are replaced by placeholders in both expressions, and tensors are built from the equation: every
label a different size, the ellipsis standing for no, one or two dimensions, batch size 1 and odd sizes,
size-1 dimensions broadcast against the other operand where the original accepts it, float32 and
float64, ``requires_grad``. Wherever the original runs, the einsum must give the same values, dtype,
shape and gradients (an unsafe fix's assumptions hold for shapes read off its own equation).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import pytest

torch = pytest.importorskip("torch")

from conftest import FIXTURES  # noqa: E402
from einlint.config import Settings  # noqa: E402
from einlint.diagnostics import Diagnostic  # noqa: E402
from einlint.engine.runner import RuleSet, lint_source  # noqa: E402
from einlint.engine.source import SourceText  # noqa: E402
from einlint.rules import all_rules  # noqa: E402
from einlint.rules.rewrite._chain_rule import ChainRule  # noqa: E402

CHAIN_RULES = tuple(rule for rule in all_rules() if issubclass(rule, ChainRule))
CHAIN_CODES = tuple(rule.code for rule in CHAIN_RULES)
TOLERANCES = {torch.float32: (1e-5, 1e-5), torch.float64: (1e-12, 1e-12)}
# Names the rewritten expressions may use for torch.einsum, by the files' import styles.
NAMESPACE = {"torch": torch, "t": torch, "einsum": torch.einsum}


@dataclass(frozen=True)
class Rewrite:
    """One fix: the original expression and its einsum, both over placeholder operands ``_op0, ...``."""

    where: str
    original: str
    rewritten: str
    equation: str
    safe: bool


def findings(path: str, text: str, code: str) -> list[Diagnostic]:
    settings = Settings(select=(code,))
    return lint_source(SourceText.from_bytes(path, text.encode("utf-8")), settings, RuleSet.for_settings(settings)).diagnostics


def rewrite_of(diagnostic: Diagnostic, text: str) -> Rewrite:
    """The fix of ``diagnostic`` (made on ``text``) as a pair of expressions over placeholders."""
    assert diagnostic.fix is not None
    edit, *deletions = diagnostic.fix.edits
    call = cst.parse_expression(edit.replacement)
    assert isinstance(call, cst.Call), edit.replacement
    module = cst.Module(body=[])
    equation = call.args[0].value
    assert isinstance(equation, cst.SimpleString)
    operands = [module.code_for_node(argument.value) for argument in call.args[1:]]
    placeholders = ", ".join(f"_op{index}" for index in range(len(operands)))
    rewritten = f"{module.code_for_node(call.func)}({equation.value}, {placeholders})"
    original = text[edit.start : edit.end]
    for deletion in deletions:
        if deletion.replacement == "=" and text[deletion.start : deletion.end] == "@=":
            # ``x @= v`` rewritten as ``x = torch.einsum(...)``: the original binds ``x @ (v)`` to x.
            target = text[text.rfind("\n", 0, deletion.start) + 1 : deletion.start].strip()
            original = f"{target} @ ({original})"
            continue
        # A folded temporary (``key_t = key.transpose(2, 3)``): the original reads it by name.
        assert deletion.replacement == "", deletion
        statement = cst.parse_statement(text[deletion.start : deletion.end].strip() + "\n")
        assign = statement.body[0]
        assert isinstance(assign, cst.Assign) and isinstance(assign.targets[0].target, cst.Name)
        original = _substitute(original, assign.targets[0].target.value, module.code_for_node(assign.value))
    original = _with_placeholders(original, operands)
    where = f"{Path(diagnostic.path).name}:{diagnostic.line}"
    return Rewrite(where, original, rewritten, equation.evaluated_value, diagnostic.fix.applicability.value == "safe")


def _substitute(expression: str, name: str, value: str) -> str:
    """``expression`` with every read of ``name`` replaced by ``(value)``."""
    replacement = cst.parse_expression(f"({value})")

    class Replace(cst.CSTTransformer):
        def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
            return replacement if original.value == name else updated

    return cst.Module(body=[]).code_for_node(cst.parse_expression(expression).visit(Replace()))


def _with_placeholders(expression: str, operands: list[str]) -> str:
    """``expression`` with the operand sub-expressions, found in evaluation order, renamed ``_opN``."""
    tree = cst.parse_expression(expression)
    module = cst.Module(body=[])

    class Replace(cst.CSTTransformer):
        def __init__(self) -> None:
            self.found: dict[int, int] = {}

        def on_visit(self, node: cst.CSTNode) -> bool:
            index = len(self.found)
            if index < len(operands) and isinstance(node, cst.BaseExpression) and module.code_for_node(node) == operands[index]:
                self.found[id(node)] = index
                return False
            return True

        def on_leave(self, original: cst.CSTNode, updated: cst.CSTNode) -> cst.CSTNode:
            index = self.found.get(id(original))
            return updated if index is None else cst.Name(f"_op{index}")

    replace = Replace()
    result = tree.visit(replace)
    assert len(replace.found) == len(operands), f"operands {operands} not all found in {expression!r}"
    return module.code_for_node(result)


def _fixture_rewrites() -> list[Rewrite]:
    rewrites = []
    for code in CHAIN_CODES:
        path = FIXTURES / "rewrite" / f"{code}.py"
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        rewrites += [rewrite_of(d, text) for d in findings(str(path), text, code) if d.fix is not None]
    return rewrites


def _example_rewrites() -> list[Rewrite]:
    rewrites = []
    for rule in CHAIN_RULES:
        for index, example in enumerate(rule.invalid):
            if example.fixed is None:
                continue
            text = f"import torch\n{example.code}\n"
            found = [d for d in findings(f"{rule.code}-example-{index}.py", text, rule.code) if d.fix is not None]
            assert found, f"{rule.code} example {index} has a `fixed` but no fix"
            rewrites += [rewrite_of(d, text) for d in found]
    return rewrites


FIXTURE_REWRITES = _fixture_rewrites()
EXAMPLE_REWRITES = _example_rewrites()


# --- shapes from an equation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """Operand shapes for one run, and what they exercise."""

    name: str
    shapes: tuple[tuple[int, ...], ...]


def _terms(equation: str) -> tuple[list[str], str]:
    inputs, output = equation.replace(" ", "").split("->")
    return inputs.split(","), output


def cases(equation: str) -> list[Case]:
    """Shapes for the operands of ``equation``: every label its own size (with variants), ellipsis
    dimensions of several counts, and size-1 dimensions that broadcast."""
    terms, _ = _terms(equation)
    labels = sorted({label for term in terms for label in term.replace("...", "")}, key=equation.index)
    ellipsis = [term.startswith("...") for term in terms]
    size_sets = {
        "distinct": [2 + index for index in range(len(labels))],
        "odd": [3 + 2 * index for index in range(len(labels))],
        "batch-1": [1] + [5 + 2 * index for index in range(len(labels) - 1)],
    }
    batch_sets: dict[str, list[tuple[int, ...]]] = {"no batch": [()] * len(terms)}
    if any(ellipsis):
        batch_sets["one batch dim"] = [(7,)] * len(terms)
        batch_sets["two batch dims"] = [(6, 7)] * len(terms)
        if sum(ellipsis) == 2:
            batch_sets["batch dims broadcast"] = [(6, 1), (1, 7)]
            batch_sets["batch ranks differ"] = [(6, 7), (7,)]
            batch_sets["batch ranks differ, other side"] = [(7,), (6, 7)]
    result = []
    for (size_name, sizes), (batch_name, batches) in itertools.product(size_sets.items(), batch_sets.items()):
        size_of = dict(zip(labels, sizes))
        shapes = tuple(
            (batches[position] if ellipsis[position] else ()) + tuple(size_of[label] for label in term.replace("...", ""))
            for position, term in enumerate(terms)
        )
        result.append(Case(f"{size_name}, {batch_name}", shapes))
    # A label shared by two operands, size 1 in one of them: batch broadcasting (or a raise).
    base = dict(zip(labels, size_sets["odd"]))
    for label in labels:
        holders = [position for position, term in enumerate(terms) if label in term]
        if len(holders) < 2:
            continue
        for position in holders:
            shapes = tuple(
                tuple(1 if (label == other and index == position) else base[other] for other in term.replace("...", "")) for index, term in enumerate(terms)
            )
            result.append(Case(f"{label} broadcast from operand {position}", shapes))
    return result


# --- running both versions -------------------------------------------------------------------------


def evaluate(expression: str, operands: list[torch.Tensor]) -> torch.Tensor:
    namespace = dict(NAMESPACE)
    namespace.update({f"_op{index}": operand for index, operand in enumerate(operands)})
    return eval(expression, namespace)  # noqa: S307 - test-generated expressions only


def make_operands(shapes, dtype: torch.dtype, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, dtype=dtype, generator=generator).requires_grad_(True) for shape in shapes]


def outcome(expression: str, operands: list[torch.Tensor]) -> tuple[torch.Tensor | None, tuple[torch.Tensor | None, ...] | None, str | None]:
    """The result, the gradients of a fixed random projection of it w.r.t. every operand, or the error."""
    fresh = [operand.detach().clone().requires_grad_(operand.requires_grad) for operand in operands]
    try:
        result = evaluate(expression, fresh)
    except (RuntimeError, ValueError, IndexError, TypeError) as error:
        return None, None, f"{type(error).__name__}: {error}"
    if not any(operand.requires_grad for operand in fresh) or not result.dtype.is_floating_point:
        return result.detach(), None, None
    weights = torch.randn(result.shape, dtype=result.dtype, generator=torch.Generator().manual_seed(1))
    gradients = torch.autograd.grad((result * weights).sum(), fresh, allow_unused=True)
    return result.detach(), gradients, None


def assert_same(original: torch.Tensor, rewritten: torch.Tensor, what: str) -> None:
    assert rewritten.dtype == original.dtype, f"{what}: dtype {rewritten.dtype} != {original.dtype}"
    assert rewritten.shape == original.shape, f"{what}: shape {tuple(rewritten.shape)} != {tuple(original.shape)}"
    rtol, atol = TOLERANCES.get(original.dtype, (0, 0))
    # Rounding grows with the magnitudes summed: an element that cancels to near zero is compared
    # with an absolute tolerance on the scale of the tensor.
    scale = max(1.0, float(original.abs().max())) if original.numel() and original.is_floating_point() else 1.0
    torch.testing.assert_close(rewritten, original, rtol=rtol, atol=atol * scale, msg=lambda message: f"{what}: {message}")


def compare(original: str, rewritten: str, operands: list[torch.Tensor], must_run: bool, what: str) -> bool:
    """Run both; False when the original raises (nothing to compare). A rewrite must then run
    (``must_run``) or may raise, but never return something else."""
    expected, expected_gradients, error = outcome(original, operands)
    if error is not None:
        return False
    actual, actual_gradients, rewritten_error = outcome(rewritten, operands)
    if rewritten_error is not None:
        assert not must_run, f"{what}: the original runs, the rewrite raises {rewritten_error}"
        return True
    assert_same(expected, actual, what)
    if expected_gradients is not None:
        assert actual_gradients is not None
        for index, (want, got) in enumerate(zip(expected_gradients, actual_gradients)):
            if want is None or got is None:
                assert want is got, f"{what}: operand {index} has a gradient in one version only"
            else:
                assert_same(want, got, f"{what}: gradient of operand {index}")
    return True


def check_rewrite(rewrite: Rewrite) -> None:
    ran = []
    for case in cases(rewrite.equation):
        for dtype in (torch.float32, torch.float64):
            operands = make_operands(case.shapes, dtype, seed=len(ran))
            what = f"{rewrite.where} {rewrite.original!r} -> {rewrite.rewritten!r} [{case.name}, {dtype}, shapes {case.shapes}]"
            # Shapes read off the rewrite's own equation satisfy every assumption of an unsafe fix.
            if compare(rewrite.original, rewrite.rewritten, operands, must_run=True, what=what):
                ran.append(case.name)
    assert any(name.endswith("no batch") for name in ran), (
        f"{rewrite.where}: the original {rewrite.original!r} raised for every shape its equation {rewrite.equation!r} implies"
    )
    assert any(name.startswith("batch-1") for name in ran), f"{rewrite.where}: never ran with a size-1 first label"


def test_every_chain_rule_fixture_has_rewrites_in_both_tiers() -> None:
    # Guards the collection: an empty list would make the parametrised tests below vanish.
    assert {rewrite.where.split(".")[0] for rewrite in FIXTURE_REWRITES} == set(CHAIN_CODES)
    assert {rewrite.safe for rewrite in FIXTURE_REWRITES} == {True, False}


@pytest.mark.parametrize("rewrite", FIXTURE_REWRITES, ids=lambda rewrite: rewrite.where)
def test_fixture_rewrite_is_equivalent(rewrite: Rewrite) -> None:
    check_rewrite(rewrite)


@pytest.mark.parametrize("rewrite", EXAMPLE_REWRITES, ids=lambda rewrite: rewrite.where)
def test_example_rewrite_is_equivalent(rewrite: Rewrite) -> None:
    check_rewrite(rewrite)


def test_broadcast_cases_run() -> None:
    """The broadcasting variants are not vacuous: matmul's batch dimensions accept a size-1 side."""
    rewrite = next(r for r in FIXTURE_REWRITES if r.equation == "bhqd,bhkd->bhqk")
    broadcast = [case for case in cases(rewrite.equation) if "broadcast from" in case.name and case.name.startswith("b ")]
    assert broadcast
    operands = make_operands(broadcast[0].shapes, torch.float64, seed=0)
    assert compare(rewrite.original, rewrite.rewritten, operands, must_run=True, what=rewrite.where)


def test_in_place_matmul_binds_a_new_tensor() -> None:
    """The rewrite of ``x @= v`` into ``x = torch.einsum(...)`` rests on torch.Tensor having no
    ``__imatmul__``: Python then binds ``x @ v`` to x and writes nothing in place, so aliases of the old x
    keep its values. A torch whose ``@=`` works in place turns this red."""
    assert not hasattr(torch.Tensor, "__imatmul__")
    x = torch.randn(3, 4)
    alias, before = x, x.clone()
    x @= torch.randn(5, 4).T
    assert x is not alias and x.shape == (3, 5) and torch.equal(alias, before)

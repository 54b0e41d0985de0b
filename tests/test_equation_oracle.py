"""The equation model against the real thing: whatever parse_equation and check_equation conclude about
an equation and the shapes of its operands, torch.einsum (and opt_einsum.contract) must agree when they
run it on tensors of those shapes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import opt_einsum
import pytest
import torch
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

# The tests run against the checkout, which is not necessarily installed.
REPOSITORY_ROOT = str(Path(__file__).resolve().parents[1])
if REPOSITORY_ROOT not in sys.path:
    sys.path.insert(0, REPOSITORY_ROOT)

from einlint.equation.checks import OperandFacts, ProblemKind, check_equation  # noqa: E402
from einlint.equation.model import ELLIPSIS, Equation, EquationSyntaxError, build_equation, parse_equation  # noqa: E402

Shape = tuple[int, ...]

# An output '...' that no input has stands for zero dimensions: torch accepts it, einlint only warns.
WARNING_KINDS = frozenset({ProblemKind.OUTPUT_ELLIPSIS_UNUSED})


def static_verdict(text: str, shapes: list[Shape]) -> str:
    """'error' when einlint concludes torch.einsum would raise for operands of ``shapes``, else 'ok'."""
    try:
        equation = parse_equation(text)
    except EquationSyntaxError:
        return "error"
    problems = check_equation(equation, len(shapes), tuple(OperandFacts(shape=shape) for shape in shapes))
    return "error" if any(problem.kind not in WARNING_KINDS for problem in problems) else "ok"


def torch_verdict(text: str, shapes: list[Shape]) -> str:
    try:
        torch.einsum(text, *[torch.zeros(shape) for shape in shapes])
    except (RuntimeError, ValueError):
        return "error"
    return "ok"


def opt_einsum_verdict(text: str, shapes: list[Shape]) -> str:
    # NumPy operands make opt_einsum contract with NumPy, so this verdict does not go through torch at all.
    try:
        opt_einsum.contract(text, *[np.zeros(shape) for shape in shapes])
    except (RuntimeError, ValueError):
        return "error"
    return "ok"


# (equation, operand shapes, what torch.einsum does with them)
ORACLE_TABLE = [
    pytest.param("ij,jk->ik", [(2, 3), (3, 4)], "ok", id="matmul"),
    pytest.param("bij,bjk->bik", [(5, 2, 3), (5, 3, 4)], "ok", id="batched-matmul"),
    pytest.param("i,j->ij", [(2,), (3,)], "ok", id="outer-product"),
    pytest.param("ij->", [(2, 3)], "ok", id="sum-to-scalar"),
    pytest.param("->", [()], "ok", id="scalar-identity"),
    pytest.param(",->", [(), ()], "ok", id="two-scalars"),
    pytest.param("ij,jk", [(2, 3), (3, 4)], "ok", id="implicit-matmul"),
    pytest.param("ba", [(2, 3)], "ok", id="implicit-transpose"),
    pytest.param("ii->i", [(3, 3)], "ok", id="diagonal"),
    pytest.param("ii", [(3, 3)], "ok", id="implicit-trace"),
    pytest.param("Ab,bC->AC", [(2, 3), (3, 4)], "ok", id="upper-case-labels"),
    pytest.param("aA->Aa", [(2, 3)], "ok", id="upper-and-lower-are-distinct"),
    pytest.param("i j , j k -> i k", [(2, 3), (3, 4)], "ok", id="spaces-between-elements"),
    pytest.param("ij,jk ->ik ", [(2, 3), (3, 4)], "ok", id="spaces-around-arrow"),
    pytest.param("...ij,...jk->...ik", [(5, 2, 3), (5, 3, 4)], "ok", id="ellipsis-batch"),
    pytest.param("...ij,...jk->...ik", [(6, 5, 2, 3), (3, 4)], "ok", id="ellipsis-of-different-ranks"),
    pytest.param("...i,...i->...i", [(2, 5, 3), (1, 5, 3)], "ok", id="ellipsis-size-1-broadcast"),
    pytest.param("i...j->j...i", [(2, 5, 3)], "ok", id="ellipsis-in-the-middle"),
    pytest.param("...->...", [(2, 3)], "ok", id="ellipsis-only"),
    pytest.param("ij->...ij", [(2, 3)], "ok", id="output-ellipsis-without-input-ellipsis"),
    pytest.param("i,i->i", [(1,), (3,)], "ok", id="label-size-1-broadcast"),
    pytest.param("i,i,i", [(1,), (3,), (3,)], "ok", id="label-size-1-broadcast-three-operands"),
    pytest.param("ii,i", [(1, 1), (3,)], "ok", id="size-1-diagonal-broadcast-against-another-operand"),
    # Characters and arrows.
    pytest.param("i1,1j->ij", [(2, 3), (3, 4)], "error", id="digit-label"),
    pytest.param("i#j", [(2, 3)], "error", id="hash-character"),
    pytest.param("ié", [(2, 3)], "error", id="non-ascii-letter"),
    pytest.param("i\tj->ij", [(2, 3)], "error", id="tab-between-labels"),
    pytest.param("i.j", [(2, 3, 4)], "error", id="lone-dot"),
    pytest.param("i..", [(2, 3)], "error", id="two-dots"),
    pytest.param(". ..i", [(2, 3)], "error", id="space-inside-ellipsis"),
    pytest.param("ij,jk- >ik", [(2, 3), (3, 4)], "error", id="space-inside-arrow"),
    pytest.param("ij>i", [(2, 3)], "error", id="arrow-without-dash"),
    pytest.param("ij-i", [(2, 3)], "error", id="arrow-without-head"),
    pytest.param("ij->i->j", [(2, 3)], "error", id="two-arrows"),
    pytest.param("ij,jk->i,k", [(2, 3), (3, 4)], "error", id="comma-in-output"),
    # Output terms.
    pytest.param("ij->k", [(2, 3)], "error", id="output-label-in-no-input"),
    pytest.param("ij->ii", [(2, 3)], "error", id="repeated-output-label"),
    pytest.param("...i...->i", [(2, 3, 4)], "error", id="two-ellipses-in-an-input"),
    pytest.param("...ij->......i", [(2, 3, 4)], "error", id="two-ellipses-in-the-output"),
    # Operands.
    pytest.param("ij,jk->ik", [(2, 3)], "error", id="too-few-operands"),
    pytest.param("ij,jk->ik", [(2, 3), (3, 4), (4, 5)], "error", id="too-many-operands"),
    pytest.param("", [], "error", id="no-operands"),
    pytest.param("ij->i", [(2, 3, 4)], "error", id="rank-too-high"),
    pytest.param("ij->i", [(2,)], "error", id="rank-too-low"),
    pytest.param("", [(2,)], "error", id="empty-term-for-a-vector"),
    pytest.param("...ijk->i", [(2, 3)], "error", id="rank-too-low-despite-ellipsis"),
    pytest.param("i,i->i", [(2,), (3,)], "error", id="label-with-two-sizes"),
    pytest.param("ij,jk->ik", [(2, 3), (4, 5)], "error", id="contracted-label-with-two-sizes"),
    pytest.param("i,i,i", [(1,), (3,), (4,)], "error", id="two-sizes-after-a-size-1-broadcast"),
    pytest.param("ii->i", [(1, 3)], "error", id="diagonal-does-not-broadcast-size-1"),
    pytest.param("iij,j", [(2, 3, 4), (4,)], "error", id="diagonal-with-two-sizes"),
    pytest.param("...i,...i->...i", [(2, 3), (4, 3)], "error", id="ellipsis-dims-that-do-not-broadcast"),
    pytest.param("...i,...i", [(2, 5, 3), (2, 3)], "error", id="ellipsis-dims-align-from-the-right"),
]


@pytest.mark.parametrize(("text", "shapes", "expected"), ORACLE_TABLE)
def test_static_verdict_matches_torch(text: str, shapes: list[Shape], expected: str) -> None:
    assert torch_verdict(text, shapes) == expected
    assert static_verdict(text, shapes) == expected


# opt_einsum deletes every space before it parses, so it reads "- >" as an arrow and ". .." as an ellipsis,
# which torch rejects; equations with whitespace are torch's grammar only. Everything else in the table,
# size-1 broadcasting included, opt_einsum treats as torch does.
OPT_EINSUM_TABLE = [case for case in ORACLE_TABLE if not any(char.isspace() for char in case.values[0])]


@pytest.mark.parametrize(("text", "shapes", "expected"), OPT_EINSUM_TABLE)
def test_opt_einsum_agrees_without_whitespace(text: str, shapes: list[Shape], expected: str) -> None:
    assert opt_einsum_verdict(text, shapes) == expected


def test_opt_einsum_reads_spaces_more_loosely_than_torch() -> None:
    # The reason for the exclusion above: if this ever fails, the whitespace cases can join the table.
    assert opt_einsum_verdict("ij,jk- >ik", [(2, 3), (3, 4)]) == "ok"
    assert torch_verdict("ij,jk- >ik", [(2, 3), (3, 4)]) == "error"


def _distinct_label_sizes(equation: Equation) -> dict[str, int]:
    letters = sorted({label for term in equation.inputs for label in term.letters})
    return {label: size for size, label in enumerate(letters, start=2)}


# (implicit equation, the output torch derives, the shape of the '...' dimensions)
IMPLICIT_TABLE = [
    ("ij,jk", "ik", ()),
    ("ba", "ab", ()),
    ("ii", "", ()),
    ("ij,ij", "", ()),
    ("iJ", "Ji", ()),
    ("zA,Ab", "bz", ()),
    ("Ba,ab", "Bb", ()),
    ("i...j", "...ij", (7,)),
    ("...ij,jk", "...ik", (7, 8)),
    ("ki...,k", "...i", (7,)),
    ("...", "...", (7, 8)),
]


@pytest.mark.parametrize(("text", "expected_output", "ellipsis_shape"), IMPLICIT_TABLE)
def test_implicit_output_matches_torch(text: str, expected_output: str, ellipsis_shape: Shape) -> None:
    equation = parse_equation(text)
    assert equation.is_implicit
    output = equation.implicit_output()
    assert output.text() == expected_output
    sizes = _distinct_label_sizes(equation)
    shapes = [_shape_of(term.labels, sizes, ellipsis_shape) for term in equation.inputs]
    result = torch.einsum(text, *[torch.zeros(shape) for shape in shapes])
    assert tuple(result.shape) == _shape_of(output.labels, sizes, ellipsis_shape)


def _shape_of(labels: tuple[str, ...], sizes: dict[str, int], ellipsis_shape: Shape) -> Shape:
    shape: list[int] = []
    for label in labels:
        shape.extend(ellipsis_shape if label == ELLIPSIS else (sizes[label],))
    return tuple(shape)


VALID_EQUATIONS = [case.values[0] for case in ORACLE_TABLE if case.values[2] == "ok"]


@pytest.mark.parametrize("text", VALID_EQUATIONS)
def test_canonical_text_parses_back_to_the_same_equation(text: str) -> None:
    equation = parse_equation(text)
    reparsed = parse_equation(equation.text())
    assert _labels(reparsed) == _labels(equation)
    assert " " not in equation.text()


@pytest.mark.parametrize(
    ("inputs", "output", "expected"),
    [
        ([["i", "j"], ["j", "k"]], ["i", "k"], "ij,jk->ik"),
        ([["b", "i", "j"]], ["b", "j", "i"], "bij->bji"),
        ([["...", "i", "j"], ["j", "k"]], ["...", "i", "k"], "...ij,jk->...ik"),
        ([["i", "i"]], [], "ii->"),
        ((("A", "b"), ("b", "C")), ("A", "C"), "Ab,bC->AC"),
        ([[], []], [], ",->"),
        ([["i"]], ["..."], "i->..."),
    ],
)
def test_build_equation(inputs: list[list[str]], output: list[str], expected: str) -> None:
    text = build_equation(inputs, output)
    assert text == expected
    assert _labels(parse_equation(text)) == (tuple(tuple(term) for term in inputs), tuple(output))


def _labels(equation: Equation) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...] | None]:
    output = equation.output.labels if equation.output is not None else None
    return tuple(term.labels for term in equation.inputs), output


# Random equations: every label has its own size, so a label read from the wrong dimension shows up as a
# size conflict or a wrong result shape.
ALPHABET = "abcdeAB"
LABEL_SIZES = {label: size for size, label in enumerate(ALPHABET, start=2)}
INVALID_INSERTIONS = ["1", "#", "_", "\t", ".", "..", "-", ">", "- >", "->", ",", "é"]
MALFORMED_ARROWS = ["- >", "-", ">", "=>", "->->", "-->"]


@st.composite
def einsum_cases(draw: st.DrawFn) -> tuple[str, list[Shape]]:
    """An equation text (sometimes malformed) and operand shapes (sometimes of the wrong rank, count or
    size) that mostly fit it."""
    terms: list[list[str]] = []
    for _ in range(draw(st.integers(1, 3))):
        labels = draw(st.lists(st.sampled_from(ALPHABET), max_size=3))
        if draw(st.integers(0, 3)) == 0:
            labels.insert(draw(st.integers(0, len(labels))), ELLIPSIS)
            if draw(st.integers(0, 15)) == 0:
                labels.insert(draw(st.integers(0, len(labels))), ELLIPSIS)
        terms.append(labels)
    output = _draw_output(draw, terms)

    tokens: list[str] = []
    for position, term in enumerate(terms):
        tokens.extend(([","] if position else []) + term)
    if output is not None:
        tokens.extend(["->"] + output)
    corruption = draw(st.integers(0, 11))
    if corruption == 0:
        tokens.insert(draw(st.integers(0, len(tokens))), draw(st.sampled_from(INVALID_INSERTIONS)))
    elif corruption == 1 and "->" in tokens:
        tokens[tokens.index("->")] = draw(st.sampled_from(MALFORMED_ARROWS))
    elif corruption == 2 and ELLIPSIS in tokens:
        tokens[tokens.index(ELLIPSIS)] = draw(st.sampled_from([". ..", "..", ".. .", "...."]))
    if draw(st.integers(0, 4)) == 0:
        text = "".join(token + draw(st.sampled_from(["", " "])) for token in tokens)
    else:
        text = "".join(tokens)

    ellipsis_shape = draw(st.lists(st.integers(2, 4), max_size=2))
    shapes = [_draw_shape(draw, term, ellipsis_shape) for term in terms]
    mutation = draw(st.integers(0, 9))
    if mutation == 0 and shapes:
        victim = draw(st.integers(0, len(shapes) - 1))
        shapes[victim] = shapes[victim][:-1] if shapes[victim] and draw(st.booleans()) else shapes[victim] + (2,)
    elif mutation == 1 and any(shapes):
        victim = draw(st.sampled_from([index for index, shape in enumerate(shapes) if shape]))
        dim = draw(st.integers(0, len(shapes[victim]) - 1))
        new_size = draw(st.sampled_from([1, 1, 2, 5, 9]))
        shapes[victim] = shapes[victim][:dim] + (new_size,) + shapes[victim][dim + 1 :]
    elif mutation == 2:
        if draw(st.booleans()):
            shapes.append(draw(st.lists(st.integers(1, 3), max_size=2).map(tuple)))
        else:
            shapes.pop(draw(st.integers(0, len(shapes) - 1)))
    return text, shapes


def _draw_output(draw: st.DrawFn, terms: list[list[str]]) -> list[str] | None:
    if draw(st.booleans()):
        return None
    used = sorted({label for term in terms for label in term if label != ELLIPSIS})
    output = draw(st.permutations(used).map(list)) if used else []
    output = output[: draw(st.integers(0, len(output)))]
    unused = [label for label in ALPHABET if label not in used]
    if unused and draw(st.integers(0, 7)) == 0:
        output.insert(draw(st.integers(0, len(output))), draw(st.sampled_from(unused)))
    if output and draw(st.integers(0, 7)) == 0:
        output.insert(draw(st.integers(0, len(output))), draw(st.sampled_from(output)))
    has_ellipsis = any(ELLIPSIS in term for term in terms)
    if draw(st.integers(0, 3 if has_ellipsis else 9)) < (3 if has_ellipsis else 1):
        output.insert(draw(st.integers(0, len(output))), ELLIPSIS)
    return output


def _draw_shape(draw: st.DrawFn, term: list[str], ellipsis_shape: list[int]) -> Shape:
    shape: list[int] = []
    for label in term:
        if label == ELLIPSIS:
            covered = ellipsis_shape[len(ellipsis_shape) - draw(st.integers(0, len(ellipsis_shape))) :]
            # A size-1 dimension under '...' broadcasts against the other operands.
            shape.extend(1 if draw(st.integers(0, 5)) == 0 else size for size in covered)
        else:
            shape.append(LABEL_SIZES[label])
    return tuple(shape)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einsum_cases())
def test_static_verdict_matches_torch_on_random_equations(case: tuple[str, list[Shape]]) -> None:
    text, shapes = case
    note(f"torch.einsum({text!r}, *shapes {shapes})")
    verdict = torch_verdict(text, shapes)
    assert static_verdict(text, shapes) == verdict
    if verdict == "error":
        return
    equation = parse_equation(text)
    operands = [torch.rand(shape, generator=torch.Generator().manual_seed(index)) for index, shape in enumerate(shapes)]
    result = torch.einsum(text, *operands)
    assert tuple(result.shape) == _expected_result_shape(equation, shapes)
    # What the rewriter relies on: the canonical spelling and the explicit form compute the same thing.
    assert _labels(parse_equation(equation.text())) == _labels(equation)
    explicit = equation.with_explicit_output()
    assert build_equation([term.labels for term in explicit.inputs], explicit.effective_output().labels) == explicit.text()
    torch.testing.assert_close(torch.einsum(explicit.text(), *operands), result)


def _expected_result_shape(equation: Equation, shapes: list[Shape]) -> Shape:
    """The result shape implied by the equation's effective output, with torch's broadcasting: a label
    takes its largest size, and the '...' dimensions broadcast right-aligned across operands."""
    label_sizes: dict[str, int] = {}
    ellipsis_shape: list[int] = []
    for term, shape in zip(equation.inputs, shapes):
        if ELLIPSIS in term.labels:
            split = term.labels.index(ELLIPSIS)
            after = len(term.labels) - split - 1
            covered = list(shape[split : len(shape) - after])
            pairs = list(zip(term.labels[:split], shape[:split])) + list(zip(term.labels[split + 1 :], shape[len(shape) - after :]))
        else:
            covered = []
            pairs = list(zip(term.labels, shape))
        for label, size in pairs:
            label_sizes[label] = max(size, label_sizes.get(label, 1))
        width = max(len(covered), len(ellipsis_shape))
        padded_known = [1] * (width - len(ellipsis_shape)) + ellipsis_shape
        padded_covered = [1] * (width - len(covered)) + covered
        ellipsis_shape = [max(known, size) for known, size in zip(padded_known, padded_covered)]
    result: list[int] = []
    for label in equation.effective_output().labels:
        result.extend(ellipsis_shape if label == ELLIPSIS else [label_sizes[label]])
    return tuple(result)

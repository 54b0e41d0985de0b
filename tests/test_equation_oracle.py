"""The equation model against the real thing: whatever parse_equation and check_equation conclude about
an equation and the shapes of its operands, torch.einsum (and opt_einsum.contract) must agree when they
run it on tensors of those shapes."""

from __future__ import annotations

import string

import numpy as np
import opt_einsum
import pytest
import torch
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from einlint.equation.checks import OperandFacts, ProblemKind, check_equation
from einlint.equation.model import ELLIPSIS, Equation, EquationSyntaxError, build_equation, parse_equation

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


# torch.einsum hands equations of three or more operands to opt_einsum's parser first, which rejects some
# with an IndexError (fewer operands than terms) or a KeyError (a ',' in the output).
REJECTIONS = (RuntimeError, ValueError, IndexError, KeyError)


def torch_verdict(text: str, shapes: list[Shape]) -> str:
    try:
        torch.einsum(text, *[torch.zeros(shape) for shape in shapes])
    except REJECTIONS:
        return "error"
    return "ok"


def opt_einsum_verdict(text: str, shapes: list[Shape]) -> str:
    # NumPy operands make opt_einsum contract with NumPy, so this verdict does not go through torch at all.
    try:
        opt_einsum.contract(text, *[np.zeros(shape) for shape in shapes])
    except REJECTIONS:
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


# opt_einsum's grammar is looser than torch's in two ways, so those cases say nothing about einlint:
# it deletes every space before parsing (it reads "- >" as an arrow and ". .." as an ellipsis), and any
# other character but ',', '.', '-' and '>' is a label to it ('1', '#', 'é', a tab). Everything else in
# the table, size-1 broadcasting included, it treats as torch does.
TORCH_CHARACTERS = frozenset(string.ascii_letters + ".,->")
OPT_EINSUM_TABLE = [case for case in ORACLE_TABLE if set(case.values[0]) <= TORCH_CHARACTERS]


@pytest.mark.parametrize(("text", "shapes", "expected"), OPT_EINSUM_TABLE)
def test_opt_einsum_agrees_on_torch_characters(text: str, shapes: list[Shape], expected: str) -> None:
    assert opt_einsum_verdict(text, shapes) == expected


@pytest.mark.parametrize(("text", "shapes"), [("ij,jk- >ik", [(2, 3), (3, 4)]), ("i1,1j->ij", [(2, 3), (3, 4)])])
def test_opt_einsum_accepts_what_torch_rejects(text: str, shapes: list[Shape]) -> None:
    # The reason for the exclusions above: if this ever fails, those cases can join the opt_einsum table.
    assert opt_einsum_verdict(text, shapes) == "ok"
    assert torch_verdict(text, shapes) == "error"


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


# Random equations. In the first property every label has its own size, so a label read from the wrong
# dimension shows up as a size conflict or a wrong result shape; in the second, sizes come from {1, 2, 3}
# so broadcasting and conflicts are dense.
ALPHABET = "abcAB"
LABEL_SIZES = {label: size for size, label in enumerate(ALPHABET, start=2)}
CONFLICTING_SIZE = max(LABEL_SIZES.values()) + 1
INVALID_INSERTIONS = ["1", "#", "_", "\t", ".", "..", "-", ">", "- >", "->", ",", "é"]
MALFORMED_ARROWS = ["- >", "-", ">", "=>", "->->", "-->"]
MALFORMED_ELLIPSES = [". ..", "..", ".. .", "...."]


@st.composite
def einsum_cases(draw: st.DrawFn, dense_sizes: bool = False) -> tuple[str, list[Shape]]:
    """An equation text and operand shapes that mostly fit it. Unless ``dense_sizes``, the text is
    sometimes malformed and the operands sometimes of the wrong rank or count."""
    terms = _draw_terms(draw)
    output = _draw_output(draw, terms)
    text = _draw_text(draw, terms, output, malformed=not dense_sizes)
    if dense_sizes:
        shapes = [_draw_dense_shape(draw, term) for term in terms]
        return text, shapes
    ellipsis_shape = draw(st.lists(st.integers(2, 4), max_size=2))
    shapes = [_draw_shape(draw, term, ellipsis_shape) for term in terms]
    mutation = draw(st.integers(0, 9))
    if mutation == 0:
        victim = draw(st.integers(0, len(shapes) - 1))
        shapes[victim] = shapes[victim][:-1] if shapes[victim] and draw(st.booleans()) else shapes[victim] + (2,)
    elif mutation == 1:
        if draw(st.booleans()):
            shapes.append(draw(st.lists(st.integers(1, 3), max_size=2).map(tuple)))
        else:
            shapes.pop(draw(st.integers(0, len(shapes) - 1)))
    return text, shapes


def _draw_terms(draw: st.DrawFn) -> list[list[str]]:
    terms: list[list[str]] = []
    # A label or an ellipsis shared by every term, as batch dimensions are, makes three-way size agreements
    # and broadcasting across several operands likely.
    shared = draw(st.sampled_from(ALPHABET)) if draw(st.booleans()) else None
    batched = draw(st.integers(0, 3)) == 0
    for _ in range(draw(st.sampled_from([1, 2, 3, 3]))):
        labels = draw(st.lists(st.sampled_from(ALPHABET), max_size=3))
        if shared is not None:
            labels.insert(draw(st.integers(0, len(labels))), shared)
        if batched or draw(st.integers(0, 5)) == 0:
            labels.insert(draw(st.integers(0, len(labels))), ELLIPSIS)
            if draw(st.integers(0, 15)) == 0:
                labels.insert(draw(st.integers(0, len(labels))), ELLIPSIS)
        terms.append(labels)
    return terms


def _draw_output(draw: st.DrawFn, terms: list[list[str]]) -> list[str] | None:
    """None (the implicit form) or an output term, sometimes with an unknown or a repeated label."""
    if draw(st.booleans()):
        return None
    used = sorted({label for term in terms for label in term if label != ELLIPSIS})
    output = draw(st.permutations(used).map(list)) if used else []
    output = output[: draw(st.integers(0, len(output)))]
    if draw(st.integers(0, 7)) == 0:
        unused = [label for label in ALPHABET + "z" if label not in used]
        output.insert(draw(st.integers(0, len(output))), draw(st.sampled_from(unused)))
    if output and draw(st.integers(0, 7)) == 0:
        output.insert(draw(st.integers(0, len(output))), draw(st.sampled_from(output)))
    has_ellipsis = any(ELLIPSIS in term for term in terms)
    if draw(st.integers(0, 3 if has_ellipsis else 9)) < (3 if has_ellipsis else 1):
        output.insert(draw(st.integers(0, len(output))), ELLIPSIS)
    return output


def _draw_text(draw: st.DrawFn, terms: list[list[str]], output: list[str] | None, malformed: bool) -> str:
    tokens: list[str] = []
    for position, term in enumerate(terms):
        tokens.extend(([","] if position else []) + term)
    if output is not None:
        tokens.extend(["->", *output])
    corruption = draw(st.integers(0, 9)) if malformed else -1
    if corruption == 0:
        tokens.insert(draw(st.integers(0, len(tokens))), draw(st.sampled_from(INVALID_INSERTIONS)))
    elif corruption == 1 and "->" in tokens:
        tokens[tokens.index("->")] = draw(st.sampled_from(MALFORMED_ARROWS))
    elif corruption == 2 and ELLIPSIS in tokens:
        tokens[tokens.index(ELLIPSIS)] = draw(st.sampled_from(MALFORMED_ELLIPSES))
    if draw(st.integers(0, 4)) > 0:
        return "".join(tokens)
    # Spaces between elements are fine; a tab in their place is not.
    gaps = st.sampled_from(["", " ", "\t"] if malformed and draw(st.integers(0, 3)) == 0 else ["", " "])
    return "".join(token + draw(gaps) for token in tokens)


def _draw_shape(draw: st.DrawFn, term: list[str], ellipsis_shape: list[int]) -> Shape:
    """The shape ``term`` describes, now and then with a size 1 (which broadcasts across operands but not
    along a diagonal) or a size no label has."""
    shape: list[int] = []
    for label in term:
        if label == ELLIPSIS:
            covered = ellipsis_shape[len(ellipsis_shape) - draw(st.integers(0, len(ellipsis_shape))) :]
            shape.extend(draw(st.sampled_from([size] * 8 + [1, size + 1])) for size in covered)
        else:
            shape.append(draw(st.sampled_from([LABEL_SIZES[label]] * 8 + [1, CONFLICTING_SIZE])))
    return tuple(shape)


def _draw_dense_shape(draw: st.DrawFn, term: list[str]) -> Shape:
    """Sizes from {1, 2, 3}, one per label of the operand (diagonals are the other property's business)."""
    sizes = {label: draw(st.sampled_from([1, 2, 3])) for label in dict.fromkeys(term) if label != ELLIPSIS}
    shape: list[int] = []
    for label in term:
        shape.extend(draw(st.lists(st.sampled_from([1, 2, 3]), max_size=2)) if label == ELLIPSIS else [sizes[label]])
    return tuple(shape)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einsum_cases())
def test_static_verdict_matches_torch_on_random_equations(case: tuple[str, list[Shape]]) -> None:
    _check_against_torch(*case)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(einsum_cases(dense_sizes=True))
def test_static_verdict_matches_torch_on_random_sizes(case: tuple[str, list[Shape]]) -> None:
    _check_against_torch(*case)


def _check_against_torch(text: str, shapes: list[Shape]) -> None:
    note(f"torch.einsum({text!r}, *[torch.rand(shape) for shape in {shapes}])")
    operands = [torch.rand(shape) for shape in shapes]
    try:
        result = torch.einsum(text, *operands)
    except REJECTIONS:
        result = None
    event(f"torch: {'ok' if result is not None else 'error'}")
    assert static_verdict(text, shapes) == ("ok" if result is not None else "error")
    if result is None:
        return
    equation = parse_equation(text)
    assert tuple(result.shape) == _expected_result_shape(equation, shapes)
    # What the rewriter relies on: the canonical spelling and the explicit form compute the same thing.
    assert _labels(parse_equation(equation.text())) == _labels(equation)
    explicit = equation.with_explicit_output()
    assert build_equation([term.labels for term in explicit.inputs], explicit.effective_output().labels) == explicit.text()
    assert torch.allclose(torch.einsum(explicit.text(), *operands), result)


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


def test_sublist_fixture_findings_are_exactly_the_calls_that_raise(einlint) -> None:
    """EIN010 against torch: every assignment of the sublist fixture runs; the flagged ones raise."""
    import ast
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "equation" / "EIN010.py"
    source = path.read_text(encoding="utf-8")
    flagged = {finding["line"] for finding in json.loads(einlint("--select", "EIN010", "--format", "json", str(path)).out)}
    namespace: dict = {"torch": torch}
    verdicts = {}
    for statement in ast.parse(source).body:
        if not isinstance(statement, ast.Assign):
            continue
        try:
            exec(compile(ast.Module([statement], []), str(path), "exec"), namespace)  # noqa: S102
            verdicts[statement.lineno] = False
        except (RuntimeError, ValueError):
            verdicts[statement.lineno] = True
    calls = {line for line in verdicts if "einsum" in source.splitlines()[line - 1]}
    assert len(calls) >= 10
    assert {line for line in calls if verdicts[line]} == flagged


@pytest.mark.parametrize(
    "literal",
    ['"ij,jk->ik"', "r'ij->ji'", "U'ij'", "'''ij,\njk'''", '"ij->i\\x6b"', "'ij\\\n,jk'", "'''ij,\r\njk'''", "rb'ij'", "'i\\u00e9'"],
)
def test_equation_literal_reads_what_python_reads(literal: str) -> None:
    """An equation string is read without evaluating it unless it holds an escape or a carriage
    return: the value and where its characters start must be Python's in every case."""
    import ast

    import libcst as cst

    from einlint.rules.einsum_calls import equation_literal

    found = equation_literal(cst.parse_expression(literal))
    value = ast.literal_eval(literal)
    if isinstance(value, bytes):
        assert found is None
        return
    assert found is not None and found.value == value
    inner = literal[len(found.node.prefix) + len(found.node.quote) : len(literal) - len(found.node.quote)]
    assert (found.value_offset is not None) == (inner == value)

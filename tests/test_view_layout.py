"""EIN203/EIN204 claim that a ``.view`` raises. These tests hold the claim against torch: random
chains of reorderings, broadcasts and new axes followed by random ``.view`` targets (and random
two-operand einsums followed by ``.view``) are linted, then run with every size a different prime. A
flagged view must raise; the fixtures' and examples' flagged views must raise; the ones einlint leaves
alone in the examples must not."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from einlint.evidence.layout import _einsum_layout

torch = pytest.importorskip("torch")

PRIMES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29)


def _flagged(einlint, tmp_path: Path, source: str, codes: str = "EIN203,EIN204") -> list[dict]:
    path = tmp_path / "case.py"
    path.write_text(source, encoding="utf-8")
    run = einlint("--select", codes, "--no-cache", "--format", "json", str(path))
    assert run.err == "", run.err
    return json.loads(run.out)


def _raises(source: str, call: str) -> bool:
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - the test's own generated code
    try:
        eval(call, namespace)  # noqa: S307
    except RuntimeError as error:
        assert "view size is not compatible" in str(error) or "shape" in str(error), error
        return True
    return False


def _view_target(draw, sizes: list[str]) -> list[str]:
    """A ``.view`` target over ``sizes``: consecutive groups, each written as a product, one of them
    perhaps replaced by -1."""
    groups: list[list[str]] = []
    for size in sizes:
        if groups and draw(st.booleans()):
            groups[-1].append(size)
        else:
            groups.append([size])
    written = [" * ".join(group) for group in groups]
    if written and draw(st.booleans()):
        written[draw(st.integers(0, len(written) - 1))] = "-1"
    return written


@st.composite
def strided_chains(draw) -> tuple[str, str]:
    """(module source defining ``f(x)``, the call that runs it): ``x`` is viewed to named sizes,
    reordered, broadcast, given new axes, and viewed again."""
    rank = draw(st.integers(2, 5))
    sizes = [f"s{index}" for index in range(rank)]
    lines = ["import torch", "", *(f"{name} = {PRIMES[index]}" for index, name in enumerate(sizes)), "", "def f(x):"]
    lines.append(f"    y = x.view({', '.join(sizes)})")
    current = list(sizes)  # size expression of each dimension, "1" for new axes
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["transpose", "permute", "unsqueeze", "expand", "contiguous"]))
        n = len(current)
        if kind == "transpose":
            first, second = draw(st.integers(-n, n - 1)), draw(st.integers(-n, n - 1))
            lines.append(f"    y = y.transpose({first}, {second})")
            first, second = first % n, second % n
            current[first], current[second] = current[second], current[first]
        elif kind == "permute":
            order = draw(st.permutations(range(n)))
            lines.append(f"    y = y.permute({', '.join(map(str, order))})")
            current = [current[source] for source in order]
        elif kind == "unsqueeze" and n < 6:
            position = draw(st.integers(0, n))
            lines.append(f"    y = y.unsqueeze({position})")
            current.insert(position, "1")
        elif kind == "expand" and "1" in current:
            position = current.index("1")
            current[position] = "3"
            lines.append(f"    y = y.expand({', '.join(current)})")
        elif kind == "contiguous":
            lines.append("    y = y.contiguous()")
    written = _view_target(draw, current)
    lines.append(f"    return y.view({', '.join(written)})")
    total = 1
    for index in range(rank):
        total *= PRIMES[index]
    return "\n".join(lines) + "\n", f"f(torch.arange({total}.0))"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=strided_chains())
def test_a_flagged_view_of_a_strided_tensor_raises(case: tuple[str, str], einlint, tmp_path: Path) -> None:
    source, call = case
    if _flagged(einlint, tmp_path, source, "EIN203"):
        assert _raises(source, call), f"EIN203 flagged a view that works:\n{source}"


@st.composite
def unknown_rank_views(draw) -> tuple[str, str]:
    """(module source defining ``f(x, b)``, a placeholder): a transpose of a tensor whose rank the code
    does not show, viewed to sizes written from ``x.size(k)``, a free ``b`` and -1."""
    first, second = draw(st.lists(st.integers(0, 3), min_size=2, max_size=2, unique=True))
    negative = draw(st.booleans())
    if negative:
        first, second = -first - 1, -second - 1
    named = range(-max(-first, -second), 0) if negative else range(max(first, second) + 1)
    pieces = st.one_of(
        st.just("b"),
        st.sampled_from(list(named)).map(lambda k: f"x.size({k})"),
        st.lists(st.sampled_from(list(named)), min_size=2, max_size=2).map(lambda ks: f"x.shape[{ks[0]}] * x.shape[{ks[1]}]"),
    )
    written = draw(st.lists(pieces, min_size=1, max_size=4))
    if draw(st.booleans()):
        written.insert(draw(st.integers(0, len(written))), "-1")
    source = f"import torch\n\n\ndef f(x, b):\n    return x.transpose({first}, {second}).view({', '.join(written)})\n"
    return source, str(len(named))


def _raises_for_every_rank(source: str, fewest: int) -> bool:
    """Does ``f`` raise for x of each rank from ``fewest`` to ``fewest + 3`` (sizes distinct primes),
    with ``b`` any divisor of x's size?"""
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102 - the test's own generated code
    for rank in range(fewest, fewest + 4):
        x = torch.randn(*PRIMES[:rank])
        numel = x.numel()
        for b in (divisor for divisor in range(1, numel + 1) if numel % divisor == 0):
            try:
                namespace["f"](x, b)
            except RuntimeError as error:
                assert "view size is not compatible" in str(error) or "shape" in str(error), error
                continue
            return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=unknown_rank_views())
def test_a_flagged_view_of_a_tensor_of_unknown_rank_raises_for_every_rank(case: tuple[str, str], einlint, tmp_path: Path) -> None:
    source, fewest = case
    if _flagged(einlint, tmp_path, source, "EIN203"):
        assert _raises_for_every_rank(source, int(fewest)), f"EIN203 flagged a view that works for some rank:\n{source}"


@st.composite
def einsum_views(draw) -> tuple[str, str]:
    labels = "abcdefg"[: draw(st.integers(2, 6))]
    left = "".join(draw(st.permutations(labels))[: draw(st.integers(1, len(labels)))])
    right = "".join(draw(st.permutations(labels))[: draw(st.integers(1, len(labels)))])
    present = sorted(set(left + right))
    output = "".join(label for label in draw(st.permutations(present)) if draw(st.booleans()))
    equation = f"{left},{right}->{output}"
    written = _view_target(draw, list(output)) or ["-1"]
    size = {label: PRIMES[index] for index, label in enumerate(labels)}
    lines = ["import torch", "", *(f"{label} = {size[label]}" for label in labels), ""]
    lines.append(f"p = torch.randn({', '.join(str(size[label]) for label in left)})")
    lines.append(f"v = torch.randn({', '.join(str(size[label]) for label in right)})")
    lines.append("")
    lines.append("def contract():")
    lines.append(f"    return torch.einsum('{equation}', p, v).view({', '.join(written)})")
    return "\n".join(lines) + "\n", "contract()"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=einsum_views())
def test_a_flagged_view_of_an_einsum_result_raises(case: tuple[str, str], einlint, tmp_path: Path) -> None:
    source, call = case
    if _flagged(einlint, tmp_path, source, "EIN204"):
        assert _raises(source, call), f"EIN204 flagged a view that works:\n{source}"


def test_torch_stores_a_two_operand_einsum_in_one_of_the_modelled_orders() -> None:
    """The layout model of evidence.layout against torch's result strides, random equations."""
    import ast

    generator = random.Random(7)
    checked = 0
    for _ in range(400):
        labels = "abcdefg"[: generator.randint(2, 7)]
        left = "".join(generator.sample(labels, generator.randint(1, len(labels))))
        right = "".join(generator.sample(labels, generator.randint(1, len(labels))))
        output = "".join(label for label in sorted(set(left + right), key=lambda _: generator.random()) if generator.random() < 0.6)
        layout = _einsum_layout(ast.parse(f"torch.einsum('{left},{right}->{output}', p, v)", mode="eval").body)  # type: ignore[arg-type]
        if layout is None:
            continue
        size = {label: PRIMES[index] for index, label in enumerate(labels)}
        result = torch.einsum(f"{left},{right}->{output}", torch.randn(*[size[c] for c in left]), torch.randn(*[size[c] for c in right]))
        by_stride = sorted(range(result.dim()), key=lambda dim: -result.stride(dim))
        stored = tuple(by_stride.index(dim) for dim in range(result.dim()))
        assert stored in layout.orders, (left, right, output, stored, layout.orders)
        checked += 1
    assert checked > 100


@pytest.mark.parametrize("code", ["EIN203", "EIN204"])
def test_fixture_findings_raise_and_the_rest_do_not(code: str, einlint, tmp_path: Path) -> None:
    """Every function in the fixture runs on tensors: the flagged ones raise, the others do not."""
    path = FIXTURES / "layout" / f"{code}.py"
    source = path.read_text(encoding="utf-8")
    run = einlint("--select", code, "--no-cache", "--format", "json", str(path))
    flagged_lines = {finding["line"] for finding in json.loads(run.out)}
    namespace: dict = {}
    exec(source, namespace)  # noqa: S102
    cases = namespace["CASES"]
    assert cases, "the fixture lists its functions and their inputs in CASES"
    for function, arguments in cases:
        lines = range(function.__code__.co_firstlineno, function.__code__.co_firstlineno + _length(source, function.__name__))
        flagged = any(line in flagged_lines for line in lines)
        try:
            function(*arguments())
            raised = False
        except RuntimeError:
            raised = True
        assert raised == flagged, f"{function.__name__}: raised={raised}, flagged={flagged}"


def _length(source: str, name: str) -> int:
    import ast

    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return (node.end_lineno or node.lineno) - node.lineno + 1
    raise AssertionError(name)


@pytest.mark.parametrize(("strategy", "code"), [(strided_chains(), "EIN203"), (einsum_views(), "EIN204")], ids=["EIN203", "EIN204"])
def test_the_generators_produce_flagged_views(strategy, code: str, einlint, tmp_path: Path) -> None:
    """The property tests above are not vacuous: their inputs include views the rules flag."""
    from hypothesis import find

    found = find(strategy, lambda case: bool(_flagged(einlint, tmp_path, case[0], code)), settings=settings(max_examples=2000, database=None))
    assert _raises(*found)


def test_the_unknown_rank_generator_produces_flagged_views(einlint, tmp_path: Path) -> None:
    from hypothesis import find

    def flagged(case: tuple[str, str]) -> bool:
        return bool(_flagged(einlint, tmp_path, case[0], "EIN203"))

    found = find(unknown_rank_views(), flagged, settings=settings(max_examples=2000, database=None))
    assert _raises_for_every_rank(found[0], int(found[1]))

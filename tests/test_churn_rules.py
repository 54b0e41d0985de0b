"""EIN3xx beyond the fixtures: the equations EIN302 lists are the ones Python builds, EIN301 counts
operands only where the call shows them, and code generators draw no EIN3 finding at all."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import FIXTURES
from einlint.rules.churn import _loops

CHURN = FIXTURES / "churn"
LISTING = re.compile(r"every iteration: (?P<listed>.*?)(?:, \.\.\. \((?P<total>\d+) in all\))?; precompute")


def _findings(einlint, path: Path, select: str) -> list[dict]:
    run = einlint("--select", select, "--no-cache", "--format", "json", str(path))
    assert run.err == "", run.err
    return json.loads(run.out)


def _lint_snippet(einlint, tmp_path: Path, code: str, select: str) -> list[dict]:
    path = tmp_path / "snippet.py"
    path.write_text("import torch\n" + code, encoding="utf-8")
    return _findings(einlint, path, select)


def _listed(message: str) -> tuple[list[str], int] | None:
    """The equations an EIN302 message lists, and how many there are in all; None when it lists none."""
    match = LISTING.search(message)
    if match is None:
        return None
    listed = ast.literal_eval(f"[{match['listed']}]")
    return listed, int(match["total"] or len(listed))


def _python_equations(source: str, line: int) -> list[str]:
    """Run what the loop around the einsum call on ``line`` runs: its iterable and the f-string equation
    (written in the call or assigned in the loop), in plain Python, and collect the distinct results."""
    tree = ast.parse(source)
    loop = next(
        node for node in ast.walk(tree)
        if isinstance(node, ast.For) and node.lineno < line <= node.end_lineno
        and not any(isinstance(inner, ast.For) and inner is not node and inner.lineno < line <= inner.end_lineno for inner in ast.walk(node))
    )  # fmt: skip
    call = next(node for node in ast.walk(loop) if isinstance(node, ast.Call) and node.lineno == line and getattr(node.func, "attr", "") == "einsum")
    equation = call.args[0]
    if isinstance(equation, ast.Name):
        equation = next(
            statement.value for statement in ast.walk(loop)
            if isinstance(statement, ast.Assign) and any(getattr(t, "id", None) == equation.id for t in statement.targets)
        )  # fmt: skip
    template = compile(ast.Expression(equation), "<equation>", "eval")
    values = eval(compile(ast.Expression(loop.iter), "<iterable>", "eval"))  # noqa: S307 - fixture code
    return list(dict.fromkeys(eval(template, {}, {loop.target.id: value}) for value in values))  # noqa: S307


# --- EIN302: the listed equations ----------------------------------------------------------------


def test_fixture_listings_match_python(einlint) -> None:
    fixture = CHURN / "EIN302.py"
    source = fixture.read_text(encoding="utf-8")
    listings = 0
    for finding in _findings(einlint, fixture, "EIN302"):
        listing = _listed(finding["message"])
        if listing is None:
            continue
        listings += 1
        listed, total = listing
        expected = _python_equations(source, finding["line"])
        assert total == len(expected), finding["message"]
        assert listed == expected[: len(listed)], finding["message"]
        assert len(listed) == min(total, 8)
    assert listings >= 4


LETTER_CHUNKS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz,", min_size=0, max_size=4)
LOOP_ITERABLES = st.one_of(
    st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=12).map(repr),
    st.integers(min_value=1, max_value=12).map(lambda n: f"range({n})"),
    st.tuples(st.integers(0, 3), st.integers(4, 12)).map(lambda bounds: f"range({bounds[0]}, {bounds[1]})"),
    st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=6).map(lambda xs: repr(tuple(xs))),
)
# Each placeholder turns the loop value into letters: the value itself, or a letter picked by it.
PLACEHOLDERS = st.sampled_from(["{v}", "{'abcdefghijklmnopqrstuvwxyz'[v]}", "{'zyxwvutsrqponmlkjihgfedcba'[v:]}", "{v!s}"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    iterable=LOOP_ITERABLES,
    pieces=st.lists(st.tuples(LETTER_CHUNKS, PLACEHOLDERS), min_size=1, max_size=3),
    tail=LETTER_CHUNKS,
)
def test_listing_matches_python_for_any_literal_loop(einlint, tmp_path: Path, iterable: str, pieces, tail: str) -> None:
    template = "".join(chunk + placeholder for chunk, placeholder in pieces) + tail + "->"
    code = f'def f(x):\n    for v in {iterable}:\n        y = torch.einsum(f"{template}", x)\n'
    values = eval(iterable)  # noqa: S307 - built above from literals
    try:
        expected = list(dict.fromkeys(eval(f'f"{template}"', {}, {"v": value}) for value in values))  # noqa: S307
    except (TypeError, IndexError):
        expected = None  # indexing a string with a letter, or past its end: nothing to list

    findings = _lint_snippet(einlint, tmp_path, code, "EIN302")

    assert len(findings) == 1
    listing = _listed(findings[0]["message"])
    if expected is None:
        assert listing is None
        return
    assert listing is not None, findings[0]["message"]
    listed, total = listing
    assert total == len(expected)
    assert listed == expected[:8]


# The same for str.format and % templates: each piece is a literal chunk and a field of the value.
FORMAT_FIELDS = st.sampled_from([("{0}", "%s"), ("{0!s}", "%s"), ("{v}", "%s"), ("{0:>2}", "%2s"), ("{v:<3}", "%-3s")])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    iterable=LOOP_ITERABLES,
    pieces=st.lists(st.tuples(LETTER_CHUNKS, FORMAT_FIELDS), min_size=1, max_size=3),
    tail=LETTER_CHUNKS,
    percent=st.booleans(),
)
def test_format_and_percent_listings_match_python(einlint, tmp_path: Path, iterable: str, pieces, tail: str, percent: bool) -> None:
    if percent:
        template = "".join(chunk + field for chunk, (_, field) in pieces) + tail + "->"
        expression = f"{template!r} % ({', '.join('v' for _ in pieces)},)"
    else:
        template = "".join(chunk + field for chunk, (field, _) in pieces) + tail + "->"
        expression = f"{template!r}.format(v, v=v)"
    code = f"def f(x):\n    for v in {iterable}:\n        y = torch.einsum({expression}, x)\n"
    values = eval(iterable)  # noqa: S307 - built above from literals
    expected = list(dict.fromkeys(eval(expression, {}, {"v": value}) for value in values))  # noqa: S307

    findings = _lint_snippet(einlint, tmp_path, code, "EIN302")

    assert len(findings) == 1
    listing = _listed(findings[0]["message"])
    assert listing is not None, findings[0]["message"]
    listed, total = listing
    assert total == len(expected)
    assert listed == expected[:8]


@pytest.mark.parametrize(
    "equation",
    [
        '"b{:99999999}->b".format(v)',
        '"b%99999999s->b" % v',
        '"b%*s->b" % (99999999, v)',
        '"b%(k)s->b" % {"k": v}',
        '"b{0:{1}}->b".format(v, 99999999)',
        '"b{0.real}->b".format(v)',
        '"b{0[0]}->b".format(str(v))',
        '("b%" + "s->b") % v',
        '"b{}->b".format(*[v])',
        '"b" + "c" * v + "->b"',
    ],
)
def test_unbounded_templates_are_not_evaluated(einlint, tmp_path: Path, equation: str) -> None:
    """Widths, attribute reads and computed templates stay unevaluated: reported, never listed."""
    code = f"def f(x):\n    for v in range(3):\n        y = torch.einsum({equation}, x)\n"
    (finding,) = _lint_snippet(einlint, tmp_path, code, "EIN302")
    assert _listed(finding["message"]) is None
    assert finding["fix"] is None


# --- EIN301: operands counted only when the call shows them --------------------------------------


@pytest.mark.parametrize(
    ("call", "count"),
    [
        ("torch.einsum('ij,jk,kl->il', a, b, c)", 3),
        ("torch.einsum('ij,jk,kl->il', [a, b, c])", 3),
        ("torch.einsum('ij,jk,kl->il', (a, b, c))", 3),
        ("torch.einsum('ij,jk,kl,lm->im', a, b, c, d)", 4),
        ("torch.einsum(equation, a, b, c)", 3),
        ("torch.einsum('ij,jk->ik', a, b)", None),
        ("torch.einsum('ij,jk->ik', [a, b])", None),
        ("torch.einsum('ij,jk,kl->il', *operands)", None),
        ("torch.einsum('ij,jk,kl->il', [a, *operands])", None),
        ("torch.einsum('ij,jk,kl->il', operands)", None),
        ("torch.einsum(equation, operands)", None),
    ],
)
def test_operand_count_only_when_known(einlint, tmp_path: Path, call: str, count: int | None) -> None:
    code = f"def f(batches, equation, operands, a, b, c, d):\n    for a in batches:\n        y = {call}\n"
    findings = _lint_snippet(einlint, tmp_path, code, "EIN301")
    if count is None:
        assert findings == []
    else:
        assert [f"with {count} operands in a loop" in finding["message"] for finding in findings] == [True]


# --- code generators -----------------------------------------------------------------------------

GENERATOR_FIXTURES = [CHURN / "codegen.py"]


@pytest.mark.parametrize("generator", GENERATOR_FIXTURES, ids=lambda path: path.name)
def test_code_generators_draw_no_churn_finding(einlint, generator: Path) -> None:
    assert _findings(einlint, generator, "EIN3") == []


@pytest.mark.parametrize("generator", GENERATOR_FIXTURES, ids=lambda path: path.name)
def test_generator_silence_comes_from_recognising_code_generation(einlint, generator: Path, monkeypatch) -> None:
    # Without the code-generation check the same file has findings: the zero above is a measurement,
    # not a file the rules would never match.
    monkeypatch.setattr(_loops, "CODE_GENERATION_WORDS", frozenset())
    codes = {finding["code"] for finding in _findings(einlint, generator, "EIN3")}
    assert {"EIN301", "EIN302"} <= codes


def _codegen_lines(fixture: Path) -> set[int]:
    """Lines of the fixture's ``codegen_*`` functions (the fixtures' name for their generator cases)."""
    tree = ast.parse(fixture.read_text(encoding="utf-8"))
    return {
        line for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("codegen") for line in range(node.lineno, node.end_lineno + 1)
    }


@pytest.mark.parametrize("code", ["EIN301", "EIN302", "EIN303"])
def test_generator_cases_in_the_rule_fixtures_stay_silent(einlint, code: str, monkeypatch) -> None:
    fixture = CHURN / f"{code}.py"
    generator_lines = _codegen_lines(fixture)
    assert generator_lines, f"{code}.py has no codegen_* case"
    assert not {finding["line"] for finding in _findings(einlint, fixture, code)} & generator_lines

    monkeypatch.setattr(_loops, "CODE_GENERATION_WORDS", frozenset())
    assert {finding["line"] for finding in _findings(einlint, fixture, code)} & generator_lines


def test_precomputed_equations_compute_the_same(tmp_path: Path, einlint) -> None:
    """EIN302's fix: every fixed function of the fixture gives bit-identical results."""
    torch = pytest.importorskip("torch")
    import runpy

    fixed = tmp_path / "EIN302.py"
    fixed.write_text((CHURN / "EIN302.py").read_text(encoding="utf-8"), encoding="utf-8")
    einlint("--fix", "--select", "EIN302", str(fixed))
    before, after = runpy.run_path(str(CHURN / "EIN302.py")), runpy.run_path(str(fixed))
    cases = {
        "strip_pooling": (torch.randn(2, 3, 4, 5),),
        "marginals": (torch.randn(3, 4, 5),),
        "many_equations": (torch.randn(2, 4), torch.randn(4, 4)),
        "formatted_marginals": (torch.randn(3, 4, 5),),
        "concatenated": (torch.randn(2, 3, 4, 5),),
    }
    changed = [name for name in cases if before[name].__code__.co_code != after[name].__code__.co_code]
    assert sorted(changed) == sorted(cases), "the fix rewrites exactly these functions"
    for name, arguments in cases.items():
        expected, actual = before[name](*arguments), after[name](*arguments)
        expected = expected if isinstance(expected, list) else [expected]
        actual = actual if isinstance(actual, list) else [actual]
        assert all(torch.equal(e, a) for e, a in zip(expected, actual, strict=True)), name


def test_multi_dot_and_reused_expressions_compute_the_same(tmp_path: Path, einlint) -> None:
    """EIN301's fixes (multi_dot for matrix chains, an opt_einsum expression built on the first
    iteration otherwise) give the same values and gradients as the einsum calls they replace, also
    when a later iteration brings other sizes than the first."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("opt_einsum")
    import runpy

    fixed = tmp_path / "EIN301.py"
    fixed.write_text((CHURN / "EIN301.py").read_text(encoding="utf-8"), encoding="utf-8")
    einlint("--fix", "--unsafe-fixes", "--select", "EIN301", str(fixed))
    before, after = runpy.run_path(str(CHURN / "EIN301.py")), runpy.run_path(str(fixed))
    generator = torch.Generator().manual_seed(0)

    def tensor(*shape: int, dtype=torch.float64):
        return torch.randn(*shape, generator=generator, dtype=dtype, requires_grad=True)

    weights = [tensor(5, 6), tensor(6, 6), tensor(5, 7)]
    cases = {
        "train": ([tensor(3, 5), tensor(4, 5)], weights[0], weights[1], 2),
        "nested": ([tensor(40, 5)], tensor(5, 6), tensor(6, 3), None),
        # the second batch has another batch size than the first, whose shapes built the expression
        "bilinear_scores": ([(tensor(3, 5), tensor(3, 7)), (tensor(6, 5), tensor(6, 7))], weights[2]),
        # draws its own float32 weights: the global generator is reseeded before each call
        "proven_matrices": ([tensor(16, dtype=torch.float32)],),
    }
    changed = [name for name in cases if before[name].__code__.co_code != after[name].__code__.co_code]
    # train and nested chain matrices of unproven rank: multi_dot would accept a 1-D end operand where
    # the einsum raises, so they keep their einsum.
    assert sorted(changed) == ["bilinear_scores", "proven_matrices"], "the fix rewrites exactly these functions"
    for name, arguments in cases.items():
        torch.manual_seed(1)
        expected = before[name](*arguments)
        torch.manual_seed(1)
        actual = after[name](*arguments)
        expected = list(expected) if isinstance(expected, (list, tuple)) else [expected]
        actual = list(actual) if isinstance(actual, (list, tuple)) else [actual]
        for value_before, value_after in zip(expected, actual, strict=True):
            assert value_before.shape == value_after.shape, name
            tolerance = {"rtol": 1e-10, "atol": 1e-12} if value_before.dtype == torch.float64 else {"rtol": 1e-5, "atol": 1e-6}
            assert torch.allclose(value_before, value_after, **tolerance), name
            grads_before = torch.autograd.grad(value_before.sum(), weights, allow_unused=True)
            grads_after = torch.autograd.grad(value_after.sum(), weights, allow_unused=True)
            for grad_before, grad_after in zip(grads_before, grads_after, strict=True):
                assert (grad_before is None) == (grad_after is None), name
                assert grad_before is None or torch.allclose(grad_before, grad_after, rtol=1e-10, atol=1e-12), name


def test_the_reused_expression_adds_no_dependency(tmp_path: Path, einlint) -> None:
    """A module that does not import opt_einsum gets no fix (a fix adds no dependency), and the
    finding says why; one that does gets the reused expression under its own alias."""
    loop = "def f(xs, a, w):\n    for x in xs:\n        y = torch.einsum('bi,bj,ij->b', a, x, w)\n    return y\n"
    path = tmp_path / "loop.py"
    path.write_text("import torch\n\n\n" + loop, encoding="utf-8")
    (finding,) = json.loads(einlint("--select", "EIN301", "--unsafe-fixes", "--no-cache", "--format", "json", str(path)).out)
    assert finding["fix"] is None and "does not import opt_einsum" in finding["message"]
    einlint("--fix", "--unsafe-fixes", "--select", "EIN301", str(path))
    assert "opt_einsum" not in path.read_text(encoding="utf-8")

    path.write_text("import opt_einsum as oe\nimport torch\n\n\n" + loop, encoding="utf-8")
    einlint("--fix", "--unsafe-fixes", "--select", "EIN301", str(path))
    text = path.read_text(encoding="utf-8")
    assert text.count("import opt_einsum") == 1 and "oe.contract_expression('bi,bj,ij->b'" in text, text
    compile(text, str(path), "exec")


@pytest.mark.parametrize(
    ("code", "tier"),
    [
        # the shapes would be read before the statement even when the branch does not run
        ("def f(xs, a, w):\n    for x in xs:\n        y = torch.einsum('bi,bj,ij->b', a, x, w) if x is not None else a\n", None),
        # the comprehension's own variable does not exist before the statement
        ("def f(xs, a, w):\n    for x in xs:\n        ys = [torch.einsum('bi,bj,ij->b', a, v, w) for v in x]\n", None),
        ("def f(xs, a, w):\n    for x in xs:\n        y = torch.einsum('bi,bj,ij->b', a, x, w)\n", None),
        # multi_dot: 2-D ranks known, but a view of an unknown value may be a tensor-like class
        (
            "def f(xs):\n    a = torch.randn(8, 8)\n    b = torch.randn(8, 4)\n    for x in xs:\n"
            "        m = x.view(2, 8)\n        y = torch.einsum('ij,jk,kl->il', m, a, b)\n",
            "unsafe",
        ),
    ],
    ids=["conditional-expression", "comprehension-variable", "plain-statement-without-opt-einsum", "view-of-unknown"],
)
def test_ein301_fix_tiers(code: str, tier: str | None, tmp_path: Path, einlint) -> None:
    path = tmp_path / "snippet.py"
    path.write_text("import torch\n" + code, encoding="utf-8")
    (finding,) = json.loads(einlint("--select", "EIN301", "--unsafe-fixes", "--no-cache", "--format", "json", str(path)).out)
    fix = finding["fix"]
    assert (fix["applicability"] if fix else None) == tier


def test_ein302_no_dict_when_a_comprehension_shadows_the_loop_variable(tmp_path: Path, einlint) -> None:
    code = "def f(x):\n    for i in range(2):\n        ys = [torch.einsum(f'b{i}->b', x) for i in 'jk']\n"
    (finding,) = _lint_snippet(einlint, tmp_path, code, "EIN302")
    assert finding["fix"] is None

"""The verifier on real tensors: it rejects rewrites that are wrong (each in a way that only one kind of
input exposes), accepts correct ones, and accepts every fix the rules' own examples make."""

from __future__ import annotations

from dataclasses import replace

import pytest

pytest.importorskip("torch")

from einlint.config import Settings  # noqa: E402
from einlint.engine.runner import RuleSet, lint_source  # noqa: E402
from einlint.engine.source import SourceText  # noqa: E402
from einlint.rules import all_rules  # noqa: E402
from einlint.verify.equivalence import check_case  # noqa: E402
from einlint.verify.inputs import InputCase  # noqa: E402
from einlint.verify.verifier import (  # noqa: E402
    AUTOCAST_DIFFERS, EQUIVALENT, NOT_EQUIVALENT, NOT_VERIFIABLE, VerifyOptions, verify_diagnostic, verify_pair,
)  # fmt: skip

# Small shapes, no timing: these tests are about verdicts, never about speed.
FAST = VerifyOptions(profiles=("tiny", "medium"), timing=False, use_cache=False)
TINY = VerifyOptions(profiles=("tiny",), timing=False, use_cache=False)
# Rules that turn an elementwise product and a sum into an einsum: under CPU autocast the einsum
# computes in bfloat16 where the product and sum stay float32, so their fixes are equivalent only
# without autocast, and the verifier says so.
AUTOCAST_SENSITIVE = {"EIN103", "EIN111"}

ATTENTION = "torch.matmul(q, k.transpose(-1, -2))"
BMM = "torch.bmm(q, k.transpose(1, 2))"
OUTER_SUM = "(x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)"
PAIRWISE = "(a.unsqueeze(1) * b.unsqueeze(0)).sum(-1)"

WRONG = [
    pytest.param(ATTENTION, "torch.einsum('...qd,...kd->...kq', q, k)", "shape", id="swapped-output-transpose"),
    pytest.param(BMM, "torch.einsum('bqd,bdk->bqk', q, k)", "raises", id="swapped-operand-transpose"),
    pytest.param(OUTER_SUM, "torch.einsum('di,dj->dij', x, y)", "shape", id="missing-sum-dimension"),
    pytest.param("(a * b).sum((-1, -2))", "torch.einsum('...ij,...ij->...i', a, b)", "shape", id="missing-one-of-two-sum-dimensions"),
    pytest.param(ATTENTION, "torch.einsum('...qd,...kd->...qk', q, k).int()", "dtype", id="int-dtype-change"),
    pytest.param(PAIRWISE, "torch.einsum('id,id->i', a, b)", "shape", id="broadcast-over-another-axis"),
    pytest.param(ATTENTION, "torch.bmm(q, k.transpose(1, 2))", "tiny/broadcast", id="batch-broadcast-lost"),
    pytest.param(BMM, "torch.einsum('bqd,bkd->bqk', q, k).squeeze(0)", "batch-1", id="wrong-only-for-batch-size-1"),
    pytest.param(BMM, "torch.einsum('bqd,bkd->bqk', q, k).reshape(2, 3, 5)", "the rewrite raises", id="rewrite-raises"),
    pytest.param(BMM, "torch.einsum('bqd,bkd->bqk', q, k.transpose(1, 2))", "raises", id="rewrite-transposes-twice"),
    pytest.param(OUTER_SUM, "torch.einsum('di,dj->ij', x, y) * 1.001", "values differ", id="values-slightly-off"),
    pytest.param("torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b)", "raises", id="contiguous-drop-loses-transpose"),
]


@pytest.mark.parametrize(("original", "rewritten", "detail"), WRONG)
def test_rejects_a_wrong_rewrite(original: str, rewritten: str, detail: str) -> None:
    result = verify_pair(original, rewritten, options=FAST)
    assert result.verdict == NOT_EQUIVALENT, result
    assert detail in result.reason


def test_a_wrong_gradient_is_caught_where_values_agree() -> None:
    # No allowlisted expression changes gradients but not values, so compare two functions directly:
    # equal values (a*3 - a*3 is exactly zero), but no gradient through the detached term.
    case = InputCase("tiny", "contiguous", ((3, 4),))
    outcome = check_case(lambda a: a * 2, lambda a: (a * 2).detach() + (a * 3 - a * 3), case, "float64", "cpu", seed=0)
    assert (outcome.status, outcome.max_error) == ("mismatch", 0.0)
    assert outcome.detail.startswith("the gradient of operand x0 differs")
    detached = check_case(lambda a: a * 2, lambda a: (a * 2).detach(), case, "float64", "cpu", seed=0)
    assert detached.detail == "no gradient flows through the rewrite"


RIGHT = [
    pytest.param(ATTENTION, "torch.einsum('...qd,...kd->...qk', q, k)", id="attention-q-kT"),
    pytest.param(BMM, "torch.einsum('bqd,bkd->bqk', q, k)", id="bmm-transposed-operand"),
    pytest.param("x @ w.T", "torch.einsum('...d,od->...o', x, w)", id="linear-x-wT"),
    pytest.param("torch.bmm(a, b).transpose(1, 2)", "torch.einsum('bid,bdj->bji', a, b)", id="transposed-result"),
    pytest.param(OUTER_SUM, "torch.einsum('di,dj->ij', x, y)", id="outer-product-sum"),
    pytest.param(PAIRWISE, "torch.einsum('id,jd->ij', a, b)", id="pairwise-dot"),
    pytest.param("(a * b).sum(-1)", "torch.einsum('...i,...i->...', a, b)", id="multiply-sum"),
    pytest.param("(x * x).sum(-1)", "torch.einsum('...i,...i->...', x, x)", id="same-operand-twice"),
    pytest.param("torch.matmul(q.permute(0, 2, 1, 3), k.permute(0, 2, 3, 1))", "torch.einsum('bqhd,bkhd->bhqk', q, k)", id="permute-fold"),
    pytest.param("torch.matmul(a, b.transpose(-1, -2).contiguous())", "torch.matmul(a, b.transpose(-1, -2))", id="contiguous-drop"),
    pytest.param(
        "torch.matmul(torch.matmul(a, b.transpose(-1, -2)), c)",
        "torch.einsum('...ij,...kj,...kl->...il', a, b, c)",
        id="three-operand-chain",
    ),
    pytest.param("torch.einsum('ij,jk', a, b)", "torch.einsum('ij,jk->ik', a, b)", id="implicit-output-made-explicit"),
]


@pytest.mark.parametrize(("original", "rewritten"), RIGHT)
def test_accepts_a_correct_rewrite(original: str, rewritten: str) -> None:
    result = verify_pair(original, rewritten, options=replace(FAST, autocast=False))
    assert result.verdict == EQUIVALENT, result.reason
    assert result.max_error is not None and result.max_error <= 1e-5
    assert result.contiguous is not None
    assert {case.dtype for case in result.cases} == {"float32", "float64"}


def test_contiguity_of_the_results_is_reported() -> None:
    result = verify_pair("torch.bmm(a, b).transpose(1, 2)", "torch.einsum('bid,bdj->bji', a, b)", options=FAST)
    assert result.contiguous == (False, True)  # a transposed view before, a fresh tensor after


def test_variants_the_original_rejects_are_skipped_with_a_note() -> None:
    result = verify_pair(BMM, "torch.einsum('bqd,bkd->bqk', q, k)", options=FAST)
    assert result.verdict == EQUIVALENT
    assert any(note.startswith("tiny/broadcast: the original rejects") for note in result.notes)


def test_an_original_that_always_raises_is_not_verifiable() -> None:
    result = verify_pair("torch.mm(a, b)", "torch.einsum('bij,bjk->bik', a, b).t()", options=FAST)
    assert result.verdict == NOT_VERIFIABLE
    assert "raises on every input" in result.reason


def test_the_allowlist_reason_reaches_the_verdict() -> None:
    result = verify_pair("os.system('ls')", "torch.einsum('ij->ji', x)", options=FAST)
    assert (result.verdict, result.reason) == (NOT_VERIFIABLE, "the call of 'os.system' is not in the allowlist of torch functions and tensor methods")


def test_a_raise_on_broadcast_sizes_counts_only_for_a_fix_that_assumes_matching_sizes() -> None:
    """einsum broadcasts a size-1 batch dimension where bmm raises: not equivalent in general; for a fix
    that names ``matching-sizes`` that raise is its assumption failing loudly."""
    original, rewritten = "torch.einsum('bqd,bkd->bqk', q, k)", "torch.bmm(q, k.transpose(-2, -1))"
    plain = verify_pair(original, rewritten, options=FAST)
    assert plain.verdict == NOT_EQUIVALENT and "raises" in plain.reason, plain
    assumed = verify_pair(original, rewritten, options=FAST, assumptions=("matching-sizes",))
    assert assumed.verdict == EQUIVALENT, assumed.reason
    assert any("assumes away" in case.detail for case in assumed.cases), assumed.cases


def _example_fixes():
    """Every fix the rules' own examples make (the rewriter's fixtures), as (id, code, rule code)."""
    for rule in all_rules():
        for index, example in enumerate(rule.invalid):
            if example.fixed is not None:
                code = example.code if "import torch" in example.code else "import torch\n" + example.code
                yield pytest.param(code, rule.code, id=f"{rule.code}-{index}")


@pytest.mark.parametrize(("code", "rule_code"), list(_example_fixes()))
def test_accepts_every_fix_of_the_rule_examples(code: str, rule_code: str) -> None:
    settings = Settings(select=(rule_code,))
    source = SourceText("example.py", code)
    diagnostics = [d for d in lint_source(source, settings, RuleSet.for_settings(settings)).diagnostics if d.fix]
    assert diagnostics, "the example no longer produces a fix"
    for diagnostic in diagnostics:
        result = verify_diagnostic(diagnostic, source.text, options=FAST).result
        assert diagnostic.fix is not None
        if any(edit.start == edit.end and edit.replacement for edit in diagnostic.fix.edits):
            # The fix adds statements (a dict of equations, a reused contraction) that the rewritten
            # expression reads: two expressions cannot show it, and the verifier must say so.
            assert result.verdict == NOT_VERIFIABLE, f"{result.original} -> {result.rewritten}: {result.verdict}"
            continue
        expected = AUTOCAST_DIFFERS if rule_code in AUTOCAST_SENSITIVE else EQUIVALENT
        assert result.verdict == expected, f"{result.original} -> {result.rewritten}: {result.reason}"


def _fixture_fixes():
    """Every fix einlint makes on its rule fixtures (unsafe ones included), one param per fixture."""
    from conftest import fixture_files

    for path in fixture_files():
        yield pytest.param(path, id=f"{path.parent.name}/{path.stem}")


@pytest.mark.parametrize("fixture", list(_fixture_fixes()))
def test_every_fix_on_the_rule_fixtures_is_verified(fixture) -> None:
    settings = Settings(select=(fixture.stem,), unsafe_fixes=True)
    source = SourceText.from_bytes(str(fixture), fixture.read_bytes())
    diagnostics = [d for d in lint_source(source, settings, RuleSet.for_settings(settings)).diagnostics if d.fix]
    results = [verify_diagnostic(d, source.text, options=TINY).result for d in diagnostics]
    wrong = [f"{r.original} -> {r.rewritten}: {r.reason}" for r in results if r.verdict == NOT_EQUIVALENT]
    assert wrong == []
    if fixture.parent.name == "rewrite":
        # The rewriter's own fixtures: every fix is run, and every one agrees.
        expected = AUTOCAST_DIFFERS if fixture.stem in AUTOCAST_SENSITIVE else EQUIVALENT
        unverified = [f"{r.original}: {r.reason}" for r in results if r.verdict != expected]
        assert unverified == []


@pytest.mark.parametrize(
    ("original", "rewritten", "verdict", "detail"),
    [
        pytest.param(BMM, "torch.einsum('bqd,bkd->bqk', q, k)", EQUIVALENT, "and on tiny under CPU autocast (bfloat16)", id="bmm-both-bf16"),
        pytest.param(
            OUTER_SUM, "torch.einsum('di,dj->ij', x, y)", AUTOCAST_DIFFERS,
            "the rewrite's result is torch.bfloat16 where the original's is torch.float32", id="sum-stays-float32",
        ),
        pytest.param(
            "torch.einsum('ij,jk->ik', a, b)", "torch.einsum('ij,jk->ik', a.double(), b.double()).float()", AUTOCAST_DIFFERS,
            "the rewrite's result is torch.float32 where the original's is torch.bfloat16", id="cast-escapes-autocast",
        ),
    ],
)  # fmt: skip
def test_autocast_is_a_context_the_verdict_covers(original: str, rewritten: str, verdict: str, detail: str) -> None:
    # float32 only: the cast through float64 is exact in float32 and not in float64.
    result = verify_pair(original, rewritten, options=replace(TINY, dtypes=("float32",)))
    assert result.verdict == verdict, result.reason
    assert detail in result.reason

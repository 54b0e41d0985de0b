"""The soundness corpus: small whole programs, each fixed by einlint (safe fixes; safe and unsafe
fixes) and run, original against fixed, on real tensors in several dtypes and contexts (plain, with
gradients, under CPU autocast). A safe fix must never change what the program computes; an unsafe fix
must be equivalent where its named assumptions hold and raise rather than differ where one fails; a
fixed file must be a fixpoint. The cases and the harness live in ``tests/soundness``; a case that fails
today is marked xfail (strict) with its family and the reason, so that the fix landing turns it red
until the mark is removed."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from soundness.cases import FAMILY_MODULES, all_cases  # noqa: E402
from soundness.harness import check_case, describe, fix_program  # noqa: E402

CASES = all_cases()


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=f"{case.family}: {case.xfail}")] if case.xfail else []
    return pytest.param(case, id=f"{case.family}/{case.name}", marks=marks)


@pytest.mark.parametrize("case", [_param(case) for case in CASES])
def test_fixed_program_behaves_like_the_original(case) -> None:
    report = check_case(case)
    assert not report.failures, describe(report) + "\n" + "\n".join(report.failures[:6])


def test_corpus_covers_every_family() -> None:
    families = {case.family for case in CASES}
    assert len(CASES) >= 150
    assert len(families) >= len(FAMILY_MODULES) - 1  # the controls share the families' names or their own


def test_harness_catches_a_changed_value() -> None:
    """The harness itself can fail: a 'fix' that swaps an operand's layout is reported."""
    from soundness.harness import Inputs, TensorSpec, Case, compare, execute, Context

    original = compile("import torch\ndef run(a, b):\n    return a @ b.transpose(-1, -2)\n", "<o>", "exec")
    broken = compile("import torch\ndef run(a, b):\n    return torch.einsum('ij,jk->ik', a, b)\n", "<b>", "exec")
    spec = Inputs((TensorSpec((3, 3)), TensorSpec((3, 3))))
    context = Context(grad=True, autocast=False)
    assert compare(execute(original, "run", spec, torch.float64, context, 1), execute(broken, "run", spec, torch.float64, context, 1), False)
    assert compare(execute(original, "run", spec, torch.float64, context, 1), execute(original, "run", spec, torch.float64, context, 1), False) is None


def test_float_dtypes_is_silent_only_for_integer_inputs() -> None:
    """A sum rewrite that assumed floats may keep an int32 dtype (documented as silent); bool and
    floating inputs are not excused: there the rewrite must raise or agree."""
    from soundness.harness import _has_integer_input, inputs, t

    assert _has_integer_input(inputs(t(2, dtype=torch.int32), t(2)), torch.float32)
    assert _has_integer_input(inputs(t(2), t(2)), torch.int64)
    assert not _has_integer_input(inputs(t(2, dtype=torch.bool), t(2, dtype=torch.bool)), torch.float32)
    assert not _has_integer_input(inputs(t(2), t(2, dtype=torch.float64)), torch.float32)


def test_harness_catches_a_changed_side_effect_and_dtype() -> None:
    from soundness.harness import Inputs, TensorSpec, compare, execute, Context

    counted = compile("EVENTS = []\ndef run(a):\n    EVENTS.append(1)\n    return a\n", "<o>", "exec")
    silent = compile("EVENTS = []\ndef run(a):\n    return a.double()\n", "<s>", "exec")
    spec = Inputs((TensorSpec((2,)),))
    context = Context(grad=False, autocast=False)
    found = compare(execute(counted, "run", spec, torch.float32, context, 1), execute(silent, "run", spec, torch.float32, context, 1), False)
    assert found is not None and "dtype" in found


def test_fix_program_reports_applied_fixes() -> None:
    source = 'import torch\n\n\ndef run(w):\n    x = torch.randn(2, 3, 4, 5)\n    return torch.einsum("bhwc,cd->bhwd", x.permute(0, 2, 3, 1), w)\n'
    fixed = fix_program(source, ("EIN201",), unsafe=False)
    assert [(fix.code, fix.applicability) for fix in fixed.applied] == [("EIN201", "safe")]
    assert "permute" not in fixed.text and fixed.refixed == fixed.text

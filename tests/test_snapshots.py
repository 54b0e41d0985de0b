"""When may EIN202 drop a ``.contiguous()``/``.clone()`` copy fed to a contraction? The copy is a
snapshot of its source: where the code may change the source in place while the contraction (or its
backward) still reads it, the copy stays and nothing is reported; where only the function's callers
could, the fix assumes ``no-inplace-after-copy``; where nothing else can reach the source, it is safe."""

from __future__ import annotations

import textwrap

import pytest

from einlint.config import KNOWN_ASSUMPTIONS, Settings
from einlint.engine.runner import RuleSet, lint_source
from einlint.engine.source import SourceText
from einlint.evidence.snapshots import NO_INPLACE_AFTER_COPY

SETTINGS = Settings(select=("EIN202",), unsafe_fixes=True)


def _tier(body: str) -> str:
    text = "import torch\n\n\ndef f(a, w, helper):\n" + textwrap.indent(textwrap.dedent(body).strip() + "\n", "    ")
    diagnostics = lint_source(SourceText.from_bytes("case.py", text.encode()), SETTINGS, RuleSet.for_settings(SETTINGS)).diagnostics
    if not diagnostics:
        return "keep"
    (diagnostic,) = diagnostics
    assert diagnostic.fix is not None
    if diagnostic.fix.applicability.value == "unsafe":
        assert NO_INPLACE_AFTER_COPY in diagnostic.fix.assumptions
    return diagnostic.fix.applicability.value


@pytest.mark.parametrize(
    ("body", "tier"),
    [
        # a parameter: a caller may change it in place before backward
        ("return a @ w.transpose(0, 1).contiguous()", "unsafe"),
        ("return torch.einsum('ij,jk->ik', a, w.transpose(0, 1).clone())", "unsafe"),
        # allocated here and read only by the copy: nothing else reaches it
        ("v = torch.randn(4, 4)\nreturn a @ v.transpose(0, 1).contiguous()", "safe"),
        # allocated here but read again: an alias may be changed later
        ("v = torch.randn(4, 4)\nkeep = v\nreturn a @ v.transpose(0, 1).contiguous(), keep", "unsafe"),
        # the code itself may change the source: the copy stays
        ("out = a @ w.transpose(0, 1).contiguous()\nw.mul_(2)\nreturn out", "keep"),
        ("alias = w\nout = a @ w.transpose(0, 1).contiguous()\nalias.add_(1)\nreturn out", "keep"),
        ("base = w.view(4, 4)\nout = a @ w.transpose(0, 1).contiguous()\nbase.zero_()\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\ntorch.Tensor.mul_(w, 2)\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\ngetattr(w, 'mul_')(2)\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\nw.data = w.data * 2\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\nw += 1\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\nw[0] = 0\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\nhelper(w)\nreturn out", "keep"),
        ("out = a @ w.transpose(0, 1).contiguous()\ntorch.nn.functional.relu(w, inplace=True)\nreturn out", "keep"),
        ("return torch.matmul(a, w.transpose(0, 1).contiguous(), out=w)", "keep"),
        ("for _ in range(2):\n    out = a @ w.transpose(0, 1).contiguous()\n    w.mul_(2)\nreturn out", "keep"),
        ("def bump():\n    w.mul_(2)\nout = a @ w.transpose(0, 1).contiguous()\nbump()\nreturn out", "keep"),
        # an operand evaluated after the copy and before the product
        ("return torch.einsum('ij,jk->ik', w.transpose(0, 1).contiguous(), w.add_(1))", "keep"),
        ("return w.transpose(0, 1).contiguous() @ helper(w)", "keep"),
        # what runs after the copy only reads: views, copies, torch functions, fresh results
        ("return torch.matmul(w.transpose(0, 1).contiguous(), a.transpose(0, 1).float())", "unsafe"),
        ("out = a @ w.transpose(0, 1).contiguous()\nprobs = torch.softmax(out, -1)\nreturn probs.sum(), w.shape", "unsafe"),
        ("fresh = w.new_zeros(4, 4)\nout = a @ w.transpose(0, 1).contiguous()\nhelper(fresh)\nreturn out", "unsafe"),
    ],
)
def test_copy_drop_tier(body: str, tier: str) -> None:
    assert _tier(body) == tier


def test_the_assumption_can_be_declared() -> None:
    assert NO_INPLACE_AFTER_COPY in KNOWN_ASSUMPTIONS
    settings = Settings(select=("EIN202",), assume=(NO_INPLACE_AFTER_COPY, "tensor-operands"))
    text = "import torch\n\n\ndef f(a, w):\n    return a @ w.transpose(0, 1).contiguous()\n"
    (diagnostic,) = lint_source(SourceText.from_bytes("case.py", text.encode()), settings, RuleSet.for_settings(settings)).diagnostics
    assert diagnostic.fix is not None and diagnostic.fix.applicability.value == "safe"

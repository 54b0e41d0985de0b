"""matmul accepts operands of different ranks (4-D @ 2-D, 2-D @ 3-D, 4-D @ 1-D); a rewrite must keep
working there or not be offered. Cases from real model code: a relative-position table (2-D) against
4-D queries, a 2-D weight against a 3-D activation, a 1-D buffer against a permuted 4-D tensor."""

from __future__ import annotations

import pytest

from einlint.config import Settings
from einlint.engine.fixer import fix_source
from einlint.engine.runner import RuleSet
from einlint.engine.source import SourceText

torch = pytest.importorskip("torch")

SETTINGS = Settings(select=("EIN1", "EIN104"), unsafe_fixes=True)  # EIN104: single transposes are opt-in


def _fixed(code: str) -> str:
    source = SourceText("t.py", code)
    return fix_source(source, SETTINGS, RuleSet.for_settings(SETTINGS), unsafe_fixes=True).text


RELATIVE_LOGITS = """import torch


def rel_logits(q, rel_k):
    B, H, W, dim = q.shape
    return q @ rel_k.transpose(-1, -2)
"""


def test_proven_rank_side_becomes_an_ellipsis_and_keeps_mixed_ranks_working() -> None:
    fixed = _fixed(RELATIVE_LOGITS)
    assert "torch.einsum(" in fixed
    namespace: dict = {}
    original: dict = {}
    exec(compile(fixed, "fixed", "exec"), namespace)  # noqa: S102 - code written by this test
    exec(compile(RELATIVE_LOGITS, "original", "exec"), original)  # noqa: S102
    q = torch.randn(2, 3, 5, 7, requires_grad=True)
    for rel_k in (torch.randn(9, 7), torch.randn(3, 9, 7), torch.randn(2, 3, 9, 7)):  # 2-D, 3-D, 4-D
        expected = original["rel_logits"](q, rel_k)
        actual = namespace["rel_logits"](q, rel_k)
        torch.testing.assert_close(actual, expected)


@pytest.mark.parametrize(
    "code",
    [
        # a 2-D weight read from a module against a 3-D activation whose rank is only assumed
        "import torch\n\ndef f(self, time_step):\n    return self.dt_proj.weight @ time_step.transpose(1, 2)\n",
        # a 1-D buffer (through a local) against a permuted 4-D tensor
        "import torch\n\ndef f(self, probs):\n    centers = self.bin_centers.to(dtype=probs.dtype)\n    return probs.permute(0, 2, 3, 1) @ centers\n",
    ],
)
def test_parameters_and_buffers_are_not_assumed_to_share_the_other_operands_rank(code: str) -> None:
    assert _fixed(code) == code

"""A module that imports no part of torch gets no torch finding: its ``@``, ``.view()`` and ``einsum``
belong to numpy or another library. The same code with ``import torch`` is flagged, so the silence
comes from the missing import and not from the patterns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

BODY = """
def f(a, b, bsz, xs):
    scores = a.permute(0, 2, 1, 3) @ b
    pooled = (a[:, :, None] * b[:, None]).sum(1)
    flat = a.permute(0, 2, 1, 3).view(bsz, -1)
    copied = a.transpose(1, 2).contiguous() @ b
    for x in xs:
        y = einsum("ij,jk,kl->il", a, b, x)
    return scores, pooled, flat, copied, y
"""


def _codes(einlint, path: Path) -> list[str]:
    run = einlint("--format", "json", str(path))
    assert run.err == "", run.err
    return sorted(finding["code"] for finding in json.loads(run.out))


@pytest.mark.parametrize(
    "header", ["import numpy as np\nfrom numpy import einsum\n", "from numpy import einsum\n", "import jax.numpy as jnp\nfrom jax.numpy import einsum\n"]
)
def test_no_torch_rule_fires_without_a_torch_import(header: str, tmp_path: Path, einlint) -> None:
    path = tmp_path / "module.py"
    path.write_text(header + BODY, encoding="utf-8")
    assert _codes(einlint, path) == []


def test_the_same_code_importing_torch_is_flagged(tmp_path: Path, einlint) -> None:
    path = tmp_path / "module.py"
    path.write_text("import torch\nfrom torch import einsum\n" + BODY, encoding="utf-8")
    assert _codes(einlint, path) == ["EIN101", "EIN202", "EIN203", "EIN301"]


def test_numpy_einsum_is_never_judged_as_torch(tmp_path: Path, einlint) -> None:
    path = tmp_path / "module.py"
    # Wrong for torch.einsum (an operand missing, a repeated output label), but this is numpy's.
    path.write_text('import numpy as np\nimport torch\n\nx = np.einsum("ij,jk->ik", a)\ny = np.einsum("ii->ii", a)\n', encoding="utf-8")
    assert _codes(einlint, path) == []


def test_a_submodule_import_counts_as_importing_torch(tmp_path: Path, einlint) -> None:
    path = tmp_path / "module.py"
    path.write_text("from torch import nn\n" + BODY, encoding="utf-8")
    assert "EIN101" in _codes(einlint, path)


EVERY_RULE = "EIN,EIN009,EIN103,EIN104,EIN105,EIN121"
EXTRA = """
def g(a, b, w, xs):
    products = (a * b).sum(-1), x @ w.T, (a @ b).transpose(1, 2), (a @ b[..., None]).squeeze(-1)
    implicit = einsum("ij,jk", a, b), einsum("ij,jk->ik", a)
    for i in "ij":
        y = einsum(f"b{i}->b", a)
    return products, implicit, y
"""


def test_no_rule_fires_in_a_module_without_imports_even_when_every_rule_is_selected(tmp_path: Path, einlint) -> None:
    path = tmp_path / "module.py"
    path.write_text(BODY + EXTRA, encoding="utf-8")
    run = einlint("--select", EVERY_RULE, "--format", "json", str(path))
    assert run.err == "", run.err
    assert json.loads(run.out) == []
    path.write_text("import torch\nfrom torch import einsum\n" + BODY + EXTRA, encoding="utf-8")
    run = einlint("--select", EVERY_RULE, "--format", "json", str(path))
    assert len({finding["code"] for finding in json.loads(run.out)}) >= 8

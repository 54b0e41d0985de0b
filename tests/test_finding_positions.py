"""A finding about a term points at the term's first label, not at the space before it: torch's own
docs write equations like ``'bn, anm, bm -> ba'``, so spaced equations are common."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # Column of the first character of the offending term (the control cases have no spaces).
        pytest.param('x = torch.einsum("ij,...j...->i", a, a)', (22, "EIN005"), id="input-term"),
        pytest.param('x = torch.einsum("i j, ...j... -> i", a, a)', (24, "EIN005"), id="spaced-input-term"),
        pytest.param('x = torch.einsum("ij->...i...", a)', (23, "EIN005"), id="output-term"),
        pytest.param('x = torch.einsum("i j -> ...i...", a)', (26, "EIN005"), id="spaced-output-term"),
        pytest.param('x = torch.einsum("ij,jkl->ik", a, a)', (22, "EIN007"), id="rank-of-second-term"),
        pytest.param('x = torch.einsum("ij, jkl -> ik", a, a)', (23, "EIN007"), id="spaced-rank-of-second-term"),
    ],
)
def test_term_finding_points_at_the_term(line: str, expected: tuple[int, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, einlint) -> None:
    col, code = expected
    monkeypatch.chdir(tmp_path)
    Path("t.py").write_text(f"import torch\na = torch.randn(2, 3)\n{line}\n", encoding="utf-8")
    run = einlint("--select", code, "t.py")
    assert [finding.split(": ")[0] for finding in run.finding_lines] == [f"t.py:3:{col}"]

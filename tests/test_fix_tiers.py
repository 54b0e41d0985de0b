"""Fix tiers are data on the fix: a safe fix is applied by --fix; an unsafe fix is shown and applied
only with --unsafe-fixes (flag or config), or becomes safe once the project declares, with
``assume``, every assumption it rests on.

The shipped rules offer only safe fixes so far, so the unsafe tier is exercised through a rule that
exists only in the tests (conftest.EinsumTranspose)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import EinsumTranspose

TRANSPOSE = """\
import torch


def f(x):
    return torch.einsum("ij->ji", x)
"""
TRANSPOSED = TRANSPOSE.replace('torch.einsum("ij->ji", x)', "x.T")
# The finding spans the call, which starts at line 5, column 12.
FINDING = "t.py:5:12: EIN990{marker} an einsum that only transposes"


@pytest.fixture
def unsafe_rule(add_rule) -> None:
    add_rule(EinsumTranspose)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.py").write_text(TRANSPOSE, encoding="utf-8")
    return tmp_path


def test_unsafe_fix_is_hidden_by_default(project: Path, unsafe_rule, einlint) -> None:
    run = einlint("t.py")
    assert run.out.splitlines() == [FINDING.format(marker=""), "Found 1 finding. 1 more fixable with --fix --unsafe-fixes."]
    assert run.exit_code == 1


def test_plain_fix_does_not_apply_an_unsafe_fix(project: Path, unsafe_rule, einlint) -> None:
    run = einlint("--fix", "t.py")
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSE
    assert run.exit_code == 1


def test_unsafe_fixes_flag_shows_the_fix(project: Path, unsafe_rule, einlint) -> None:
    run = einlint("--unsafe-fixes", "t.py")
    assert run.finding_lines == [FINDING.format(marker=" [*]")]
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSE


def test_json_hides_an_unsafe_fix_unless_asked(project: Path, unsafe_rule, einlint) -> None:
    (hidden,) = json.loads(einlint("--format", "json", "t.py").out)
    assert hidden["fix"] is None
    (shown,) = json.loads(einlint("--unsafe-fixes", "--format", "json", "t.py").out)
    edits = [{"content": "x.T", "location": {"row": 5, "column": 12}, "end_location": {"row": 5, "column": 37}}]
    assert shown["fix"] == {"applicability": "unsafe", "replacement": "x.T", "assumptions": ["tensor-operands"], "edits": edits}


def test_fix_with_unsafe_fixes_applies_it(project: Path, unsafe_rule, einlint) -> None:
    run = einlint("--fix", "--unsafe-fixes", "t.py")
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSED
    assert run.exit_code == 0


def test_diff_shows_unsafe_fixes_only_when_asked(project: Path, unsafe_rule, einlint) -> None:
    assert einlint("--diff", "t.py").out == ""
    shown = einlint("--diff", "--unsafe-fixes", "t.py").out.splitlines()
    assert '-    return torch.einsum("ij->ji", x)' in shown
    assert "+    return x.T" in shown
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSE


def test_config_unsafe_fixes(project: Path, unsafe_rule, einlint) -> None:
    (project / "pyproject.toml").write_text("[tool.einlint]\nunsafe-fixes = true\n", encoding="utf-8")
    einlint("--fix", "t.py")
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSED


def test_declared_assumption_makes_the_fix_safe(project: Path, unsafe_rule, einlint) -> None:
    (project / "pyproject.toml").write_text('[tool.einlint]\nassume = ["tensor-operands"]\n', encoding="utf-8")
    (finding,) = json.loads(einlint("--format", "json", "t.py").out)
    assert finding["fix"]["applicability"] == "safe"
    assert finding["fix"]["assumptions"] == ["tensor-operands"]
    assert [edit["content"] for edit in finding["fix"]["edits"]] == ["x.T"]
    einlint("--fix", "t.py")
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSED


def test_another_assumption_leaves_the_fix_unsafe(project: Path, unsafe_rule, einlint) -> None:
    (project / "pyproject.toml").write_text('[tool.einlint]\nassume = ["float-dtypes"]\n', encoding="utf-8")
    einlint("--fix", "t.py")
    assert (project / "t.py").read_text(encoding="utf-8") == TRANSPOSE

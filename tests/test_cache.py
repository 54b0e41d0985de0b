"""The result cache must never change what a run reports, only how fast it reports it."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import EinsumTranspose

UNKNOWN_LABEL = 'import torch\nx = torch.einsum("ij->iz", torch.randn(2, 3))\n'
CLEAN = 'import torch\nx = torch.einsum("ij->ij", torch.randn(2, 3))\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_cached_run_reports_the_same(project: Path, private_result_cache: Path, einlint) -> None:
    (project / "a.py").write_text(UNKNOWN_LABEL, encoding="utf-8")
    first = einlint("a.py")
    assert any(private_result_cache.iterdir()), "the first run wrote no cache"
    second = einlint("a.py")
    assert (second.exit_code, second.out) == (first.exit_code, first.out)
    assert first.finding_lines == ["a.py:2:24: EIN003 output label 'z' appears in no input term"]


def test_edited_file_is_linted_again(project: Path, einlint) -> None:
    path = project / "a.py"
    path.write_text(UNKNOWN_LABEL, encoding="utf-8")
    assert einlint("a.py").exit_code == 1
    path.write_text(CLEAN, encoding="utf-8")
    assert einlint("a.py").exit_code == 0


def test_other_settings_do_not_reuse_results(project: Path, einlint) -> None:
    (project / "a.py").write_text(UNKNOWN_LABEL, encoding="utf-8")
    assert einlint("a.py").exit_code == 1
    assert einlint("--ignore", "EIN003", "a.py").exit_code == 0


def test_no_cache_writes_nothing(project: Path, private_result_cache: Path, einlint) -> None:
    (project / "a.py").write_text(UNKNOWN_LABEL, encoding="utf-8")
    einlint("--no-cache", "a.py")
    assert list(private_result_cache.iterdir()) == []


def test_cache_is_invalidated_when_the_rule_set_changes(project: Path, add_rule, einlint) -> None:
    # The same einlint version with one more rule (an edited checkout, an upgrade without a version bump)
    # must not serve the results of the old rule set.
    (project / "t.py").write_text('import torch\nx = torch.einsum("ij->ji", torch.randn(2, 3))\n', encoding="utf-8")
    assert einlint("t.py").exit_code == 0
    add_rule(EinsumTranspose)
    assert einlint("t.py").finding_lines == ["t.py:2:5: EIN990 an einsum that only transposes"]

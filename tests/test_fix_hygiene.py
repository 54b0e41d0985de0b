"""What a fix leaves behind besides the rewrite itself: lines wrapped to the project's configured line
length (and no more than needed), and no import that the fix made unused. Through the real CLI; the
rewritten programs are run against torch where a fix removes an import."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import torch

from test_conventions import apply_json_edits

# A permute of three dimensions into a matmul: EIN101, an unsafe fix (einsum reads the view).
LONG_CHAIN = """\
\"\"\"Attention scores.\"\"\"

import torch


def scores(query_states_of_every_head, key_states_permuted):
    attention_scores_for_each_head = query_states_of_every_head @ key_states_permuted.permute(1, 0, 2)
    return attention_scores_for_each_head
"""
ONE_LINE = '    attention_scores_for_each_head = torch.einsum("bqd,dbk->bqk", query_states_of_every_head, key_states_permuted)\n'
HUGGED = '    attention_scores_for_each_head = torch.einsum(\n        "bqd,dbk->bqk", query_states_of_every_head, key_states_permuted\n    )\n'


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def fixed(project: Path, einlint, text: str, *flags: str, name: str = "m.py") -> str:
    path = project / name
    path.write_text(text, encoding="utf-8")
    run = einlint("--fix", "--unsafe-fixes", *flags, name)
    assert run.err == ""
    result = path.read_text(encoding="utf-8")
    ast.parse(result)
    return result


# --- wrapping ----------------------------------------------------------------------------------------


def test_a_fix_that_fits_the_default_line_length_stays_on_one_line(project: Path, einlint) -> None:
    short = LONG_CHAIN.replace("query_states_of_every_head", "q").replace("key_states_permuted", "k")
    assert '    attention_scores_for_each_head = torch.einsum("bqd,dbk->bqk", q, k)\n' in fixed(project, einlint, short)


def test_past_the_default_88_the_arguments_move_to_an_indented_line(project: Path, einlint) -> None:
    assert HUGGED in fixed(project, einlint, LONG_CHAIN)


@pytest.mark.parametrize(
    ("file_name", "config"),
    [
        ("pyproject.toml", "[tool.ruff]\nline-length = 120\n"),
        ("ruff.toml", "line-length = 120\n"),
        ("pyproject.toml", "[tool.black]\nline-length = 120\n"),
        ("setup.cfg", "[flake8]\nmax-line-length = 120\n"),
        ("pyproject.toml", "[tool.einlint]\nline-length = 120\n"),
    ],
)
def test_the_projects_configured_line_length_is_used(project: Path, einlint, file_name: str, config: str) -> None:
    (project / file_name).write_text(config, encoding="utf-8")
    assert ONE_LINE in fixed(project, einlint, LONG_CHAIN)
    assert "line-length = '120 (from " in einlint("--show-settings", "m.py").out


def test_einlints_own_line_length_wins_over_ruffs(project: Path, einlint) -> None:
    (project / "pyproject.toml").write_text("[tool.ruff]\nline-length = 120\n[tool.einlint]\nline-length = 60\n", encoding="utf-8")
    result = fixed(project, einlint, LONG_CHAIN)
    assert 'torch.einsum(\n        "bqd,dbk->bqk",\n        query_states_of_every_head,\n        key_states_permuted,\n    )\n' in result


def test_a_line_too_long_even_for_the_arguments_gets_one_argument_per_line(project: Path, einlint) -> None:
    (project / "setup.cfg").write_text("[flake8]\nmax-line-length = 50\n", encoding="utf-8")
    result = fixed(project, einlint, LONG_CHAIN)
    assert '        "bqd,dbk->bqk",\n        query_states_of_every_head,\n        key_states_permuted,\n    )\n' in result


def test_no_line_break_inside_an_f_string(project: Path, einlint) -> None:
    text = LONG_CHAIN.replace(
        "    return attention_scores_for_each_head\n", '    return f"{query_states_of_every_head @ key_states_permuted.permute(1, 0, 2)}"\n'
    )
    result = fixed(project, einlint, text)
    assert "f\"{torch.einsum('bqd,dbk->bqk', query_states_of_every_head, key_states_permuted)}\"" in result


def test_a_line_already_over_the_limit_that_the_fix_shortens_is_not_wrapped(project: Path, einlint) -> None:
    text = EINSUM_IMPORTED.replace("return einsum", "return einsum_result_long_name + einsum").replace("(a, b):", "(a, b, einsum_result_long_name):")
    text = text.replace('"ij,jk->ik", a, b)', '"ij,jk->ik", a, b)  # ' + "x" * 80)
    result = fixed(project, einlint, text, "--select", "EIN121")
    assert "    return einsum_result_long_name + torch.mm(a, b)  # xxx" in result


@pytest.mark.parametrize("value", ['"120"', "true", "5", "100000"])
def test_a_wrong_line_length_in_einlints_table_is_a_one_line_error(project: Path, einlint, value: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool.einlint]\nline-length = {value}\n", encoding="utf-8")
    (project / "m.py").write_text(LONG_CHAIN, encoding="utf-8")
    run = einlint("m.py")
    assert run.exit_code == 2
    assert len(run.err.strip().splitlines()) == 1 and "line-length" in run.err


def test_another_tools_unreadable_config_is_passed_over(project: Path, einlint) -> None:
    (project / "setup.cfg").write_text("[flake8\nmax-line-length = 120\n", encoding="utf-8")
    assert HUGGED in fixed(project, einlint, LONG_CHAIN)


# --- imports a fix leaves unused ----------------------------------------------------------------------

EINSUM_IMPORTED = """\
import torch
from torch import einsum


def product(a, b):
    return einsum("ij,jk->ik", a, b)
"""


def test_the_import_of_a_rewritten_last_use_is_removed(project: Path, einlint) -> None:
    result = fixed(project, einlint, EINSUM_IMPORTED, "--select", "EIN121")
    assert result == "import torch\n\n\ndef product(a, b):\n    return torch.mm(a, b)\n"


def test_json_edits_carry_the_import_removal(project: Path, einlint) -> None:
    (project / "m.py").write_text(EINSUM_IMPORTED, encoding="utf-8")
    findings = json.loads(einlint("--format", "json", "--unsafe-fixes", "--select", "EIN121", "m.py").out)
    assert apply_json_edits(EINSUM_IMPORTED, findings) == fixed(project, einlint, EINSUM_IMPORTED, "--select", "EIN121")


def test_only_the_unused_name_leaves_a_shared_import(project: Path, einlint) -> None:
    text = EINSUM_IMPORTED.replace("from torch import einsum\n", "from torch import einsum, nn  # both\n") + "\nlayer = nn.Linear(2, 2)\n"
    assert "from torch import nn  # both\n" in fixed(project, einlint, text, "--select", "EIN121")


@pytest.mark.parametrize(
    ("change", "name"),
    [
        (lambda text: text + "\nother = einsum\n", "m.py"),  # another use
        (lambda text: text + '\n__all__ = ["einsum", "product"]\n', "m.py"),  # re-exported by name
        (lambda text: text.replace("from torch import einsum\n", "from torch import einsum  # noqa: F401\n"), "m.py"),
        (lambda text: text, "__init__.py"),  # a package re-exports what it imports
        (lambda text: text + "\nnames = globals()\n", "m.py"),  # names read by string
        (lambda text: text + "\n\ndef other(einsum):\n    pass\n", "m.py"),  # bound twice
    ],
)
def test_an_import_that_may_still_be_read_stays(project: Path, einlint, change, name: str) -> None:
    text = change(EINSUM_IMPORTED)
    result = fixed(project, einlint, text, "--select", "EIN121", name=name)
    assert "torch.mm(a, b)" in result
    assert "from torch import einsum" in result
    assert result.count("einsum") == text.count("einsum") - 1


def test_a_fix_that_writes_the_removed_name_waits_for_the_next_round(project: Path, einlint) -> None:
    text = EINSUM_IMPORTED + ("\n\ndef mixed():\n    x = torch.randn(2, 3, 4)\n    w = torch.randn(4, 2, 5)\n    return x @ w.permute(1, 0, 2)\n")
    result = fixed(project, einlint, text, "--select", "EIN101,EIN121")
    namespace: dict = {}
    exec(compile(result, "m.py", "exec"), namespace)
    a, b = torch.randn(2, 3), torch.randn(3, 4)
    torch.testing.assert_close(namespace["product"](a, b), a @ b)
    torch.manual_seed(0)
    expected_shape = namespace["mixed"]().shape
    assert expected_shape == (2, 3, 5)
    assert "from torch import einsum" not in result and "torch.mm(a, b)" in result

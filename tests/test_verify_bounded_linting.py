"""Plain linting evaluates one kind of user code: EIN302 lists the equations an f-string of a loop
variable produces. That evaluation is bounded (format-spec numbers, iterable lengths, the length of
each equation and of the dict a fix writes), so a hostile file costs no more to lint than any other and
its fix grows the file by no more than the rewrite it shows."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from einlint.config import Settings
from einlint.engine.runner import RuleSet, lint_source
from einlint.engine.source import SourceText
from einlint.rules.churn.ein302_equation_built_in_loop import MAX_DEFINITION

SETTINGS = Settings(select=("EIN302",))


def _findings(code: str):
    source = SourceText("hostile.py", "import torch\n\n\ndef f(x):\n" + code)
    return lint_source(source, SETTINGS, RuleSet.for_settings(SETTINGS)).diagnostics


@pytest.mark.parametrize(
    "loop",
    [
        pytest.param("    for i in range(8):\n        y = torch.einsum(f'b{i:>50000000}->b', x)\n", id="huge-width"),
        pytest.param("    for i in range(8):\n        y = torch.einsum(f'b{i:.50000000f}->b', x)\n", id="huge-precision"),
        pytest.param("    for i in range(8):\n        y = torch.einsum(f'b{i:{\">50000000\"}}->b', x)\n", id="computed-spec"),
        pytest.param("    for i in range(1000000000000000000):\n        y = torch.einsum(f'b{i}->b', x)\n", id="huge-range"),
        pytest.param("    for i in range(0, 10, 0):\n        y = torch.einsum(f'b{i}->b', x)\n", id="zero-step"),
        pytest.param(f"    for i in '{'ab' * 5000}':\n        y = torch.einsum(f'b{{i}}->b', x)\n", id="long-string"),
        pytest.param(f"    for i in ({'1, ' * 5000}):\n        y = torch.einsum(f'b{{i}}->b', x)\n", id="long-tuple"),
        pytest.param(f"    for i in 'ab':\n        y = torch.einsum(f'{'b' * 500}{{i}}->b', x)\n", id="long-equation"),
    ],
)  # fmt: skip
def test_hostile_f_strings_are_flagged_but_not_evaluated_into_the_finding(loop: str) -> None:
    started = time.perf_counter()
    (finding,) = _findings(loop)
    assert time.perf_counter() - started < 5  # generous; unbounded, the huge width alone took seconds and GBs
    assert finding.code == "EIN302" and finding.fix is None
    assert len(finding.message) < 200, finding.message[:300]


def test_a_small_f_string_is_still_listed_and_fixed() -> None:
    (finding,) = _findings("    for i in range(3):\n        y = torch.einsum(f'b{i:>2}->b', x)\n")
    assert "'b 0->b', 'b 1->b', 'b 2->b'" in finding.message
    assert finding.fix is not None


def test_a_fix_grows_a_file_by_no_more_than_its_dict(tmp_path: Path, einlint) -> None:
    values = ", ".join(f"'{chr(97 + index % 26)}{index}'" for index in range(64))
    body = f"    for i in ({values}):\n        y = torch.einsum(f'{'c' * 100}{{i}}->c', x)\n"
    path = tmp_path / "wide.py"
    original = "import torch\n\n\ndef f(x):\n" + body
    path.write_text(original, encoding="utf-8")
    einlint("--fix", "--select", "EIN302", str(path))
    grown = len(path.read_text(encoding="utf-8")) - len(original)
    assert grown <= MAX_DEFINITION  # 64 equations of ~105 characters would be ~7 KB: no fix is offered
    assert grown == 0

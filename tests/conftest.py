"""Shared test helpers: the checkout's paths, the CLI run in-process, and a result cache that never
outlives a test."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
# The tests run against the checkout, which is not necessarily installed.
if str(REPOSITORY_ROOT) not in sys.path:
    sys.path.insert(0, str(REPOSITORY_ROOT))

from einlint.cli import main  # noqa: E402
from einlint.diagnostics import Applicability  # noqa: E402
from einlint.rules.base import FixProposal, Rule, Triggers, VerificationTarget  # noqa: E402

FIXTURES = REPOSITORY_ROOT / "fixtures"
# One fixture per rule, named after its code; EIN006.out.py and the like are expected outputs, not cases.
FIXTURE_NAME = re.compile(r"EIN\d{3}\.py")


def fixture_files() -> list[Path]:
    """Every rule fixture, in every family folder (equation/, rewrite/, layout/, churn/, ...)."""
    return sorted(path for path in FIXTURES.rglob("EIN*.py") if FIXTURE_NAME.fullmatch(path.name))


@dataclass(frozen=True)
class CliRun:
    exit_code: int
    out: str
    err: str

    @property
    def finding_lines(self) -> list[str]:
        """The ``path:line:col: CODE ...`` lines of a text report, without the summary."""
        return [line for line in self.out.splitlines() if re.match(r"[^\s:][^:]*:\d+:\d+: EIN\d{3}", line)]


@pytest.fixture(autouse=True)
def private_result_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own cache directory: no test sees results another test (or the user) cached."""
    directory = tmp_path_factory.mktemp("einlint-cache")
    monkeypatch.setenv("EINLINT_CACHE_DIR", str(directory))
    return directory


@pytest.fixture
def einlint(capsys: pytest.CaptureFixture[str]):
    """Run ``einlint ARGS...`` in this process and return its exit code, stdout and stderr."""

    def run(*args: str) -> CliRun:
        capsys.readouterr()
        exit_code = main(list(args))
        out, err = capsys.readouterr()
        return CliRun(exit_code, out, err)

    return run


class EinsumTranspose(Rule):
    """Test-only: ``torch.einsum("ij->ji", x)`` -> ``x.T``, an unsafe fix (``x`` might not be a tensor).
    The shipped rules offer only safe fixes so far; this one exercises the unsafe tier."""

    code = "EIN990"
    name = "test-only-einsum-transpose"
    triggers = Triggers(names=frozenset({"einsum"}))

    def visit_Call(self, node: cst.Call) -> None:
        if self.context.qualified_name(node.func) != "torch.einsum" or len(node.args) != 2:
            return
        equation = node.args[0].value
        if isinstance(equation, cst.SimpleString) and equation.evaluated_value == "ij->ji":
            operand = self.context.unit.code_for(node.args[1].value)
            fix = FixProposal(node, f"{operand}.T", Applicability.UNSAFE, ("tensor-operands",), target=VerificationTarget("the einsum call", node))
            self.report(node, "an einsum that only transposes", fix)


@pytest.fixture
def add_rule(monkeypatch: pytest.MonkeyPatch) -> Callable[[type[Rule]], None]:
    """Make the engine run one more rule from now until the end of the test."""
    from einlint.engine import driver, runner

    def add(rule: type[Rule]) -> None:
        current = runner.available_rules()
        monkeypatch.setattr(runner, "available_rules", lambda: (*current, rule))
        driver._rule_set.cache_clear()

    yield add
    driver._rule_set.cache_clear()

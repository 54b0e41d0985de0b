"""The layers import downwards only: the engine never imports the rules (the types both use live in
``einlint.rule_protocol``, and the engine finds the rules at run time), the protocol imports neither,
and the chain algebra (``einlint.rewrite``) needs neither the engine nor the rules: it asks a narrow
oracle what it needs to know about the code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from conftest import REPOSITORY_ROOT
from einlint.evidence.operands import UNKNOWN, OperandEvidence
from einlint.rewrite.analyzer import ChainOracle, analyze
from einlint.rewrite.emit import equation_for

PACKAGE = REPOSITORY_ROOT / "einlint"


def runtime_imports(path: Path) -> set[str]:
    """The einlint modules ``path`` imports when it runs, anywhere in the file (imports inside
    functions included), leaving out ``if TYPE_CHECKING:`` blocks, which only type checkers read."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    checking_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            checking_only.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    found = set()
    for node in ast.walk(tree):
        if id(node) in checking_only:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "einlint" or name.startswith("einlint.")}


def _modules(folder: str) -> list[Path]:
    return sorted((PACKAGE / folder).rglob("*.py"))


@pytest.mark.parametrize("path", _modules("engine"), ids=lambda path: path.name)
def test_the_engine_does_not_import_the_rules(path: Path) -> None:
    assert not {name for name in runtime_imports(path) if name.startswith("einlint.rules")}


@pytest.mark.parametrize("path", _modules("rewrite"), ids=lambda path: path.name)
def test_the_chain_algebra_imports_neither_the_engine_nor_the_rules(path: Path) -> None:
    assert not {name for name in runtime_imports(path) if name.startswith(("einlint.engine", "einlint.rules"))}


def test_the_rule_protocol_imports_neither_layer() -> None:
    imported = runtime_imports(PACKAGE / "rule_protocol.py")
    assert not {name for name in imported if name.startswith(("einlint.engine", "einlint.rules"))}


def test_importing_the_engine_does_not_import_the_rules() -> None:
    script = (
        "import sys\n"
        "import einlint.rule_protocol\n"
        "import einlint.engine.runner, einlint.engine.driver, einlint.engine.context, einlint.engine.candidates\n"
        "print(sorted(m for m in sys.modules if m.startswith('einlint.rules')))\n"
        "from einlint.rule_protocol import available_rules\n"
        "print(len(available_rules()) > 10)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n")[:2] == ["[]", "True"]


class _Oracle:
    """Everything the chain algebra may ask, answered from a table: no engine, no file."""

    def __init__(self, ranks: dict[str, int]) -> None:
        self.ranks = ranks

    def qualified_name(self, node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "torch":
            return f"torch.{node.attr.value}"
        return None

    def foldable_temporary(self, name: str) -> None:
        return None

    def operand_evidence(self, node: cst.CSTNode) -> OperandEvidence:
        if isinstance(node, cst.Name) and node.value in self.ranks:
            return OperandEvidence(is_tensor=True, rank=self.ranks[node.value], is_float=True)
        return UNKNOWN

    def derives_from_attribute(self, name: str) -> bool:
        return False

    def written(self, node: cst.CSTNode) -> str:
        return cst.Module([]).code_for_node(node)


def test_the_chain_algebra_runs_on_a_narrow_oracle() -> None:
    oracle: ChainOracle = _Oracle({"q": 3, "k": 3})
    chain = analyze(cst.parse_expression("torch.bmm(q, k.transpose(1, 2))"), oracle)
    assert [leaf.shown for leaf in chain.leaves] == ["q", "k"]
    assert equation_for(chain) == "bqd,bkd->bqk"

"""The ``torch.einsum`` calls of a file, as ``einlint observe`` records them and the rules that report
only from observations (``observed_only``) read them: the call's position, its equation, its
operands (each with the name and attributes the recorder reads it by), and its statement, whose key
ties it to the observations. No torch here.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import dotted_name
from einlint.observe.sites import Operand, Statement, find_statement, operand_access, source_lines


@dataclass(frozen=True)
class EinsumCall:
    """One ``torch.einsum(equation, *operands)`` call and the statement it is in."""

    line: int
    col: int  # 0-based character offset, as in a Diagnostic
    end_line: int
    end_col: int
    equation: str | None  # None when it is not a literal string
    operands: tuple[Operand, ...]  # ``labels`` is None: these are read, not rewritten
    statement: Statement


def einsum_calls(text: str, tree: ast.Module | None = None) -> list[EinsumCall]:
    """Every ``torch.einsum`` call (under any import alias) whose statement the recorder can watch."""
    if "einsum" not in text:
        return []
    if tree is None:
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return []
    imports = ImportTable.from_module(tree)
    lines = source_lines(text)
    calls = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args or any(isinstance(argument, ast.Starred) for argument in node.args):
            continue
        dotted = dotted_name(node.func)
        if dotted is None or not dotted.endswith("einsum") or imports.qualify(dotted) != "torch.einsum":
            continue
        statement = find_statement(tree, lines, node.lineno)
        if statement is None or (node.end_lineno or node.lineno) > statement.end_line:
            continue
        first, rest = node.args[0], node.args[1:]
        equation = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
        if len(rest) == 1 and isinstance(rest[0], (ast.List, ast.Tuple)):
            rest = rest[0].elts  # torch.einsum(equation, [a, b, c])
        operands = tuple(
            Operand(ast.get_source_segment(text, argument) or "", operand_access(argument, statement.bound_inside), None) for argument in rest
        )  # fmt: skip
        end_line = node.end_lineno or node.lineno
        calls.append(
            EinsumCall(
                node.lineno, _characters(lines, node.lineno, node.col_offset), end_line,
                _characters(lines, end_line, node.end_col_offset or 0), equation, operands, statement,
            )
        )  # fmt: skip
    return sorted(calls, key=lambda call: (call.line, call.col))


def _characters(lines: list[str], line: int, utf8_column: int) -> int:
    row = lines[line - 1] if 0 < line <= len(lines) else ""
    return utf8_column if row.isascii() else len(row.encode("utf-8")[:utf8_column].decode("utf-8", errors="ignore"))

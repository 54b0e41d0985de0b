"""Locate the code the rules could match, without parsing everything with libcst.

Three cheap stages: a regex over the text keeps only the lines that mention a trigger word, a descent
through the ``ast`` statement tree (never its expressions) finds the innermost statement around each such
line, and a walk over that one statement checks that the trigger occurs as code (not in a comment or a
string). Only the statements that pass are parsed by libcst.
"""

from __future__ import annotations

import ast
import bisect
import re
from dataclasses import dataclass

from einlint.rules.base import Triggers

_COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
    ast.With, ast.AsyncWith, ast.Try, ast.Match,
)  # fmt: skip
if hasattr(ast, "TryStar"):
    _COMPOUND += (ast.TryStar,)


@dataclass(frozen=True)
class Candidate:
    """A simple statement, or an expression in a compound statement's header, that may match a rule."""

    node: ast.AST  # an ast.stmt (simple) or an ast.expr (header part)
    ancestors: tuple[ast.AST, ...]  # enclosing compound statements, outermost first
    is_statement: bool


def trigger_pattern(triggers: Triggers) -> re.Pattern[str]:
    """One regex for the trigger words of all selected rules. ``@`` as an operator is matched when
    something other than indentation precedes it on its line, or a space or bracket follows it: a
    decorator (``@name`` at the start of a line) is not a matrix product."""
    parts = []
    if triggers.names:
        parts.append(r"\b(?:" + "|".join(sorted(map(re.escape, triggers.names))) + r")\b")
    if triggers.matmul_operator:
        parts.append(r"[^\s@][ \t]*@(?![=\w])|[^\s@][ \t]*@\w|^[ \t]*@[ \t(\[]")
    return re.compile("|".join(parts) if parts else r"(?!x)x", re.MULTILINE)


def hit_lines(text: str, pattern: re.Pattern[str], line_starts: list[int]) -> list[int]:
    lines: list[int] = []
    for match in pattern.finditer(text):
        line = bisect.bisect_right(line_starts, match.start())
        if not lines or lines[-1] != line:
            lines.append(line)
    return lines


def find_candidates(tree: ast.Module, lines: list[int], triggers: Triggers) -> list[Candidate]:
    found: list[Candidate] = []
    _descend(tree.body, lines, (), triggers, found)
    return found


def _any_line_within(lines: list[int], first: int, last: int) -> bool:
    index = bisect.bisect_left(lines, first)
    return index < len(lines) and lines[index] <= last


def _descend(body: list[ast.stmt], lines: list[int], ancestors: tuple[ast.AST, ...], triggers: Triggers, found: list[Candidate]) -> None:
    for statement in body:
        if not _any_line_within(lines, statement.lineno, statement.end_lineno or statement.lineno):
            continue
        if isinstance(statement, _COMPOUND):
            inner = ancestors + (statement,)
            for header in _header_expressions(statement):
                if _any_line_within(lines, header.lineno, header.end_lineno or header.lineno) and _mentions(header, triggers):
                    found.append(Candidate(header, inner, is_statement=False))
            for child_body in _child_bodies(statement):
                _descend(child_body, lines, inner, triggers, found)
        elif _mentions(statement, triggers):
            found.append(Candidate(statement, ancestors, is_statement=True))


def _header_expressions(statement: ast.stmt) -> list[ast.expr]:
    if isinstance(statement, (ast.If, ast.While)):
        return [statement.test]
    if isinstance(statement, (ast.For, ast.AsyncFor)):
        return [statement.iter]
    if isinstance(statement, (ast.With, ast.AsyncWith)):
        return [item.context_expr for item in statement.items]
    if isinstance(statement, ast.Match):
        return [statement.subject]
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        arguments = statement.args
        return [*statement.decorator_list, *arguments.defaults, *(d for d in arguments.kw_defaults if d is not None)]
    if isinstance(statement, ast.ClassDef):
        return [*statement.decorator_list, *statement.bases]
    return []


def _child_bodies(statement: ast.stmt) -> list[list[ast.stmt]]:
    bodies = [getattr(statement, name) for name in ("body", "orelse", "finalbody") if getattr(statement, name, None)]
    bodies.extend(handler.body for handler in getattr(statement, "handlers", ()))
    bodies.extend(case.body for case in getattr(statement, "cases", ()))
    return bodies


def _mentions(node: ast.AST, triggers: Triggers) -> bool:
    names = triggers.names
    for child in ast.walk(node):
        if isinstance(child, ast.Attribute):
            if child.attr in names:
                return True
        elif isinstance(child, ast.Name):
            if child.id in names:
                return True
        elif isinstance(child, ast.BinOp):
            if triggers.matmul_operator and isinstance(child.op, ast.MatMult):
                return True
    return False

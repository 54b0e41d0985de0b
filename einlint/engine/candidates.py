"""Locate the code the rules could match, without parsing everything with libcst.

Three cheap stages: a regex over the text keeps only the lines that mention a trigger word, a descent
through the ``ast`` statement tree (never its expressions) finds the innermost statement around each such
line, and a walk over that one statement checks that the trigger occurs as code (not in a comment or a
string). Only the statements that pass are parsed by libcst.
"""

from __future__ import annotations

import ast
import bisect
from collections.abc import Callable
from dataclasses import dataclass

from einlint.evidence.syntax_walk import code_nodes
from einlint.rule_protocol import Triggers

_COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
    ast.With, ast.AsyncWith, ast.Try, ast.Match,
)  # fmt: skip
if hasattr(ast, "TryStar"):
    _COMPOUND += (ast.TryStar,)


@dataclass(frozen=True)
class Words:
    """What a statement mentions as code: names and attribute names, and its operators of interest."""

    names: frozenset[str]
    has_matmul: bool
    has_multiply: bool


@dataclass(frozen=True)
class Candidate:
    """A simple statement, or an expression in a compound statement's header, that may match a rule."""

    node: ast.AST  # an ast.stmt (simple) or an ast.expr (header part)
    ancestors: tuple[ast.AST, ...]  # enclosing compound statements, outermost first
    is_statement: bool
    words: Words


def trigger_pattern(triggers: Triggers) -> TriggerScanner:
    return TriggerScanner(triggers)


class TriggerScanner:
    """Finds the lines that mention a trigger word or use ``@`` as an operator.

    Plain ``str.find`` per word with a word-boundary check: far faster than one regex with
    alternatives, which Python's engine tries at every character. ``@`` counts as an operator (``@=``
    too) unless it starts a line (after indentation) and is followed by a name: that is a decorator.
    """

    def __init__(self, triggers: Triggers) -> None:
        self.words = sorted(triggers.names)
        self.matmul_operator = triggers.matmul_operator

    def offsets(self, text: str):
        for word in self.words:
            size = len(word)
            position = text.find(word)
            while position >= 0:
                before = text[position - 1] if position else " "
                after = text[position + size] if position + size < len(text) else " "
                if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
                    yield position
                position = text.find(word, position + size)
        if self.matmul_operator:
            position = text.find("@")
            while position >= 0:
                after = text[position + 1] if position + 1 < len(text) else " "
                if not self._is_decorator(text, position, after):
                    yield position
                position = text.find("@", position + 1)

    @staticmethod
    def _is_decorator(text: str, position: int, after: str) -> bool:
        # The last line break before ``position``: a "\r" after the last "\n", else that "\n" (searching
        # the whole prefix for "\r" in a file without one made each "@" cost the file's size).
        newline = text.rfind("\n", 0, position)
        line_start = max(newline, text.rfind("\r", newline + 1, position)) + 1
        return not text[line_start:position].strip(" \t") and (after.isalpha() or after == "_")


def hit_lines(text: str, scanner: TriggerScanner, line_starts: list[int]) -> list[int]:
    return sorted({bisect.bisect_right(line_starts, offset) for offset in scanner.offsets(text)})


def find_candidates(tree: ast.Module, lines: list[int], wanted: Callable[[Words], bool]) -> list[Candidate]:
    """The innermost statements (or header expressions) on ``lines`` whose words some rule wants."""
    found: list[Candidate] = []
    _descend(tree.body, lines, (), wanted, found)
    return found


def _any_line_within(lines: list[int], first: int, last: int) -> bool:
    index = bisect.bisect_left(lines, first)
    return index < len(lines) and lines[index] <= last


def _descend(body: list[ast.stmt], lines: list[int], ancestors: tuple[ast.AST, ...], wanted, found: list[Candidate]) -> None:
    for statement in body:
        if not _any_line_within(lines, statement.lineno, statement.end_lineno or statement.lineno):
            continue
        if isinstance(statement, _COMPOUND):
            inner = ancestors + (statement,)
            for header in _header_expressions(statement):
                if _any_line_within(lines, header.lineno, header.end_lineno or header.lineno):
                    words = words_of(header)
                    if wanted(words):
                        found.append(Candidate(header, inner, False, words))
            for child_body in _child_bodies(statement):
                _descend(child_body, lines, inner, wanted, found)
        else:
            words = words_of(statement)
            if wanted(words):
                found.append(Candidate(statement, ancestors, True, words))


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


def words_of(node: ast.AST) -> Words:
    names: set[str] = set()
    has_matmul = has_multiply = False
    for child in code_nodes(node):
        kind = type(child)
        if kind is ast.Attribute:
            names.add(child.attr)  # type: ignore[attr-defined]
        elif kind is ast.Name:
            names.add(child.id)  # type: ignore[attr-defined]
        elif kind is ast.BinOp:
            operator = type(child.op)  # type: ignore[attr-defined]
            has_matmul = has_matmul or operator is ast.MatMult
            has_multiply = has_multiply or operator is ast.Mult
        elif kind is ast.AugAssign:
            has_matmul = has_matmul or type(child.op) is ast.MatMult  # type: ignore[attr-defined]
    return Words(frozenset(names), has_matmul, has_multiply)

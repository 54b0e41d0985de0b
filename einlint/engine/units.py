"""A candidate parsed by libcst: the concrete tree of one statement (or header expression) and the
mapping from positions inside it back to the file."""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from einlint.engine.candidates import Candidate
from einlint.engine.source import SourceText


@dataclass
class Unit:
    candidate: Candidate
    source: SourceText
    start_offset: int  # character offset of the unit's text in the file
    start_line: int
    start_col: int  # character column of the first line
    module: cst.Module  # the unit wrapped in a module, for code generation and positions
    root: cst.CSTNode  # the statement, or the header expression
    _positions: dict | None = field(default=None, repr=False)
    # Results that several rules need (a modelled chain), computed once per unit.
    memo: dict = field(default_factory=dict, repr=False)
    _token_ranges: list[tuple[int, int]] | None = field(default=None, repr=False)

    @classmethod
    def parse(cls, candidate: Candidate, source: SourceText) -> Unit | None:
        node = candidate.node
        line, end_line = node.lineno, node.end_lineno or node.lineno
        col = source.char_col(line, node.col_offset)
        end_col = source.char_col(end_line, node.end_col_offset or 0)
        start, end = source.offset(line, col), source.offset(end_line, end_col)
        text = source.text[start:end]
        newline = source.newline
        config = cst.PartialParserConfig(default_newline=newline)
        try:
            if candidate.is_statement:
                root = cst.parse_statement(text + newline, config)
                module = cst.Module(body=[root], default_newline=newline)
            else:
                root = cst.parse_expression(text, config)
                statement = cst.SimpleStatementLine([cst.Expr(root)])
                module = cst.Module(body=[statement], default_newline=newline)
        except (cst.ParserSyntaxError, RecursionError, ValueError):
            # ast accepted the code; libcst may not know the newest syntax. Skip, never guess.
            return None
        return cls(candidate, source, start, line, col, module, root)

    @property
    def ast_node(self) -> ast.AST:
        return self.candidate.node

    def code_for(self, node: cst.CSTNode) -> str:
        return self.module.code_for_node(node)

    def span(self, node: cst.CSTNode) -> tuple[int, int]:
        """Character offsets ``[start, end)`` of ``node`` in the file."""
        if self._positions is None:
            self._positions = MetadataWrapper(self.module, unsafe_skip_copy=True).resolve(PositionProvider)
        code_range = self._positions[node]
        return self._offset(code_range.start.line, code_range.start.column), self._offset(code_range.end.line, code_range.end.column)

    def noqa_range(self, line: int) -> tuple[int, int]:
        """The lines flake8 searches for ``# noqa`` for a finding on ``line``: the physical line, joined
        with the other lines of any token that spans lines there (a triple-quoted string)."""
        if self._token_ranges is None:
            self._token_ranges = _logical_ranges(self.module.code)
        relative = line - self.start_line + 1
        for first, last in self._token_ranges:
            if first <= relative <= last:
                return first + self.start_line - 1, last + self.start_line - 1
        return line, line

    def _offset(self, relative_line: int, relative_col: int) -> int:
        line = self.start_line + relative_line - 1
        col = self.start_col + relative_col if relative_line == 1 else relative_col
        return self.source.offset(line, col)


def _logical_ranges(code: str) -> list[tuple[int, int]]:
    """Line ranges between NL/NEWLINE tokens, as flake8 builds its noqa mapping."""
    ranges: list[tuple[int, int]] = []
    first, last = None, None
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type in (tokenize.ENDMARKER, tokenize.DEDENT):
                continue
            first = token.start[0] if first is None else min(first, token.start[0])
            last = token.end[0] if last is None else max(last, token.end[0])
            if token.type in (tokenize.NL, tokenize.NEWLINE):
                ranges.append((first, last))
                first = last = None
    except (tokenize.TokenError, SyntaxError):
        return ranges
    return ranges

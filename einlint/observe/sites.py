"""Where a finding's statement is, how observations recognise it, and what its fix reads.

A site is the innermost statement around a finding (or a compound statement's header: ``if``,
``for``, ``with`` up to its body). Observations are keyed by the file, the statement's first line
and a hash of the statement's text, so an edited statement's old observations no longer apply.

The operands of a fix are read from the rewrite itself (the einsum call, the ``multi_dot`` list or the
reused expression's arguments), with the einsum term each one must fit: that is exactly what the
fix's rank assumptions say, because the rewrite spells every assumed rank as explicit labels.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
from dataclasses import dataclass

from einlint.diagnostics import Diagnostic, Fix
from einlint.engine.context import names_bound_inside
from einlint.equation.model import ELLIPSIS, EquationSyntaxError, parse_equation

_COMPOUND = (
    ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor, ast.While,
    ast.With, ast.AsyncWith, ast.Try, ast.Match,
)  # fmt: skip
if hasattr(ast, "TryStar"):
    _COMPOUND += (ast.TryStar,)
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# The name a ``return`` statement's result is recorded under.
RETURN_VALUE = "<return>"


@dataclass(frozen=True)
class Operand:
    """One operand of a fix's rewrite."""

    text: str  # as the rewrite writes it
    # The name and attributes to read it by, when it can be read without running code (``x``,
    # ``self.weight``); None for a call, a subscript, or a name the statement binds for itself.
    access: tuple[str, ...] | None
    labels: int | None  # explicit labels in its einsum term; None when the rewrite gives it no term
    ellipsis: bool = False

    def rank_fits(self, rank: int) -> bool | None:
        """Whether a tensor of ``rank`` dimensions fits the operand's term (None: no term to fit)."""
        if self.labels is None:
            return None
        return rank >= self.labels if self.ellipsis else rank == self.labels


@dataclass(frozen=True)
class Statement:
    """A finding's statement: its lines, its hash, and the code object it runs in."""

    line: int
    end_line: int  # the last line of the statement (of the header, for a compound statement)
    statement_hash: str
    scope_name: str  # the function or class it runs in, or "<module>"
    scope_lines: tuple[int, ...]  # the first lines its code object may report (def, decorators)
    result_name: str | None  # the name the statement assigns its value to, or RETURN_VALUE
    bound_inside: frozenset[str]  # names the statement binds for itself (lambda, comprehension)
    # (line, UTF-8 column, end line, end column) of the value it assigns or returns: where a fix that
    # replaces exactly this value computes what the statement's result is.
    value_position: tuple[int, int, int, int] | None = None


def statement_hash(lines: list[str]) -> str:
    """A hash of a statement's text, blind to its indentation and trailing blanks."""
    text = textwrap.dedent("\n".join(line.rstrip() for line in lines))
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def find_statement(tree: ast.Module, lines: list[str], line: int) -> Statement | None:
    """The innermost statement (or compound-statement header) that holds line ``line``; None where
    that statement shares a line with another statement or a header (``a = f(x); b = a @ w``,
    ``if c: y = a @ b``): a recorder that sees lines could not tell them apart."""
    scope: ast.AST | None = None
    body: list[ast.stmt] = tree.body
    header_end = 0  # the last line of the enclosing compound statement's header
    while True:
        index = next((i for i, s in enumerate(body) if s.lineno <= line <= (s.end_lineno or s.lineno)), None)
        if index is None:
            return None
        statement = body[index]
        if isinstance(statement, _COMPOUND):
            inner = _body_holding(statement, line)
            if inner is not None:
                if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    scope = statement
                body, header_end = inner, _header_end(statement)
                continue
            end_line = _header_end(statement)
            if statement.body and statement.body[0].lineno <= end_line:
                return None  # a one-line compound statement
        else:
            end_line = statement.end_lineno or statement.lineno
        if statement.lineno <= header_end or _shares_a_line(body, index):
            return None
        return _statement(statement, end_line, scope, lines)


def _shares_a_line(body: list[ast.stmt], index: int) -> bool:
    statement = body[index]
    before = body[index - 1] if index else None
    after = body[index + 1] if index + 1 < len(body) else None
    return (before is not None and (before.end_lineno or before.lineno) >= statement.lineno) or (
        after is not None and after.lineno <= (statement.end_lineno or statement.lineno)
    )


def _body_holding(statement: ast.stmt, line: int) -> list[ast.stmt] | None:
    bodies = [getattr(statement, name, None) for name in ("body", "orelse", "finalbody")]
    bodies += [handler.body for handler in getattr(statement, "handlers", ())]
    bodies += [case.body for case in getattr(statement, "cases", ())]
    for body in bodies:
        if body and body[0].lineno <= line <= (body[-1].end_lineno or body[-1].lineno):
            return body
    return None


def _header_end(statement: ast.stmt) -> int:
    body = getattr(statement, "body", None)
    if body and body[0].lineno > statement.lineno:
        return body[0].lineno - 1
    return statement.lineno


def _statement(statement: ast.stmt, end_line: int, scope: ast.AST | None, lines: list[str]) -> Statement:
    first = statement.lineno
    if isinstance(scope, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        scope_name = scope.name
        scope_lines = tuple(sorted({scope.lineno, *(d.lineno for d in scope.decorator_list)}))
    else:
        scope_name, scope_lines = "<module>", ()
    result_name, value = None, None
    if isinstance(statement, ast.Assign) and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name):
        result_name, value = statement.targets[0].id, statement.value
    elif isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name) and statement.value is not None:
        result_name, value = statement.target.id, statement.value
    elif isinstance(statement, ast.Return) and statement.value is not None:
        result_name, value = RETURN_VALUE, statement.value
    header = statement if not isinstance(statement, _COMPOUND) else None
    bound = names_bound_inside(header) if header is not None else frozenset()
    position = None
    if value is not None:
        position = (value.lineno, value.col_offset, value.end_lineno or value.lineno, value.end_col_offset or 0)
    return Statement(first, end_line, statement_hash(lines[first - 1 : end_line]), scope_name, scope_lines, result_name, bound, position)


@dataclass(frozen=True)
class Rewrite:
    """What a fix computes instead: its einsum equation (None for another call) and operands."""

    equation: str | None
    operands: tuple[Operand, ...]

    @property
    def key(self) -> str:
        """How the recorder and the judgement name this rewrite at its site."""
        return f"{self.equation or ''}({', '.join(operand.text for operand in self.operands)})"


def fix_operands(text: str, fix: Fix, bound_inside: frozenset[str] = frozenset()) -> tuple[Operand, ...] | None:
    """The operands the rewrite reads (see ``fix_rewrite``)."""
    rewrite = fix_rewrite(text, fix, bound_inside)
    return rewrite.operands if rewrite is not None else None


def fix_rewrite(text: str, fix: Fix, bound_inside: frozenset[str] = frozenset()) -> Rewrite | None:
    """What the fix computes, or None when the rewrite is no call whose operands are known (einsum
    with a literal equation, ``multi_dot`` of a list, a reused contraction's arguments)."""
    if not fix.edits:
        return None
    main = fix.edits[0]
    try:
        expression = ast.parse(main.replacement.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        expression = None
    if isinstance(expression, ast.Call):
        found = _call_operands(expression, main.replacement.strip(), bound_inside)
        if found is not None:
            return found
    # The main edit is part of a call (an equation string, an operand): find that call in the
    # rewritten file.
    new_text, new_start = _apply(text, fix)
    try:
        tree = ast.parse(new_text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    line_starts = line_starts_of(new_text)
    new_end = new_start + len(main.replacement)
    best: ast.Call | None = None
    best_span = len(new_text) + 1
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _callee(node) in ("einsum", "multi_dot"):
            start = _offset(new_text, line_starts, node.lineno, node.col_offset)
            end = _offset(new_text, line_starts, node.end_lineno or node.lineno, node.end_col_offset or 0)
            if start <= new_start and new_end <= end and end - start < best_span:
                best, best_span = node, end - start
    if best is None:
        return None
    return _call_operands(best, new_text, bound_inside)


def source_lines(text: str) -> list[str]:
    """The lines of ``text`` as ``ast`` numbers them."""
    return _LINE_BREAK.split(text)


def line_starts_of(text: str) -> list[int]:
    """The offset where each line starts; a line ends at ``\r\n``, ``\r`` or ``\n``, as for ``ast``."""
    return [0] + [match.end() for match in _LINE_BREAK.finditer(text)]


def _apply(text: str, fix: Fix) -> tuple[str, int]:
    """The text with the fix's edits applied, and where its main edit starts in it."""
    main = fix.edits[0]
    pieces, position, shift = [], 0, 0
    for edit in sorted(fix.edits, key=lambda e: (e.start, e.end)):
        pieces.append(text[position : edit.start])
        pieces.append(edit.replacement)
        position = edit.end
        if edit.end <= main.start and edit is not main:
            shift += len(edit.replacement) - (edit.end - edit.start)
    pieces.append(text[position:])
    return "".join(pieces), main.start + shift


def _offset(text: str, line_starts: list[int], line: int, utf8_col: int) -> int:
    start = line_starts[line - 1]
    end = line_starts[line] if line < len(line_starts) else len(text)
    row = text[start:end]
    if row.isascii():
        return start + utf8_col
    return start + len(row.encode("utf-8")[:utf8_col].decode("utf-8", errors="ignore"))


def _callee(call: ast.Call) -> str | None:
    function = call.func
    if isinstance(function, ast.Attribute):
        return function.attr
    if isinstance(function, ast.Name):
        return function.id
    return None


def _call_operands(call: ast.Call, source: str, bound_inside: frozenset[str]) -> Rewrite | None:
    if any(isinstance(argument, ast.Starred) for argument in call.args):
        return None
    callee = _callee(call)
    if callee == "einsum":
        if not call.args or not isinstance(call.args[0], ast.Constant) or not isinstance(call.args[0].value, str):
            return None
        try:
            equation = parse_equation(call.args[0].value)
        except EquationSyntaxError:
            return None
        arguments = call.args[1:]
        if len(arguments) != len(equation.inputs):
            return None
        return Rewrite(call.args[0].value, tuple(
            _operand(argument, source, bound_inside, sum(1 for label in term.labels if label != ELLIPSIS), ELLIPSIS in term.labels)
            for argument, term in zip(arguments, equation.inputs)
        ))  # fmt: skip
    if callee == "multi_dot":
        if len(call.args) != 1 or not isinstance(call.args[0], (ast.List, ast.Tuple)):
            return None
        # ``operand-ranks`` for multi_dot: every operand is a matrix.
        return Rewrite(None, tuple(_operand(element, source, bound_inside, 2, False) for element in call.args[0].elts))
    if not call.args:
        return None
    return Rewrite(None, tuple(_operand(argument, source, bound_inside, None, False) for argument in call.args))


def _operand(node: ast.expr, source: str, bound_inside: frozenset[str], labels: int | None, ellipsis: bool) -> Operand:
    text = ast.get_source_segment(source, node) or ""
    return Operand(text, operand_access(node, bound_inside), labels, ellipsis)


def operand_access(node: ast.expr, bound_inside: frozenset[str]) -> tuple[str, ...] | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id in bound_inside:
        return None
    parts.append(node.id)
    return tuple(reversed(parts))


@dataclass(frozen=True)
class Site:
    """A finding's statement and what its fix computes, as the recorder sees it."""

    statement: Statement
    rewrite: Rewrite | None  # None: the finding has no fix whose operands are known
    replaces_value: bool = False  # the fix replaces exactly the value the statement assigns or returns


def site_of(diagnostic: Diagnostic, tree: ast.Module, lines: list[str], text: str, line_starts: list[int]) -> Site | None:
    statement = find_statement(tree, lines, diagnostic.line)
    if statement is None:
        return None
    fix = diagnostic.fix
    rewrite = fix_rewrite(text, fix, statement.bound_inside) if fix is not None else None
    replaces_value = False
    if rewrite is not None and statement.value_position is not None:
        line, col, end_line, end_col = statement.value_position
        span = (_offset(text, line_starts, line, col), _offset(text, line_starts, end_line, end_col))
        replaces_value = (fix.edits[0].start, fix.edits[0].end) == span
    return Site(statement, rewrite, replaces_value)

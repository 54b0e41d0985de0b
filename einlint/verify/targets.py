"""Where a fix's change is in its file: the expression it edits, or the contraction that consumes that
expression, as text before and after the fix. ``expressions.prepare`` then makes each pair safe to
run; nothing here evaluates anything."""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from einlint.diagnostics import Diagnostic
from einlint.evidence.imports import ImportTable
from einlint.evidence.operands import dotted_name
from einlint.verify.errors import NotVerifiable
from einlint.verify.expressions import qualify_torch

__all__ = ["FixTarget", "SourceExpressions", "edits_key", "fix_expressions", "fix_targets"]

CONTRACTIONS = frozenset({"torch.matmul", "torch.bmm", "torch.mm", "torch.einsum"})
# Expressions too small to be what a fix changes: a fix that edits one is read at the enclosing one.
_PARTS = (
    ast.Constant, ast.JoinedStr, ast.FormattedValue, ast.Tuple, ast.List, ast.Set, ast.Dict, ast.Starred, ast.Slice, ast.Name,
)  # fmt: skip


class SourceExpressions:
    """The expressions of a file by character span (``ast`` reports UTF-8 byte columns), and the file's
    import aliases: what is needed to read the expression a fix changes."""

    def __init__(self, source_text: str) -> None:
        from einlint.engine.source import SourceText

        self.text = source_text
        self.line_starts = SourceText("", source_text).line_starts
        self.spans: list[tuple[int, int, ast.expr, ast.AST | None]] = []
        try:
            tree = ast.parse(source_text)
        except (SyntaxError, ValueError, RecursionError):
            self.imports = ImportTable()
            return
        self.imports = ImportTable.from_module(tree)
        encoded: dict[int, bytes] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                if isinstance(child, ast.expr) and child.end_lineno is not None:
                    start = self._offset(child.lineno, child.col_offset, encoded)
                    end = self._offset(child.end_lineno, child.end_col_offset or 0, encoded)
                    self.spans.append((start, end, child, parent))

    def _offset(self, line: int, byte_column: int, encoded: dict[int, bytes]) -> int:
        start = self.line_starts[line - 1]
        if line not in encoded:
            following = self.line_starts[line] if line < len(self.line_starts) else len(self.text)
            encoded[line] = self.text[start:following].encode("utf-8", "surrogatepass")
        return start + len(encoded[line][:byte_column].decode("utf-8", "replace"))

    def enclosing(self, start: int, end: int) -> tuple[int, int, ast.expr, ast.AST | None] | None:
        """The smallest expression (not a bare name or literal) that covers ``[start, end)``."""
        covering = [span for span in self.spans if span[0] <= start and end <= span[1] and not isinstance(span[2], _PARTS)]
        return min(covering, key=lambda span: span[1] - span[0], default=None)

    def without_parentheses(self, start: int, end: int) -> tuple[int, int]:
        """``[start, end)`` less the parentheses around one expression (a fix may replace them too,
        and ``ast`` spans leave them out)."""
        exact = {(span_start, span_end) for span_start, span_end, _, _ in self.spans}
        inner = (start, end)
        while self.text[inner[0] : inner[0] + 1] == "(" and self.text[inner[1] - 1 : inner[1]] == ")":
            opened, closed = inner[0] + 1, inner[1] - 1
            opened += len(self.text[opened:closed]) - len(self.text[opened:closed].lstrip())
            closed -= len(self.text[opened:closed]) - len(self.text[opened:closed].rstrip())
            inner = (opened, closed)
            if inner in exact:
                return inner
        return start, end

    def span_of(self, node: ast.AST) -> tuple[int, int] | None:
        return next(((start, end) for start, end, child, _ in self.spans if child is node), None)


@dataclass(frozen=True)
class FixTarget:
    """One expression a fix changes, before and after, and what it is: the edited expression itself or
    the contraction that consumes it (where a dropped ``.contiguous()`` shows, in values and time)."""

    original: str
    rewritten: str
    consumer: bool = False

    @property
    def description(self) -> str:
        return "the contraction that consumes the edited expression" if self.consumer else "the edited expression"


def fix_expressions(diagnostic: Diagnostic, source: SourceExpressions) -> list[tuple[str, str]]:
    """The (original, rewritten) text of each of ``fix_targets``."""
    return [(target.original, target.rewritten) for target in fix_targets(diagnostic, source)]


def fix_targets(diagnostic: Diagnostic, source: SourceExpressions) -> list[FixTarget]:
    """The expression a fix changes, before and after, as candidates to verify, best first.

    A fix that edits parts of an expression (an equation string, an operand) is read as the smallest
    expression covering the edits and the finding. When that expression is an operand of a matmul or
    an einsum (a dropped ``.contiguous()``), the contraction that consumes it comes first: that is
    where the change shows, in values and in time."""
    fix = diagnostic.fix
    if fix is None or not fix.edits:
        raise NotVerifiable("the finding has no fix")
    text = source.text
    edits, temporaries = _without_folded_temporaries(sorted(fix.edits, key=lambda edit: edit.start), text)
    if not edits:
        raise NotVerifiable("the fix only deletes statements")
    if not all(0 <= edit.start <= edit.end <= len(text) for edit in edits):
        raise NotVerifiable("the fix does not match the file's current text")
    # An edit that also drops an expression's own parentheses verifies as the edit inside them.
    edits = [replace(edit, start=inner[0], end=inner[1]) for edit in edits for inner in [source.without_parentheses(edit.start, edit.end)]]
    low, high = edits[0].start, max(edit.end for edit in edits)
    found = []
    if 1 <= diagnostic.line <= diagnostic.end_line <= len(source.line_starts):
        flagged_start = source.line_starts[diagnostic.line - 1] + diagnostic.col
        flagged_end = source.line_starts[diagnostic.end_line - 1] + diagnostic.end_col
        found.append(source.enclosing(min(low, flagged_start), max(high, flagged_end)))
    found.append(source.enclosing(low, high))
    spans: dict[tuple[int, int], bool] = {}
    for item in found:
        if item is None:
            continue
        start, end, node, parent = item
        if _consumes(parent, node, source.imports):
            spans.setdefault(source.span_of(parent) or (start, end), True)
        spans.setdefault((start, end), False)
    if not spans and len(edits) == 1:
        spans[(low, high)] = False
    in_place = _in_place_matmul(edits, source)
    if in_place is not None:
        original, rewritten = in_place
        return [FixTarget(_substitute(original, temporaries), rewritten)]
    if not spans:
        raise NotVerifiable("the fix's edits are not inside one expression")
    targets = []
    for (start, end), consumer in spans.items():
        original, rewritten = _apply(text, start, end, edits)
        targets.append(FixTarget(_substitute(original, temporaries), rewritten, consumer))
    return targets


def _in_place_matmul(edits: list, source: SourceExpressions) -> tuple[str, str] | None:
    """A fix that turns ``x @= v`` into ``x = e`` (two edits: ``@=`` to ``=``, ``v`` to ``e``) is
    verified as ``x @ (v)`` against ``e``: torch.Tensor has no ``__imatmul__``, so that product is
    what ``@=`` binds to ``x``."""
    if len(edits) != 2:
        return None
    operator, value = edits
    if operator.replacement != "=" or source.text[operator.start : operator.end] != "@=":
        return None
    for start, end, node, parent in source.spans:
        if (start, end) == (value.start, value.end) and isinstance(parent, ast.AugAssign) and parent.value is node:
            if isinstance(parent.op, ast.MatMult) and isinstance(parent.target, ast.Name):
                return f"{parent.target.id} @ ({source.text[start:end]})", value.replacement
    return None


def _without_folded_temporaries(edits: list, text: str) -> tuple[list, dict[str, ast.expr]]:
    """Split off the edits that delete a folded temporary's statement (``kt = k.transpose(-1, -2)``);
    the original expression reads the temporary by name, so its value is substituted there."""
    kept, temporaries = [], {}
    for edit in edits:
        if edit.replacement == "":
            try:
                body = ast.parse(text[edit.start : edit.end].strip()).body
            except SyntaxError:
                body = []
            if len(body) == 1 and isinstance(body[0], ast.Assign) and len(body[0].targets) == 1 and isinstance(body[0].targets[0], ast.Name):
                temporaries[body[0].targets[0].id] = body[0].value
                continue
        kept.append(edit)
    return kept, temporaries


def _substitute(expression: str, temporaries: dict[str, ast.expr]) -> str:
    if not temporaries:
        return expression
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        return expression

    class _Inline(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:
            value = temporaries.get(node.id)
            return value if value is not None and isinstance(node.ctx, ast.Load) else node

    return ast.unparse(_Inline().visit(tree))


def _consumes(parent: ast.AST | None, node: ast.expr, imports: ImportTable) -> bool:
    """``node`` is an operand of the contraction ``parent``."""
    if isinstance(parent, ast.BinOp) and isinstance(parent.op, ast.MatMult):
        return True
    if isinstance(parent, ast.Call) and any(argument is node for argument in parent.args):
        dotted = dotted_name(parent.func)
        return dotted is not None and qualify_torch(dotted, imports) in CONTRACTIONS
    return False


def _apply(text: str, start: int, end: int, edits) -> tuple[str, str]:
    original = text[start:end]
    rewritten = original
    for edit in reversed(edits):
        rewritten = rewritten[: edit.start - start] + edit.replacement + rewritten[edit.end - start :]
    return original, rewritten


def edits_key(diagnostic: Diagnostic, source_text: str) -> tuple[tuple[str, str], ...]:
    """What a fix replaces and with what, independent of where: offsets move as other fixes apply."""
    fix = diagnostic.fix
    if fix is None:
        return ()
    return tuple((source_text[edit.start : edit.end], edit.replacement) for edit in sorted(fix.edits, key=lambda e: e.start))

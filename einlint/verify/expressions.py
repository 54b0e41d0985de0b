"""The two expressions a fix exchanges, made safe to evaluate.

A fix replaces one expression of the user's file with another, usually a ``torch.einsum`` call. The
verifier runs both expressions, and nothing else: the einsum's operands (whatever code computes them;
without an einsum, the names the original reads) become placeholders ``x0, x1, ...`` that the verifier
binds to synthetic tensors, every spelling of torch (``t.einsum``, an imported ``einsum``) becomes
``torch.<name>``, and what is left must pass the allowlist (``allowlist.py``) of the tensor methods
and torch functions that rewrites use. Anything else - another name, a call the list does not
hold, a dunder attribute, a lambda - makes the fix "not verifiable", with the reason. The user's module
is never imported and no other code of it is run.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from einlint.diagnostics import Diagnostic
from einlint.equation.model import EquationSyntaxError, parse_equation
from einlint.evidence.imports import CANONICAL_NAMES, ImportTable
from einlint.evidence.operands import dotted_name
from einlint.verify.allowlist import TENSOR_METHODS, TENSOR_PROPERTIES, check_allowed, is_dunder
from einlint.verify.errors import NotVerifiable

__all__ = ["NotVerifiable", "ExpressionPair", "FixTarget", "SourceExpressions", "edits_key", "fix_expressions", "fix_targets", "prepare"]

LONGEST_EXPRESSION = 4000
PLACEHOLDER = "x{}"


@dataclass(frozen=True)
class ExpressionPair:
    """An original expression and its rewrite, checked and ready to evaluate.

    ``original_code``/``rewritten_code`` are canonical (``torch.<name>``, operands ``x0, x1, ...``):
    they are what runs, and equal code means an equal computation, which the cache relies on."""

    original: str
    rewritten: str
    original_code: str
    rewritten_code: str
    operands: tuple[str, ...]  # the source of each placeholder's operand, by placeholder index
    equation: str  # the einsum's; empty when neither expression is one (shapes are then searched for)
    einsum_operands: tuple[int, ...]  # the placeholder of each einsum argument, in argument order

    @property
    def placeholders(self) -> tuple[str, ...]:
        return tuple(PLACEHOLDER.format(index) for index in range(len(self.operands)))


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
    if not spans:
        raise NotVerifiable("the fix's edits are not inside one expression")
    targets = []
    for (start, end), consumer in spans.items():
        original, rewritten = _apply(text, start, end, edits)
        targets.append(FixTarget(_substitute(original, temporaries), rewritten, consumer))
    return targets


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
        return dotted is not None and _qualify(dotted, imports) in CONTRACTIONS
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


def prepare(original: str, rewritten: str, imports: ImportTable | None = None) -> ExpressionPair:
    """Check both expressions and put them in canonical form; raise NotVerifiable with the reason."""
    imports = imports or ImportTable()
    original_tree = _parse(original, "original")
    rewritten_tree = _parse(rewritten, "rewritten")
    if _qualify("torch", imports) is None:
        raise NotVerifiable("'torch' names something other than torch in this file")
    for tree in (original_tree, rewritten_tree):
        _refuse_dunders(tree)
    call = _einsum_call(rewritten_tree.body, imports) or _einsum_call(original_tree.body, imports)
    call = call or _nested_einsum_call(rewritten_tree.body, imports) or _nested_einsum_call(original_tree.body, imports)
    if call is not None:
        equation_text, operand_nodes = call
        try:
            parsed = parse_equation(equation_text)
        except EquationSyntaxError as error:
            raise NotVerifiable(f"the einsum equation {equation_text!r} is malformed: {error}") from None
        if len(parsed.inputs) != len(operand_nodes):
            raise NotVerifiable(f"the einsum equation has {len(parsed.inputs)} terms for {len(operand_nodes)} operands")
        equation = parsed.text()
    else:
        # A rewrite between other tensor operations (a dropped .contiguous()): the operands are the
        # names the original reads, and their shapes are searched for (see inputs.py).
        operand_nodes = _named_operands(original_tree.body, imports)
        if not operand_nodes:
            raise NotVerifiable("the original expression reads no operand")
        equation = ""
    operand_keys: dict[str, int] = {}
    operand_texts: list[str] = []
    einsum_operands = []
    for node in operand_nodes:
        key = ast.dump(node)
        if key not in operand_keys:
            operand_keys[key] = len(operand_keys)
            operand_texts.append(ast.unparse(node))
        einsum_operands.append(operand_keys[key])
    codes = []
    for tree in (original_tree, rewritten_tree):
        tree = _Substitute(operand_keys).visit(tree)
        tree = _Canonicalize(imports, set(PLACEHOLDER.format(i) for i in range(len(operand_keys)))).visit(tree)
        ast.fix_missing_locations(tree)
        check_allowed(tree, frozenset(PLACEHOLDER.format(i) for i in range(len(operand_keys))))
        codes.append(ast.unparse(tree))
    return ExpressionPair(
        " ".join(original.split()), " ".join(rewritten.split()), codes[0], codes[1],
        tuple(operand_texts), equation, tuple(einsum_operands),
    )  # fmt: skip


def _parse(text: str, which: str) -> ast.Expression:
    if len(text) > LONGEST_EXPRESSION:
        raise NotVerifiable(f"the {which} expression is longer than {LONGEST_EXPRESSION} characters")
    try:
        # Parenthesised so that an expression spanning lines (as fixes often do) parses on its own.
        tree = ast.parse(f"(\n{text}\n)", mode="eval")
    except (SyntaxError, ValueError, RecursionError) as error:
        raise NotVerifiable(f"the {which} expression does not parse on its own ({type(error).__name__})") from None
    return tree


def _refuse_dunders(tree: ast.AST) -> None:
    """Dunder names are refused anywhere, operands included, even though operands are never run."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_dunder(node.attr):
            raise NotVerifiable(f"attribute access to the dunder name {node.attr!r} is refused")
        if isinstance(node, ast.Name) and is_dunder(node.id):
            raise NotVerifiable(f"the dunder name {node.id!r} is not in the allowlist")


def _named_operands(node: ast.expr, imports: ImportTable) -> list[ast.expr]:
    """The operands an expression without einsum reads, in order: each name or attribute path that
    does not start at torch (``x``, ``self.weight``), up to the first tensor method or property."""
    found: list[ast.expr] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.Name, ast.Attribute)):
            dotted = dotted_name(node)
            if dotted is not None:
                if _qualify(dotted.split(".")[0], imports) is None:
                    parts = dotted.split(".")
                    tensor_names = TENSOR_METHODS | TENSOR_PROPERTIES
                    cut = next((i for i, part in enumerate(parts) if i and part in tensor_names), len(parts))
                    operand = node
                    for _ in range(len(parts) - cut):
                        operand = operand.value  # type: ignore[attr-defined]
                    if not any(ast.dump(operand) == ast.dump(seen) for seen in found):
                        found.append(operand)
                return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(node)
    return found


def _qualify(dotted: str, imports: ImportTable) -> str | None:
    """The torch qualified name of a dotted reference, or None when it does not name something of torch."""
    qualified = imports.qualify(dotted)
    if qualified is None and dotted.split(".")[0] == "torch" and "torch" not in imports.aliases:
        qualified = dotted  # a snippet without its imports: ``torch`` is torch
    if qualified is None or not (qualified == "torch" or qualified.startswith("torch.")):
        return None
    return CANONICAL_NAMES.get(qualified, qualified)


def _einsum_call(node: ast.expr, imports: ImportTable) -> tuple[str, list[ast.expr]] | None:
    if not isinstance(node, ast.Call) or node.keywords:
        return None
    dotted = dotted_name(node.func)
    if dotted is None or _qualify(dotted, imports) != "torch.einsum":
        return None
    if not node.args or not isinstance(node.args[0], ast.Constant) or not isinstance(node.args[0].value, str):
        return None
    operands = node.args[1:]
    if len(operands) == 1 and isinstance(operands[0], (ast.List, ast.Tuple)):
        operands = operands[0].elts  # torch.einsum(equation, [a, b])
    if not operands or any(isinstance(operand, ast.Starred) for operand in operands):
        return None
    return node.args[0].value, list(operands)


def _nested_einsum_call(node: ast.expr, imports: ImportTable) -> tuple[str, list[ast.expr]] | None:
    """The first einsum call inside an expression (``torch.einsum(...).mT``), in reading order."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.expr):
            found = _einsum_call(child, imports) or _nested_einsum_call(child, imports)
            if found is not None:
                return found
    return None


class _Substitute(ast.NodeTransformer):
    """Replace every occurrence of an einsum operand by its placeholder name."""

    def __init__(self, operand_keys: dict[str, int]) -> None:
        self.operand_keys = operand_keys
        self.placeholders = {PLACEHOLDER.format(index) for index in operand_keys.values()}

    def visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.expr):
            index = self.operand_keys.get(ast.dump(node))
            if index is not None:
                return ast.Name(PLACEHOLDER.format(index), ast.Load())
        return super().visit(node)

    def visit_Name(self, node: ast.Name) -> ast.Name:
        if node.id in self.placeholders:
            # A name of the user's that is not an operand must not pass for one.
            raise NotVerifiable(f"the name {node.id!r} is neither an operand nor torch")
        return node


class _Canonicalize(ast.NodeTransformer):
    """Spell every reference to torch as ``torch.<qualified name>``."""

    def __init__(self, imports: ImportTable, placeholders: set[str]) -> None:
        self.imports = imports
        self.placeholders = placeholders

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.placeholders:
            return node
        qualified = _qualify(node.id, self.imports)
        if qualified is None:
            return node
        parts = qualified.split(".")
        built: ast.expr = ast.Name(parts[0], ast.Load())
        for part in parts[1:]:
            built = ast.Attribute(built, part, ast.Load())
        return built

"""The two expressions a fix exchanges, made safe to evaluate (its rule names them: ``targets.py``).

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

from einlint.equation.model import EquationSyntaxError, parse_equation
from einlint.evidence.imports import CANONICAL_NAMES, ImportTable
from einlint.evidence.operands import dotted_name
from einlint.verify.allowlist import TENSOR_METHODS, TENSOR_PROPERTIES, check_allowed, is_dunder
from einlint.verify.errors import NotVerifiable

__all__ = ["NotVerifiable", "ExpressionPair", "prepare", "qualify_torch"]

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


def prepare(original: str, rewritten: str, imports: ImportTable | None = None) -> ExpressionPair:
    """Check both expressions and put them in canonical form; raise NotVerifiable with the reason."""
    imports = imports or ImportTable()
    original_tree = _parse(original, "original")
    rewritten_tree = _parse(rewritten, "rewritten")
    if qualify_torch("torch", imports) is None:
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
                if qualify_torch(dotted.split(".")[0], imports) is None:
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


def qualify_torch(dotted: str, imports: ImportTable) -> str | None:
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
    if dotted is None or qualify_torch(dotted, imports) != "torch.einsum":
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
        qualified = qualify_torch(node.id, self.imports)
        if qualified is None:
            return node
        parts = qualified.split(".")
        built: ast.expr = ast.Name(parts[0], ast.Load())
        for part in parts[1:]:
            built = ast.Attribute(built, part, ast.Load())
        return built

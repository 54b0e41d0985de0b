"""The security boundary of the verifier: what an expression may contain to be evaluated, and the
one place where it is.

``check_allowed`` walks a canonical expression (every torch reference spelled ``torch.<name>``, the
operands replaced by placeholder names) and says what each part is: a tensor, a constant, a string, a
dtype, a torch function, a tensor method. Anything it does not know is refused with the reason: other
names, builtins, dunder and private attributes, calls outside the lists below, keyword arguments
outside KEYWORDS, lambdas, comprehensions, f-strings, conditional and walrus expressions, large
numeric constants. ``compile_checked`` is the only place in the verifier that compiles code: it
checks the code itself (whoever built it), and what passes runs with empty builtins and ``torch`` and
the placeholders as its only names.

The module is small on purpose and imports nothing of einlint but the error it raises: widening what
the verifier evaluates is a change to this file alone, and tests/test_verify_allowlist.py tries to
get past it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from einlint.verify.errors import NotVerifiable

__all__ = ["check_allowed", "compile_checked", "is_dunder", "TENSOR_METHODS", "TENSOR_PROPERTIES", "TORCH_FUNCTIONS"]

TORCH_FUNCTIONS = frozenset(
    {
        "einsum", "matmul", "bmm", "mm", "mv", "dot", "outer", "tensordot",
        "transpose", "swapaxes", "swapdims", "permute", "movedim", "t",
        "unsqueeze", "squeeze", "reshape", "flatten",
        "sum", "mul", "multiply",
    }
)  # fmt: skip
# Functions of torch's submodules, by submodule.
SUBMODULE_FUNCTIONS = {"linalg": frozenset({"multi_dot"})}
TENSOR_METHODS = frozenset(
    {
        "matmul", "bmm", "mm", "mv", "dot",
        "transpose", "swapaxes", "swapdims", "permute", "movedim", "t",
        "unsqueeze", "squeeze", "reshape", "view", "flatten", "contiguous", "clone",
        "sum", "mul",
        "to", "float", "double", "half", "bfloat16", "int", "long",
    }
)  # fmt: skip
TENSOR_PROPERTIES = frozenset({"T", "mT"})
TORCH_DTYPES = frozenset(
    {
        "float16", "half", "bfloat16", "float32", "float", "float64", "double",
        "int8", "uint8", "int16", "short", "int32", "int", "int64", "long", "bool",
    }
)  # fmt: skip
KEYWORDS = frozenset({"dim", "dims", "keepdim", "dim0", "dim1", "dtype", "source", "destination", "start_dim", "end_dim"})
BINARY_OPERATORS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.MatMult)
# Dimension indices and shapes in rewrites are small; a huge literal could only allocate a huge tensor.
LARGEST_CONSTANT = 1 << 12


class _Allowlist:
    """Walks a canonical expression and says what each part is: a tensor, a constant, a torch function,
    a tensor method, a dtype. Raises NotVerifiable at the first part outside the allowlist."""

    def __init__(self, placeholders: frozenset[str]) -> None:
        self.placeholders = placeholders

    def check(self, tree: ast.Expression) -> None:
        if self.kind(tree.body) != "tensor":
            raise NotVerifiable("the expression does not compute a tensor")

    def kind(self, node: ast.AST) -> str:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            raise NotVerifiable(f"{_describe(node)} is not an operation the verifier evaluates")
        return handler(node)

    def _Constant(self, node: ast.Constant) -> str:
        value = node.value
        if isinstance(value, bool) or value is None or value is Ellipsis:
            return "constant"
        if isinstance(value, (int, float)):
            if abs(value) > LARGEST_CONSTANT:
                raise NotVerifiable(f"the constant {value!r} is too large to evaluate safely")
            return "constant"
        if isinstance(value, str):
            return "string"
        raise NotVerifiable(f"a {type(value).__name__} constant is not something the verifier evaluates")

    def _Name(self, node: ast.Name) -> str:
        if node.id in self.placeholders:
            return "tensor"
        if node.id == "torch":
            return "module:torch"
        if is_dunder(node.id):
            raise NotVerifiable(f"the dunder name {node.id!r} is not in the allowlist")
        raise NotVerifiable(f"the name {node.id!r} is neither an operand nor torch")

    def _Attribute(self, node: ast.Attribute) -> str:
        if is_dunder(node.attr):
            raise NotVerifiable(f"attribute access to the dunder name {node.attr!r} is refused")
        if node.attr.startswith("_"):
            raise NotVerifiable(f"attribute access to the private name {node.attr!r} is refused")
        base = self.kind(node.value)
        if base.startswith("module:"):
            qualified = f"{base.removeprefix('module:')}.{node.attr}"
            short = qualified.removeprefix("torch.")
            if qualified.count(".") == 1 and short in TORCH_FUNCTIONS:
                return "function"
            if qualified.count(".") == 1 and short in SUBMODULE_FUNCTIONS:
                return f"module:{qualified}"
            submodule, _, function = short.partition(".")
            if qualified.count(".") == 2 and function in SUBMODULE_FUNCTIONS.get(submodule, ()):
                return "function"
            if qualified.count(".") == 1 and short in TORCH_DTYPES:
                return "dtype"
            raise NotVerifiable(f"{qualified!r} is not in the allowlist of torch functions")
        if base == "tensor":
            if node.attr in TENSOR_PROPERTIES:
                return "tensor"
            if node.attr in TENSOR_METHODS:
                return "method"
            raise NotVerifiable(f"the tensor attribute {node.attr!r} is not in the allowlist")
        raise NotVerifiable(f"attribute {node.attr!r} of {_describe(node.value)} is not in the allowlist")

    def _Call(self, node: ast.Call) -> str:
        dotted = _dotted_name(node.func)
        root = dotted.split(".")[0] if dotted else None
        if dotted is not None and root != "torch" and root not in self.placeholders:
            raise NotVerifiable(f"the call of {dotted!r} is not in the allowlist of torch functions and tensor methods")
        function = self.kind(node.func)
        if function not in ("function", "method"):
            raise NotVerifiable(f"the call of {dotted or _describe(node.func)!r} is not in the allowlist")
        for argument in node.args:
            self._argument(argument)
        for keyword in node.keywords:
            if keyword.arg is None or keyword.arg not in KEYWORDS:
                raise NotVerifiable(f"the keyword argument {keyword.arg or '**'!r} is not in the allowlist")
            self._argument(keyword.value)
        return "tensor"

    def _argument(self, node: ast.expr) -> None:
        if isinstance(node, ast.Starred):
            raise NotVerifiable("a starred argument is not something the verifier evaluates")
        if self.kind(node) not in ("tensor", "constant", "string", "dtype", "sequence", "tensors"):
            raise NotVerifiable(f"the argument {ast.unparse(node)!r} is not a tensor, a constant or a dtype")

    def _UnaryOp(self, node: ast.UnaryOp) -> str:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise NotVerifiable(f"the operator {type(node.op).__name__} is not in the allowlist")
        operand = self.kind(node.operand)
        if operand not in ("tensor", "constant"):
            raise NotVerifiable(f"a sign applied to {_describe(node.operand)}")
        return operand

    def _BinOp(self, node: ast.BinOp) -> str:
        if not isinstance(node.op, BINARY_OPERATORS):
            raise NotVerifiable(f"the operator {type(node.op).__name__} is not in the allowlist")
        kinds = {self.kind(node.left), self.kind(node.right)}
        if not kinds <= {"tensor", "constant"}:
            raise NotVerifiable("an arithmetic operator applied to something other than tensors and numbers")
        return "tensor" if "tensor" in kinds else "constant"

    def _Tuple(self, node: ast.Tuple | ast.List) -> str:
        kinds = {self.kind(element) for element in node.elts}
        if kinds <= {"constant"}:
            return "sequence"
        if kinds == {"tensor"}:
            return "tensors"  # the operand list of torch.einsum(equation, [a, b])
        raise NotVerifiable("a sequence that mixes tensors and other values")

    _List = _Tuple

    def _Subscript(self, node: ast.Subscript) -> str:
        if self.kind(node.value) != "tensor":
            raise NotVerifiable(f"indexing of {_describe(node.value)}")
        index = node.slice
        for part in index.elts if isinstance(index, ast.Tuple) else [index]:
            if isinstance(part, ast.Slice):
                bounds = [bound for bound in (part.lower, part.upper, part.step) if bound is not None]
                if any(self.kind(bound) != "constant" for bound in bounds):
                    raise NotVerifiable("a slice bound that is not a number")
            elif self.kind(part) != "constant":
                raise NotVerifiable("an index that is not a number, None or ...")
        return "tensor"


def is_dunder(name: str) -> bool:
    return name.startswith("__") and name.endswith("__")


def _describe(node: ast.AST) -> str:
    try:
        return repr(ast.unparse(node))
    except Exception:  # noqa: BLE001 - only for a message
        return type(node).__name__


def check_allowed(tree: ast.Expression, placeholders: frozenset[str]) -> None:
    """Raise NotVerifiable unless ``tree`` computes a tensor from ``placeholders`` with allowed
    operations only."""
    _Allowlist(placeholders).check(tree)


def compile_checked(code: str, placeholders: tuple[str, ...], torch: object) -> Callable:
    """``code`` (a canonical expression) as a function of ``placeholders``, checked against the
    allowlist here rather than trusted to have been: it runs with no builtins and only ``torch``."""
    tree = ast.parse(code, mode="eval")
    check_allowed(tree, frozenset(placeholders))
    arguments = ast.arguments(posonlyargs=[], args=[ast.arg(name) for name in placeholders], kwonlyargs=[], kw_defaults=[], defaults=[])
    function = ast.fix_missing_locations(ast.Expression(ast.Lambda(arguments, tree.body)))
    return eval(compile(function, "<einlint-verify>", "eval"), {"__builtins__": {}, "torch": torch})  # noqa: S307


def _dotted_name(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))

"""Chains of three or more matrix products (``a @ b @ c``, ``a.mm(b).mm(c)``, ``A.T @ (P @ A)``): the
factors, the association the code writes, what each association costs where the sizes are known, and
the cheapest one (the classic matrix-chain order).

A product is ``@``, ``torch.matmul``/``torch.mm`` with two positional operands, or the methods
``.matmul(x)``/``.mm(x)``; anything else is a factor. A ``p x q`` matrix times a ``q x r`` one takes
``p * q * r`` multiply-adds and moves ``p * q + q * r + p * r`` elements; the time a product takes is
modelled as ``multiply_adds(p, q, r) + ELEMENT_COST * elements``, since a product whose multiply-adds are
few (a matrix times a column) still reads its whole matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import libcst as cst

from einlint.evidence.operands import OperandEvidence

PRODUCT_FUNCTIONS = {"torch.matmul": "matmul", "torch.mm": "mm"}
PRODUCT_METHODS = {"matmul": "matmul", "mm": "mm"}
# A 2-D transpose of a factor, as the code may spell it: ``A.T``, ``A.mT``, ``A.t()``.
TRANSPOSE_ATTRIBUTES = frozenset({"T", "mT"})


class ChainOracle(Protocol):
    def qualified_name(self, node: cst.CSTNode) -> str | None: ...

    def operand_evidence(self, node: cst.CSTNode) -> OperandEvidence: ...


@dataclass(frozen=True)
class Factor:
    """One matrix of the chain, as written (``A.T`` is one factor)."""

    node: cst.BaseExpression
    shape: tuple[int, int] | None  # literal sizes the code proves for this 2-D factor
    two_d: bool  # proven 2-D by what the code shows (a factory, a view, a shape unpack)
    # An operand of ``mm``: 2-D wherever the original runs, but only there (``mm`` raises on a 1-D one,
    # which ``multi_dot`` accepts at either end of the chain).
    mm_operand: bool
    is_tensor: bool  # proven a torch tensor (a factory in the same scope)
    plain: bool  # a name or a transpose of one: evaluating it runs no code that could change a tensor
    # The floating dtype the code states for this factor, evidence.operands.DEFAULT_FLOAT where a
    # factory leaves it to the default dtype, None where unknown (16-bit floats can overflow in one
    # association and not another).
    dtype: str | None = None


@dataclass(frozen=True)
class Product:
    node: cst.BaseExpression
    left: Tree
    right: Tree
    kind: str  # "matmul" (``@`` and torch.matmul) or "mm"


Tree = Factor | Product


def is_product(node: cst.CSTNode, oracle: ChainOracle) -> bool:
    return _product_parts(node, oracle) is not None


def read_chain(node: cst.BaseExpression, oracle: ChainOracle) -> Tree:
    """``node`` as a tree of products over factors (a factor when it is no product)."""
    parts = _product_parts(node, oracle)
    if parts is None:
        return _factor(node, oracle, False)
    left, right, kind = parts
    return Product(node, _read(left, oracle, kind), _read(right, oracle, kind), kind)


def _read(node: cst.BaseExpression, oracle: ChainOracle, parent_kind: str) -> Tree:
    parts = _product_parts(node, oracle)
    if parts is None:
        return _factor(node, oracle, parent_kind == "mm")
    left, right, kind = parts
    return Product(node, _read(left, oracle, kind), _read(right, oracle, kind), kind)


def _product_parts(node: cst.CSTNode, oracle: ChainOracle) -> tuple[cst.BaseExpression, cst.BaseExpression, str] | None:
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.MatrixMultiply):
        return node.left, node.right, "matmul"
    if not isinstance(node, cst.Call) or len(node.args) == 0 or any(arg.keyword is not None or arg.star for arg in node.args):
        return None
    qualified = oracle.qualified_name(node.func)
    if qualified in PRODUCT_FUNCTIONS and len(node.args) == 2:
        return node.args[0].value, node.args[1].value, PRODUCT_FUNCTIONS[qualified]
    func = node.func
    if qualified is None and isinstance(func, cst.Attribute) and func.attr.value in PRODUCT_METHODS and len(node.args) == 1:
        return func.value, node.args[0].value, PRODUCT_METHODS[func.attr.value]
    return None


def _factor(node: cst.BaseExpression, oracle: ChainOracle, mm_operand: bool) -> Factor:
    base, transposed = _transpose_of(node)
    plain = isinstance(base, cst.Name)
    evidence = oracle.operand_evidence(base) if plain else oracle.operand_evidence(node)
    shape = None
    two_d = evidence.rank == 2 and (plain or not transposed)
    if two_d and evidence.shape is not None and all(isinstance(size, int) for size in evidence.shape):
        rows, columns = evidence.shape
        shape = (columns, rows) if transposed else (rows, columns)
    return Factor(node, shape, two_d, mm_operand, evidence.is_tensor, plain, evidence.dtype)


def _transpose_of(node: cst.BaseExpression) -> tuple[cst.BaseExpression, bool]:
    """``A.T``, ``A.mT``, ``A.t()`` -> (``A``, True); anything else -> (node, False)."""
    if isinstance(node, cst.Attribute) and node.attr.value in TRANSPOSE_ATTRIBUTES and not node.lpar:
        return node.value, True
    if isinstance(node, cst.Call) and not node.args and isinstance(node.func, cst.Attribute) and node.func.attr.value == "t":
        return node.func.value, True
    return node, False


def factors(tree: Tree) -> list[Factor]:
    if isinstance(tree, Factor):
        return [tree]
    return factors(tree.left) + factors(tree.right)


def kinds(tree: Tree) -> set[str]:
    if isinstance(tree, Factor):
        return set()
    return {tree.kind} | kinds(tree.left) | kinds(tree.right)


# About how many multiply-adds take the time of moving one element through memory, on current CPUs and
# GPUs (a core does tens of multiply-adds per element it can load from memory).
ELEMENT_COST = 16


def multiply_adds(rows: int, inner: int, columns: int) -> int:
    return rows * inner * columns


def modelled_time(rows: int, inner: int, columns: int) -> int:
    """The time model of one product, in multiply-adds: its arithmetic plus the elements it moves."""
    return rows * inner * columns + ELEMENT_COST * (rows * inner + inner * columns + rows * columns)


def written_cost(tree: Tree, cost=multiply_adds) -> tuple[int, tuple[int, int]]:
    """The ``cost`` of the association as written, and the result's shape; every factor needs a shape
    (raises ValueError where one is missing or two sizes that a product matches differ)."""
    if isinstance(tree, Factor):
        if tree.shape is None:
            raise ValueError("a factor of unknown size")
        return 0, tree.shape
    left_cost, (rows, inner) = written_cost(tree.left, cost)
    right_cost, (inner_right, columns) = written_cost(tree.right, cost)
    if inner != inner_right:
        raise ValueError("matched sizes differ")
    return left_cost + right_cost + cost(rows, inner, columns), (rows, columns)


@dataclass(frozen=True)
class Order:
    """An association of factors ``first..last`` (inclusive): a leaf index or a split."""

    first: int
    last: int
    split: int | None = None  # the left part is first..split, the right split+1..last
    left: Order | None = None
    right: Order | None = None


def best_order(shapes: list[tuple[int, int]], cost=multiply_adds) -> tuple[int, Order]:
    """The association of matrices with ``shapes`` (adjacent ones matched) of least ``cost``, and that cost."""
    count = len(shapes)
    dims = [shapes[0][0]] + [shape[1] for shape in shapes]
    best = [[0] * count for _ in range(count)]
    split = [[0] * count for _ in range(count)]
    for length in range(2, count + 1):
        for first in range(count - length + 1):
            last = first + length - 1
            best[first][last] = -1
            for middle in range(first, last):
                candidate = best[first][middle] + best[middle + 1][last] + cost(dims[first], dims[middle + 1], dims[last + 1])
                # Ties keep the leftmost split: the left-to-right order ``@`` already writes.
                if best[first][last] < 0 or candidate < best[first][last]:
                    best[first][last], split[first][last] = candidate, middle
    return best[0][count - 1], _order(split, 0, count - 1)


def order_cost(order: Order, shapes: list[tuple[int, int]], cost=multiply_adds) -> int:
    """The ``cost`` of the association ``order`` of matrices with ``shapes``."""
    if order.split is None:
        return 0
    assert order.left is not None and order.right is not None
    here = cost(shapes[order.first][0], shapes[order.split][1], shapes[order.last][1])
    return order_cost(order.left, shapes, cost) + order_cost(order.right, shapes, cost) + here


def _order(split: list[list[int]], first: int, last: int) -> Order:
    if first == last:
        return Order(first, last)
    middle = split[first][last]
    return Order(first, last, middle, _order(split, first, middle), _order(split, middle + 1, last))


def spelled(order: Order, texts: list[str]) -> str:
    """The association as ``@`` products of ``texts`` with the parentheses it needs (``@`` groups left to
    right, so only a product on the right of another is parenthesised)."""
    if order.split is None:
        return texts[order.first]
    assert order.left is not None and order.right is not None
    right = spelled(order.right, texts)
    return f"{spelled(order.left, texts)} @ {f'({right})' if order.right.split is not None else right}"


def shown_order(tree: Tree, names: dict[int, str]) -> str:
    """The association the code writes, with every product parenthesised as it groups: ``(A @ B) @ C``."""
    if isinstance(tree, Factor):
        return names[id(tree)]
    left, right = shown_order(tree.left, names), shown_order(tree.right, names)
    left = f"({left})" if isinstance(tree.left, Product) else left
    right = f"({right})" if isinstance(tree.right, Product) else right
    return f"{left} @ {right}"


def shown_best(order: Order, texts: list[str]) -> str:
    """``order`` with every product parenthesised, for a message."""
    if order.split is None:
        return texts[order.first]
    assert order.left is not None and order.right is not None
    left, right = shown_best(order.left, texts), shown_best(order.right, texts)
    left = f"({left})" if order.left.split is not None else left
    right = f"({right})" if order.right.split is not None else right
    return f"{left} @ {right}"

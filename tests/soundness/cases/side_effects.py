"""Side effects and evaluation order: operands that are calls or properties with effects, equations
built by calls, and arguments evaluated in a program-visible order. A fix must evaluate each of them as
often and in the same order as the original."""

from __future__ import annotations

from ..harness import inputs, program, t

make = program("side-effects")
RANKS = ("operand-ranks", "matching-ranks")
TAGGED = """import torch

EVENTS = []


def tag(name, value):
    EVENTS.append(name)
    return value
"""

CASES = [
    make(
        "tagged_bmm_operands",
        TAGGED
        + """

def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(tag("a", a), tag("b", b).transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "tagged_first_operand_transposed",
        TAGGED
        + """

def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(tag("a", a).transpose(1, 2), tag("b", b))
""",
        inputs(t(2, 4, 3), t(2, 4, 5)),
        satisfies=RANKS,
    ),
    make(
        "tagged_result_transposed",
        TAGGED
        + """

def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(tag("a", a), tag("b", b)).transpose(1, 2)
""",
        inputs(t(2, 3, 4), t(2, 4, 5)),
        satisfies=RANKS,
    ),
    make(
        "tagged_outer_sum",
        TAGGED
        + """

def run(x, y):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 5)
    return (tag("a", a).unsqueeze(-1) * tag("b", b).unsqueeze(-2)).sum(0)
""",
        inputs(t(3, 4), t(3, 5)),
    ),
    make(
        "tagged_multiply_sum",
        TAGGED
        + """

def run(x, y):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 4)
    return (tag("a", a) * tag("b", b)).sum(-1)
""",
        inputs(t(3, 4), t(3, 4)),
        select=("EIN103",),
    ),
    make(
        "tagged_einsum_view_operand",
        TAGGED
        + """

def run(x, w):
    return torch.einsum("bhwc,cd->bhwd", tag("x", x).permute(0, 2, 3, 1), tag("w", w))
""",
        inputs(t(2, 3, 4, 5), t(3, 6)),
    ),
    make(
        "tagged_einsum_copy_operand",
        TAGGED
        + """

def run(q, k):
    return torch.einsum("bqd,bdk->bqk", tag("q", q), tag("k", k).transpose(1, 2).contiguous())
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
    make(
        "tagged_einsum_to_matmul",
        TAGGED
        + """

def run(a, b):
    return torch.einsum("ji,kj->ik", tag("a", a), tag("b", b))
""",
        inputs(t(4, 3), t(5, 4)),
        select=("EIN121",),
    ),
    make(
        "equation_built_by_call",
        TAGGED
        + """

def run(x):
    pooled = []
    for axis in "hw":
        pooled.append(torch.einsum(f"bchw->bc{tag(axis, axis)}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_loop_counter_side_effect",
        TAGGED
        + """

def run(table):
    out = []
    for mode in range(3):
        out.append(torch.einsum(f"abc->{tag(str(mode), 'abc')[mode]}", table))
    return out
""",
        inputs(t(2, 3, 4)),
    ),
    make(
        "multi_dot_tagged_list",
        TAGGED
        + """

def run(xs, a, b):
    out = []
    for x in xs:
        out.append(torch.einsum("ij,jk,kl->il", [tag("x", x), tag("a", a), tag("b", b)]))
    return out
""",
        inputs([t(2, 4), t(2, 4)], t(4, 4), t(4, 3)),
        satisfies=RANKS,
    ),
    make(
        "contract_expression_tagged",
        TAGGED
        + """

def run(xs, ys, w):
    out = []
    for x, y in zip(xs, ys):
        out.append(torch.einsum("bi,bj,ij->b", tag("x", x), tag("y", y), tag("w", w)))
    return out
""",
        inputs([t(2, 3), t(2, 3)], [t(2, 4), t(2, 4)], t(3, 4)),
        satisfies=("fixed-shapes-in-loops",),
    ),
    make(
        "walrus_operand",
        """import torch


def run(a: torch.Tensor, b: torch.Tensor):
    out = torch.bmm(a, (c := b).transpose(1, 2))
    return out, c
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "temporary_read_twice_by_closure",
        """import torch


def run(q, k):
    kt = k.transpose(-1, -2)
    get = lambda: kt
    return torch.matmul(q, kt), get()
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
]

# ``x @= v``: torch.Tensor has no ``__imatmul__``, so Python binds ``x @ v`` to x and writes nothing in
# place; the fix ``x = torch.einsum(...)`` must keep every alias of the old x holding what it held.
CASES += [
    make(
        "in_place_matmul_alias_then_mutated",
        """
def run(x, w):
    y = x * 1
    alias = y
    y @= w.transpose(-1, -2)
    alias.add_(1)
    return y, alias
""",
        inputs(t(3, 4), t(5, 4)),
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "in_place_matmul_in_loop",
        """
def run(x, w):
    h = x * 1
    for _ in range(3):
        h @= w.mT
    return h
""",
        inputs(t(3, 4), t(4, 4)),
        inputs(t(2, 3, 4), t(4, 4)),
        satisfies=RANKS,
    ),
    make(
        "in_place_matmul_factories",
        """
def run(x, w):
    a = torch.randn(3, 4)
    b = torch.randn(5, 4)
    kept = a
    a @= b.T
    return a, kept
""",
        inputs(t(1), t(1)),
    ),
    make(
        "in_place_matmul_container_item",
        """
def run(x, w):
    items = [x * 1]
    EVENTS = []

    def index():
        EVENTS.append(1)
        return 0

    items[index()] @= w.T
    return items[0], len(EVENTS)
""",
        inputs(t(3, 4), t(5, 4)),
        satisfies=RANKS,
    ),
]

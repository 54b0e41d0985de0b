"""Family 9: hoisting (EIN301/EIN302). A table of equations or a contraction expression built before
or on the first pass of a loop must see what the loop body saw on every iteration: late binding,
``nonlocal``, shadowed builtins such as ``range``, loops that run zero times; and no operand (a property,
a call) may be evaluated more often or in another order than before."""

from __future__ import annotations

from ..harness import inputs, program, t

make = program("hoisting")

COUNTED = """
EVENTS = []


class Weights:
    def __init__(self, w):
        self._w = w

    @property
    def w(self):
        EVENTS.append("w")
        return self._w
"""

CASES = [
    make(
        "equation_table_control",
        """
def run(x):
    pooled = []
    for axis in "hw":
        pooled.append(torch.einsum(f"bchw->bc{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_shadowed_range",
        """
def range(n):
    return [-1]


def run(table):
    result = []
    for mode in range(3):
        result.append(torch.einsum(f"abc->{'abc'[mode]}", table))
    return result
""",
        inputs(t(2, 3, 4)),
    ),
    make(
        "equation_table_local_range",
        """
def run(table, range=lambda n: [2, 1, -2]):
    result = []
    for mode in range(3):
        result.append(torch.einsum(f"abc->{'abc'[mode]}", table))
    return result
""",
        inputs(t(2, 3, 4)),
    ),
    make(
        "equation_table_loop_variable_rebound",
        """
def run(x):
    pooled = []
    for axis in "hw":
        axis = axis.upper().lower()[0]
        pooled.append(torch.einsum(f"bchw->bc{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_loop_variable_changed",
        """
def run(x):
    pooled = []
    for axis in "hw":
        if axis == "w":
            axis = "c"
        pooled.append(torch.einsum(f"bchw->b{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_late_binding_lambda",
        """
def run(x):
    thunks = []
    for axis in "hw":
        thunks.append(lambda: torch.einsum(f"bchw->bc{axis}", x))
    return [thunk() for thunk in thunks]
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_nonlocal",
        """
def run(x):
    axis = "h"
    pooled = []

    def step():
        nonlocal axis
        axis = "w"

    for axis in "hw":
        step()
        pooled.append(torch.einsum(f"bchw->bc{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_nonlocal_value_outside_the_table",
        """
def run(x):
    pooled = []

    def step():
        nonlocal axis
        axis = "c"

    for axis in "hw":
        step()
        pooled.append(torch.einsum(f"bchw->b{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_global_loop_variable",
        """
def step():
    global axis
    axis = "c"


def run(x):
    pooled = []
    global axis
    for axis in "hw":
        step()
        pooled.append(torch.einsum(f"bchw->b{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_module_loop_variable_rebound_through_globals",
        """
x = torch.randn(2, 3, 3)
pooled = []


def step():
    globals()["axis"] = "h"


for axis in "jk":
    step()
    pooled.append(torch.einsum(f"bh{axis}->b", x))


def run(y):
    return pooled
""",
        inputs(t(1)),
    ),
    make(
        "equation_table_class_body_loop_variable_rebound_through_locals",
        """
class Pooled:
    x = torch.randn(2, 3, 3)
    values = []
    for axis in "jk":
        locals()["axis"] = "h"
        values.append(torch.einsum(f"bh{axis}->b", x))


def run(y):
    return Pooled.values
""",
        inputs(t(1)),
    ),
    make(
        "equation_table_zero_iterations",
        """
def run(x):
    pooled = []
    for axis in "":
        pooled.append(torch.einsum(f"bchw->bc{axis}", x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_str_shadowed",
        """
def run(x, str=lambda v: "h"):
    pooled = []
    for axis in "hw":
        pooled.append(torch.einsum("bchw->bc" + str(axis), x))
    return pooled
""",
        inputs(t(2, 3, 4, 5)),
    ),
    make(
        "equation_table_format_method",
        """
def run(x, w):
    out = []
    for name in "ab":
        out.append(torch.einsum("b{0},{0}d->bd".format(name), x, w))
    return out
""",
        inputs(t(3, 4), t(4, 5)),
    ),
    make(
        "contract_expression_property_count",
        """
import opt_einsum as oe
import torch
"""
        + COUNTED
        + """

def run(xs, ys, w):
    weights = Weights(w)
    scores = []
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, weights.w))
    return scores
""",
        inputs([t(2, 3), t(2, 3)], [t(2, 4), t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "contract_expression_call_count",
        """
import torch

EVENTS = []


def weight(w):
    EVENTS.append("weight")
    return w


def run(xs, ys, w):
    scores = []
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, weight(w)))
    return scores
""",
        inputs([t(2, 3), t(2, 3)], [t(2, 4), t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "contract_expression_shapes_change",
        """
def run(xs, ys, w):
    scores = []
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, w))
    return scores
""",
        inputs([t(2, 3), t(5, 3)], [t(2, 4), t(5, 4)], t(3, 4), label="batch changes", violates=("fixed-shapes-in-loops",)),
        inputs([t(2, 3), t(2, 3)], [t(2, 4), t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "contract_expression_dtype_changes",
        """
def run(xs, ys, w):
    scores = []
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, w.to(x.dtype)))
    return scores
""",
        inputs(
            [t(2, 3), t(2, 3, dtype=__import__("torch").float64)],
            [t(2, 4), t(2, 4, dtype=__import__("torch").float64)],
            t(3, 4),
            satisfies=("fixed-shapes-in-loops",),
        ),
    ),
    make(
        "contract_expression_zero_iterations",
        """
def run(xs, ys, w):
    scores = []
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, w))
    return scores
""",
        inputs([], [], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "contract_expression_name_reused",
        """
def run(xs, ys, w):
    scores = []
    einsum_bi_bj_ij_to_b = "user value"
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, w))
    return scores, einsum_bi_bj_ij_to_b
""",
        inputs([t(2, 3)], [t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "contract_expression_two_functions_same_name",
        """
def run(xs, ys, w):
    scores = []
    for x, y in zip(xs, ys):
        scores.append(torch.einsum("bi,bj,ij->b", x, y, w))
    for x, y in zip(ys, xs):
        scores.append(torch.einsum("bi,bj,ij->b", y, x, w))
    return scores
""",
        inputs([t(2, 3)], [t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "multi_dot_property_count",
        """
import torch
"""
        + COUNTED
        + """

def run(xs, a, b):
    weights = Weights(a)
    out = []
    for x in xs:
        out.append(torch.einsum("ij,jk,kl->il", x, weights.w, b))
    return out
""",
        inputs([t(2, 4), t(2, 4)], t(4, 4), t(4, 3), satisfies=("operand-ranks",)),
    ),
    make(
        "multi_dot_evaluation_order",
        """
import torch

EVENTS = []


def tagged(name, value):
    EVENTS.append(name)
    return value


def run(xs, a, b):
    out = []
    for x in xs:
        out.append(torch.einsum("ij,jk,kl->il", tagged("x", x), tagged("a", a), tagged("b", b)))
    return out
""",
        inputs([t(2, 4)], t(4, 4), t(4, 3), satisfies=("operand-ranks",)),
    ),
    make(
        "multi_dot_in_comprehension_named_torch",
        """
def run(xs, a, b):
    return [torch.einsum("ij,jk,kl->il", x, a, b) for x in xs]
""",
        inputs([t(2, 4)], t(4, 4), t(4, 3), satisfies=("operand-ranks",)),
    ),
    make(
        "multi_dot_three_dimensional",
        """
def run(xs, a, b):
    out = []
    for x in xs:
        out.append(torch.einsum("ij,jk,kl->il", x, a, b))
    return out
""",
        inputs([t(2, 4)], t(4, 4), t(4, 3), satisfies=("operand-ranks",)),
        inputs([t(2, 2, 4)], t(4, 4), t(4, 3), violates=("operand-ranks",)),
    ),
    make(
        "contract_expression_in_while",
        """
def run(xs, ys, w):
    scores = []
    i = 0
    while i < len(xs):
        scores.append(torch.einsum("bi,bj,ij->b", xs[i], ys[i], w))
        i += 1
    return scores
""",
        inputs([t(2, 3), t(2, 3)], [t(2, 4), t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "contract_expression_grad_mode_changes",
        """
def run(xs, ys, w):
    scores = []
    for i, (x, y) in enumerate(zip(xs, ys)):
        with torch.set_grad_enabled(i > 0):
            scores.append(torch.einsum("bi,bj,ij->b", x, y, w))
    return scores
""",
        inputs([t(2, 3), t(2, 3)], [t(2, 4), t(2, 4)], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
]

XFAIL = {}

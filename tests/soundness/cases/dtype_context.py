"""Family 4: dynamic dtype context. Under ``torch.autocast`` matmul-family ops and einsum run in low
precision while ``*`` and ``sum`` stay float32; ``torch.set_default_dtype`` between two factories
changes the operands' dtypes. (Every case of every family also runs under CPU autocast.)"""

from __future__ import annotations

import torch

from ..harness import inputs, program, t

make = program("dtype-context")
AB = inputs(t(3, 4), t(3, 4))
PROVEN = """    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 4)
"""

# The operands' dtype is not stated here, so the sum rewrites assume float-dtypes and no-autocast;
# these programs run the product under autocast themselves (or in a caller) and so violate the latter.
CASES = [
    make(
        "autocast_inside_multiply_sum",
        """
def run(x, y):
"""
        + PROVEN
        + """    with torch.autocast("cpu", dtype=torch.bfloat16):
        return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
        violates=("no-autocast",),
    ),
    make(
        "autocast_in_caller_multiply_sum",
        """
def score(x, y):
"""
        + PROVEN
        + """    return (a * b).sum(-1)


def run(x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return score(x, y)
""",
        AB,
        select=("EIN103",),
        violates=("no-autocast",),
    ),
    make(
        "autocast_decorator_outer_sum",
        """
@torch.autocast("cpu", dtype=torch.bfloat16)
def run(x, y):
"""
        + PROVEN
        + """    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        AB,
        violates=("no-autocast",),
    ),
    make(
        "autocast_outer_sum_in_caller",
        """
def gram(x, y):
"""
        + PROVEN
        + """    return (a[:, :, None] * b[:, None, :]).sum(0)


def run(x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return gram(x, y)
""",
        AB,
        violates=("no-autocast",),
    ),
    make(
        "autocast_matmul_to_einsum_control",
        """
def run(x, y):
"""
        + PROVEN
        + """    with torch.autocast("cpu", dtype=torch.bfloat16):
        return a @ b.T
""",
        AB,
    ),
    make(
        "autocast_disabled_inside",
        """
def run(x, y):
"""
        + PROVEN
        + """    with torch.autocast("cpu", dtype=torch.bfloat16):
        with torch.autocast("cpu", enabled=False):
            return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "set_default_dtype_between_factories",
        """
def run(x, y):
    a = torch.randn(3, 4)
    torch.set_default_dtype(torch.float64)
    b = torch.randn(3, 4)
    return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
        violates=("float-dtypes",),
    ),
    make(
        "set_default_dtype_outer_product",
        """
def run(x, y):
    a = torch.randn(3, 4)
    torch.set_default_dtype(torch.float64)
    b = torch.randn(3, 5)
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        AB,
        violates=("float-dtypes",),
    ),
    make(
        "set_default_dtype_in_helper",
        """
def switch():
    torch.set_default_dtype(torch.float64)


def run(x, y):
    a = torch.zeros(3, 4) + 1.5
    switch()
    b = torch.ones(3, 4)
    return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "set_default_dtype_matmul",
        """
def run(x, y):
    a = torch.randn(3, 4)
    torch.set_default_dtype(torch.float64)
    b = torch.randn(5, 4)
    return a @ b.T
""",
        AB,
    ),
    make(
        "integer_factories_multiply_sum",
        """
def run(x, y):
    a = torch.ones(3, 4, dtype=torch.int32)
    b = torch.arange(12, dtype=torch.int32).view(3, 4)
    return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "bool_factories_outer_sum",
        """
def run(x, y):
    a = torch.ones(3, 4, dtype=torch.bool)
    b = torch.zeros(3, 5, dtype=torch.bool)
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        AB,
    ),
    make(
        "mixed_float_dtypes_multiply_sum",
        """
def run(x, y):
    a = torch.randn(3, 4, dtype=torch.float32)
    b = torch.randn(3, 4, dtype=torch.float64)
    return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "half_and_float_outer_sum",
        """
def run(x, y):
    a = torch.randn(3, 4).half()
    b = torch.randn(3, 5)
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        AB,
        violates=("float-dtypes",),
    ),
    make(
        "parameter_dtypes_multiply_sum",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return (a * b).sum(-1)
""",
        AB,
        inputs(t(3, 4), t(3, 4, dtype=torch.float64), violates=("float-dtypes",)),
        select=("EIN103",),
    ),
    make(
        "autocast_bmm_result_then_sum",
        """
def run(x, y):
    a = torch.as_tensor(x).view(1, 3, 4)
    b = torch.as_tensor(y).view(1, 3, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return torch.bmm(a, b.transpose(1, 2)).sum()
""",
        AB,
    ),
]

# Factories (seeded alike for the original and the fixed run) prove dense float32 operands.
FACTORIES = """    a = torch.randn(3, 4)
    b = torch.randn(3, 4)
"""
CASES += [
    make(
        "factory_multiply_sum_autocast_caller",
        """
def score(x, y):
"""
        + FACTORIES
        + """    return (a * b).sum(-1)


def run(x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return score(x, y)
""",
        AB,
        select=("EIN103",),
        violates=("no-autocast",),
    ),
    make(
        "factory_multiply_sum_autocast_inside",
        """
def run(x, y):
"""
        + FACTORIES
        + """    with torch.autocast("cpu", dtype=torch.bfloat16):
        return torch.sum(a * b, dim=1)
""",
        AB,
        select=("EIN103",),
        violates=("no-autocast",),
    ),
    make(
        "factory_outer_sum_autocast_caller",
        """
def gram(x, y):
"""
        + FACTORIES
        + """    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)


def run(x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return gram(x, y)
""",
        AB,
        violates=("no-autocast",),
    ),
    make(
        "factory_multiply_sum_no_autocast",
        """
def run(x, y):
"""
        + FACTORIES
        + """    return (a * b).sum(-1)
""",
        AB,
        select=("EIN103",),
        autocast=False,
    ),
]

# Dtypes the code converts to, visible in the expression: ``*`` promotes two different ones, einsum
# raises; ``sum`` promotes an integer product to int64, einsum keeps it.
CASES += [
    make(
        "to_float16_against_float_multiply_sum",
        """
def run(x, y):
"""
        + PROVEN
        + """    return (a.float() * b.to(torch.float16)).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "to_bfloat16_keyword_multiply_sum",
        """
def run(x, y):
"""
        + PROVEN
        + """    return (a.double() * b.to(dtype=torch.bfloat16)).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "type_float16_against_float_multiply_sum",
        """
def run(x, y):
"""
        + PROVEN
        + """    return (a.float() * b.type(torch.float16)).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
    make(
        "to_long_multiply_sum",
        """
def run(x, y):
"""
        + PROVEN
        + """    return (a.to(torch.long) * b.to(torch.long)).sum(-1)
""",
        AB,
        select=("EIN103",),
    ),
]

# No dtype stated: the sum rewrites assume float-dtypes. Where that fails, bool operands and mixed
# dtypes must make the rewrite raise; int64 operands give sum's result; integers narrower than int64
# are the documented silent case (einsum keeps int32 where sum gives int64).
INTEGERS = inputs(t(3, 4, dtype=torch.int32), t(3, 4, dtype=torch.int32), violates=("float-dtypes",), label="int32")
CASES += [
    make(
        "unknown_dtype_multiply_sum",
        """
def run(a, b):
    return (a * b).sum(-1)
""",
        inputs(t(3, 4), t(3, 4)),
        inputs(t(2, 3, 4), t(3, 4), label="broadcast batch"),
        inputs(t(3, 4, dtype=torch.int64), t(3, 4, dtype=torch.int64), violates=("float-dtypes",), label="int64"),
        INTEGERS,
        inputs(t(3, 4, dtype=torch.uint8), t(3, 4, dtype=torch.uint8), violates=("float-dtypes",), label="uint8"),
        inputs(t(3, 4, dtype=torch.bool), t(3, 4, dtype=torch.bool), violates=("float-dtypes",), label="bool: einsum raises"),
        inputs(t(3, 4, dtype=torch.float32), t(3, 4, dtype=torch.float64), violates=("float-dtypes",), label="mixed floats: einsum raises"),
        inputs(t(3, 4, dtype=torch.int32), t(3, 4), violates=("float-dtypes",), label="int32 times float: einsum raises"),
        select=("EIN103",),
        satisfies=("operand-ranks",),
    ),
    make(
        "unknown_dtype_outer_sum",
        """
def run(x, y):
    a = x.view(8, 3)
    b = y.view(8, 5)
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        inputs(t(24), t(40)),
        inputs(t(24, dtype=torch.int32), t(40, dtype=torch.int32), violates=("float-dtypes",), label="int32"),
        inputs(t(24, dtype=torch.bool), t(40, dtype=torch.bool), violates=("float-dtypes",), label="bool: einsum raises"),
        inputs(t(24, dtype=torch.float64), t(40), violates=("float-dtypes",), label="mixed floats: einsum raises"),
    ),
    make(
        "unknown_dtype_outer_sum_under_autocast",
        """
def gram(x, y):
    a = x.view(8, 3)
    b = y.view(8, 5)
    return (a[:, :, None] * b[:, None, :]).sum(0)


def run(x, y):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return gram(x, y)
""",
        inputs(t(24), t(40)),
        violates=("no-autocast",),
    ),
]

XFAIL = {}

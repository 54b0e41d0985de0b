"""Family 10: fixpoints. Chains whose fixes overlap are fixed over several rounds; a chain that needs
more rounds than the fixer's limit leaves a file that a second ``--fix`` changes again. The harness
checks every case of every family for this (it fixes the fixed text once more); these cases nest fixes
deeply on purpose."""

from __future__ import annotations

from ..harness import DEFAULT_SELECT, case, inputs, t

FAMILY = "fixpoints"


def _nested(name: str, depth: int, make_level, select=DEFAULT_SELECT, annotated=False, square=3):
    expression = "m0"
    for level in range(1, depth + 1):
        expression = make_level(level, expression)
    names = ", ".join(f"m{level}{': torch.Tensor' if annotated else ''}" for level in range(depth + 1))
    source = f"import torch\n\n\ndef run({names}):\n    return {expression}\n"
    return case(
        name,
        FAMILY,
        source,
        inputs(*[t(square, square) for _ in range(depth + 1)]),
        select=select,
        satisfies=("operand-ranks", "matching-ranks"),
        dtypes=(__import__("torch").float64,),
    )


CASES = [
    _nested("nested_einsum_transposed_last_12", 12, lambda i, e: f'torch.einsum("ij,jk->ik", m{i}, {e}.t())'),
    _nested("nested_einsum_transposed_first_12", 12, lambda i, e: f'torch.einsum("ij,jk->ik", m{i}.t(), {e})'),
    _nested("nested_implicit_output_12", 12, lambda i, e: f'torch.einsum("ij,jk", m{i}, {e}.t())', select=(*DEFAULT_SELECT, "EIN009")),
    _nested("nested_mm_transposed_12", 12, lambda i, e: f"torch.mm(m{i}, {e}.t())", annotated=True),
    _nested("nested_matmul_result_T_12", 12, lambda i, e: f"(m{i} @ {e}).T", annotated=True),
    _nested("nested_bmm_contiguous_6", 6, lambda i, e: f"torch.mm(m{i}, {e}.t().contiguous())", annotated=True),
    _nested("nested_outer_sum_6", 6, lambda i, e: f"(m{i}.unsqueeze(-1) * {e}.unsqueeze(-2)).sum(0)", annotated=True),
    _nested("nested_multiply_sum_in_matmul_6", 6, lambda i, e: f"(m{i} @ {e}.T * m{i}).sum(-1, keepdim=True).expand(3, 3)", annotated=True),
    case(
        "folded_temporary_chain_12",
        FAMILY,
        "import torch\n\n\ndef run(x, y):\n    q = torch.as_tensor(x).view(3, 3)\n    k0 = torch.as_tensor(y).view(3, 3)\n"
        + "".join(f"    k{i + 1} = k{i}.transpose(0, 1)\n" for i in range(12))
        + "    return q @ k12.T\n",
        inputs(t(3, 3), t(3, 3)),
    ),
    case(
        "folded_temporary_chain_13_odd",
        FAMILY,
        "import torch\n\n\ndef run(x, y):\n    q = torch.as_tensor(x).view(3, 3)\n    k0 = torch.as_tensor(y).view(3, 3)\n"
        + "".join(f"    k{i + 1} = k{i}.transpose(0, 1)\n" for i in range(13))
        + "    return q @ k13.T\n",
        inputs(t(3, 3), t(3, 3)),
    ),
    case(
        "einsum_and_matmul_rules_together",
        FAMILY,
        """import torch


def run(x, y):
    a = torch.as_tensor(x).view(4, 3)
    b = torch.as_tensor(y).view(5, 4)
    return torch.einsum("ji,kj->ik", a, b), a.T @ b.T
""",
        inputs(t(4, 3), t(5, 4)),
        select=("EIN1", "EIN121"),
    ),
    case(
        "einsum_to_matmul_alone",
        FAMILY,
        """import torch


def run(x, y):
    a = torch.as_tensor(x).view(4, 3)
    b = torch.as_tensor(y).view(5, 4)
    return torch.einsum("ji,kj->ik", a, b)
""",
        inputs(t(4, 3), t(5, 4)),
        select=("EIN121",),
    ),
]

XFAIL = {}

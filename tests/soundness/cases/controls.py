"""Controls: ordinary programs whose fixes are right. They show that the harness passes equivalent
rewrites (a harness that fails everything proves nothing) and keep the common fixes under test."""

from __future__ import annotations

import torch

from ..harness import inputs, program, t

make = program("controls")
RANKS = ("operand-ranks", "matching-ranks")

CASES = [
    make(
        "attention_scores_view_proven",
        """
def run(hidden, bsz, q_len, heads, head_dim):
    q = hidden.view(bsz, q_len, heads, head_dim).transpose(1, 2)
    k = hidden.view(bsz, q_len, heads, head_dim).transpose(1, 2)
    return torch.matmul(q, k.transpose(2, 3))
""",
        inputs(t(2, 3, 8), 2, 3, 2, 4),
        satisfies=RANKS,
    ),
    make(
        "bmm_annotated",
        """
def run(q: torch.Tensor, k: torch.Tensor):
    return torch.bmm(q, k.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        inputs(t(2, 3, 4, transposed=True), t(2, 5, 4, transposed=True)),
    ),
    make(
        "linear_factory_weight",
        """
def run(x):
    weight = torch.randn(5, 4)
    return x @ weight.T
""",
        inputs(t(2, 3, 4)),
        inputs(t(4)),
        satisfies=RANKS,
    ),
    make(
        "mm_transposed_first",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.mm(a.t(), b)
""",
        inputs(t(4, 3), t(4, 5)),
    ),
    make(
        "permute_matmul",
        """
def run(hidden, value):
    return hidden.permute(0, 2, 1, 3) @ value
""",
        inputs(t(2, 3, 4, 5), t(2, 4, 5, 6)),
        satisfies=RANKS,
    ),
    make(
        "attention_output_transpose",
        """
def run(p, v):
    return torch.matmul(p, v).transpose(1, 2)
""",
        inputs(t(2, 3, 4, 6), t(2, 3, 6, 5)),
        satisfies=RANKS,
    ),
    make(
        "multiply_sum_proven",
        """
def run(x, y):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 4)
    return (a * b).sum(-1), torch.sum(a * b, 0)
""",
        inputs(t(3, 4), t(3, 4)),
        select=("EIN103",),
    ),
    make(
        "outer_product_sum_proven",
        """
def run(x, y):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 5)
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        inputs(t(3, 4), t(3, 5)),
    ),
    make(
        "einsum_transposed_operand",
        """
def run(q, k):
    return torch.einsum("bhqd,bhdk->bhqk", q, k.transpose(-1, -2))
""",
        inputs(t(2, 3, 4, 5), t(2, 3, 6, 5)),
    ),
    make(
        "einsum_permuted_operand",
        """
def run(x, weight):
    return torch.einsum("bhwc,cd->bhwd", x.permute(0, 2, 3, 1), weight)
""",
        inputs(t(2, 3, 4, 5), t(3, 6)),
    ),
    make(
        "einsum_contiguous_copy",
        """
def run(q, k):
    return torch.einsum("bhqd,bhdk->bhqk", q, k.transpose(-1, -2).contiguous())
""",
        inputs(t(2, 3, 4, 5), t(2, 3, 6, 5)),
    ),
    make(
        "einsum_implicit_output",
        """
def run(a, b):
    return torch.einsum("ij,jk", a, b)
""",
        inputs(t(3, 4), t(4, 5)),
        select=("EIN009",),
    ),
    make(
        "einsum_unused_output_ellipsis",
        """
def run(a, b):
    return torch.einsum("ij,jk->...ik", a, b)
""",
        inputs(t(3, 4), t(4, 5)),
    ),
    make(
        "loop_multi_dot_proven",
        """
def run(xs):
    a = torch.ones(8, 8)
    b = torch.ones(8, 4)
    out = []
    for x in xs:
        m = torch.as_tensor(x).view(2, 8)
        out.append(torch.einsum("ij,jk,kl->il", m, a, b))
    return out
""",
        inputs([t(2, 8), t(2, 8)]),
    ),
    make(
        "loop_chain_unsafe_multi_dot",
        """
def run(loader, w1, w2):
    for x in loader:
        y = torch.einsum("bi,ij,jk->bk", x, w1, w2)
    return y
""",
        inputs([t(2, 3), t(2, 3)], t(3, 4), t(4, 5)),
        satisfies=RANKS,
    ),
    make(
        "loop_equation_table",
        """
def run(x):
    out = []
    for mode in range(3):
        out.append(torch.einsum(f"abc->{'abc'[mode]}", x))
    return out
""",
        inputs(t(2, 3, 4)),
    ),
    make(
        "bilinear_contract_expression",
        """
def run(batches, w):
    scores = []
    for x, y in batches:
        scores.append(torch.einsum("bi,bj,ij->b", x, y, w))
    return scores
""",
        inputs([(t(2, 3), t(2, 4)), (t(2, 3), t(2, 4))], t(3, 4), satisfies=("fixed-shapes-in-loops",)),
    ),
    make(
        "matmul_result_mT",
        """
def run(x, w):
    return (x @ w).mT
""",
        inputs(t(2, 3, 4), t(2, 4, 5)),
        satisfies=RANKS,
    ),
    make(
        "swapped_mT_operand",
        """
def run(q, k):
    return q @ k.mT
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        inputs(t(3, 4), t(5, 4)),
        satisfies=RANKS,
    ),
    make(
        "method_bmm_annotated",
        """
def run(query: torch.Tensor, key: torch.Tensor):
    return query.bmm(key.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
    make(
        "integer_bmm_annotated",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b.transpose(1, 2))
""",
        inputs(t(2, 3, 4, dtype=torch.int64), t(2, 5, 4, dtype=torch.int64)),
        dtypes=(torch.float32,),
    ),
    make(
        "fstring_matmul",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return f"{x @ w.transpose(-1, -2)}"
""",
        inputs(t(2, 2), t(2, 2)),
        satisfies=RANKS,
        dtypes=(torch.float64,),
        autocast=False,
        grad=False,
    ),
]

"""Family 8: strictness. einsum broadcasts size-1 dimensions of a shared label where ``mm``/``bmm``/
``matmul`` raise; ``torch.linalg.multi_dot`` accepts 1-D end operands that an einsum term rejects;
EIN121 goes from einsum to matmul. A fix must never turn a raise into a value, nor a value into a
raise."""

from __future__ import annotations

import torch

from ..harness import inputs, program, t

make = program("strictness")
RANKS = ("operand-ranks", "matching-ranks")

CASES = [
    make(
        "matrix_vector_through_column",
        """
def run(A, x):
    return (A @ x.unsqueeze(-1)).squeeze(-1)
""",
        inputs(t(2, 3, 4), t(2, 4)),
        inputs(t(3, 4), t(5, 4), label="one matrix, a batch of vectors"),
        inputs(t(2, 3, 4), t(4), label="1-D vector"),
        inputs(t(3, 1), t(2, 4), label="d 1 vs 4", violates=("matching-sizes",)),
        inputs(t(4), t(2, 4), label="1-D matrix side", violates=("operand-ranks",)),
        inputs(t(3, 1), t(), label="0-D vector", violates=("operand-ranks",)),
    ),
    make(
        "row_times_matrix_bmm",
        """
def run(w, states):
    return torch.bmm(w.unsqueeze(1), states).squeeze(1)
""",
        inputs(t(2, 4), t(2, 4, 3)),
        inputs(t(2, 4), t(1, 4, 3), label="batch 1 vs 2", violates=("matching-sizes",)),
        inputs(t(2, 4, 5), t(2, 4, 3), label="3-D w: bmm raises"),
    ),
    make(
        "bmm_size_one_batch",
        """
def run(q: torch.Tensor, k: torch.Tensor):
    return torch.bmm(q, k.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        inputs(t(2, 3, 4), t(1, 5, 4), label="batch 1 vs 2", violates=("matching-sizes",)),
    ),
    make(
        "bmm_size_one_contracted",
        """
def run(q: torch.Tensor, k: torch.Tensor):
    return torch.bmm(q, k.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        inputs(t(2, 3, 1), t(2, 5, 4), label="d 1 vs 4", violates=("matching-sizes",)),
    ),
    make(
        "mm_size_one_contracted",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.mm(a, b.t())
""",
        inputs(t(3, 4), t(5, 4)),
        inputs(t(3, 1), t(5, 4), label="d 1 vs 4", violates=("matching-sizes",)),
    ),
    make(
        "mm_transposed_first_size_one",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.mm(a.t(), b)
""",
        inputs(t(4, 3), t(4, 5)),
        inputs(t(1, 3), t(4, 5), label="d 1 vs 4", violates=("matching-sizes",)),
    ),
    make(
        "matmul_size_one_contracted",
        """
def run(q, k):
    return torch.matmul(q, k.transpose(-1, -2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        inputs(t(2, 3, 1), t(2, 5, 4), label="d 1 vs 4", violates=("matching-sizes",)),
        satisfies=RANKS,
    ),
    make(
        "matmul_operator_proven_size_one",
        """
def run(x, y, n):
    a = torch.as_tensor(x).view(3, n)
    b = torch.as_tensor(y).view(5, 4)
    return a @ b.T
""",
        inputs(t(3, 4), t(5, 4), 4),
        inputs(t(3, 1), t(5, 4), 1, label="d 1 vs 4", violates=("matching-sizes",)),
    ),
    make(
        "bmm_method_size_one_batch",
        """
def run(q: torch.Tensor, k: torch.Tensor):
    return q.bmm(k.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        inputs(t(1, 3, 4), t(2, 5, 4), label="batch 1 vs 2", violates=("matching-sizes",)),
    ),
    make(
        "matmul_result_transpose_size_one",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b).transpose(1, 2)
""",
        inputs(t(2, 3, 4), t(2, 4, 5)),
        inputs(t(2, 3, 1), t(2, 4, 5), label="d 1 vs 4", violates=("matching-sizes",)),
    ),
    make(
        "multiply_sum_broadcast_control",
        """
def run(x, y):
    a = torch.as_tensor(x).view(3, -1)
    b = torch.as_tensor(y).view(3, 4)
    return (a * b).sum(-1)
""",
        inputs(t(3, 4), t(3, 4)),
        inputs(t(3, 1), t(3, 4), label="broadcast d"),
        select=("EIN103",),
    ),
    make(
        "outer_sum_mismatched_reduced",
        """
def run(x: torch.Tensor, y: torch.Tensor):
    return (x.unsqueeze(-1) * y.unsqueeze(-2)).sum(0)
""",
        inputs(t(3, 4), t(3, 5)),
        inputs(t(1, 4), t(3, 5), label="d 1 vs 3", satisfies=RANKS),
        satisfies=RANKS,
    ),
    make(
        "einsum_view_fold_size_one",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.einsum("ij,jk->ik", a, b.transpose(0, 1))
""",
        inputs(t(3, 4), t(5, 4)),
        inputs(t(3, 1), t(5, 4), label="broadcast j"),
    ),
    make(
        "multi_dot_one_dimensional_end",
        """
def run(xs, a, b):
    out = []
    for x in xs:
        out.append(torch.einsum("ij,jk,kl->il", x, a, b))
    return out
""",
        inputs([t(2, 4)], t(4, 4), t(4, 3)),
        inputs([t(4)], t(4, 4), t(4, 3), label="1-D first operand", violates=("operand-ranks",)),
    ),
    make(
        "multi_dot_proven_size_one",
        """
def run(xs, n):
    a = torch.ones(8, 8)
    b = torch.ones(8, 4)
    out = []
    for x in xs:
        m = torch.as_tensor(x).view(2, n)
        out.append(torch.einsum("ij,jk,kl->il", m, a, b))
    return out
""",
        inputs([t(2, 8)], 8),
        inputs([t(2, 1)], 1, label="j 1 vs 8", violates=("matching-sizes",)),
    ),
    make(
        "einsum_to_matmul_size_one_contracted",
        """
def run(q, k):
    return torch.einsum("bhqd,bhkd->bhqk", q, k)
""",
        inputs(t(2, 3, 4, 5), t(2, 3, 6, 5)),
        inputs(t(2, 3, 4, 1), t(2, 3, 6, 5), label="d 1 vs 5", violates=("matching-sizes",)),
        select=("EIN121",),
    ),
    make(
        "einsum_to_matmul_rank_mismatch",
        """
def run(a, b):
    return torch.einsum("ij,jk->ik", a, b)
""",
        inputs(t(3, 4), t(4, 5)),
        inputs(t(2, 3, 4), t(4, 5), label="3-D a"),
        select=("EIN121",),
    ),
    make(
        "einsum_to_matmul_batch_broadcast",
        """
def run(a, b):
    return torch.einsum("...ij,...jk->...ik", a, b)
""",
        inputs(t(2, 3, 4), t(2, 4, 5)),
        inputs(t(3, 4), t(2, 4, 5)),
        select=("EIN121",),
    ),
    make(
        "einsum_to_matmul_transposed_operands",
        """
def run(a, b):
    return torch.einsum("ji,kj->ik", a, b)
""",
        inputs(t(4, 3), t(5, 4)),
        inputs(t(1, 3), t(5, 4), label="j 1 vs 4", violates=("matching-sizes",)),
        select=("EIN121",),
    ),
    make(
        "einsum_to_matmul_scaled",
        """
def run(a, b, scale):
    return torch.einsum("ij,jk->ik", a * scale, b)
""",
        inputs(t(3, 4), t(4, 5), 2.0),
        inputs(t(3, 4), t(4, 5), t(3, 1), label="tensor scale"),
        select=("EIN121",),
    ),
]

# Chains of three or more matrix products: EIN106 reassociates a chain whose sizes the code states,
# EIN107 (opt-in) writes torch.linalg.multi_dot where every factor is proven 2-D.
CHAINS = ("EIN106", "EIN107")
CASES += [
    make(
        "chain_reassociated_from_factory_sizes",
        """
def run(x, y):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    return a @ b @ c, torch.relu(a.T @ (b.T @ c.T))
""",
        inputs(t(1), t(1)),
        select=CHAINS,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_with_an_empty_inner_size",
        """
def run(x):
    a = torch.zeros(512, 0)
    b = torch.randn(0, 512)
    c = torch.randn(512, 8)
    return a @ b @ c
""",
        inputs(t(1)),
        select=CHAINS,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_mm_methods_to_multi_dot",
        """
def run(x, y, z):
    return x.mm(y).mm(z)
""",
        inputs(t(6, 3), t(3, 40), t(40, 2)),
        inputs(t(3), t(3, 4), t(4, 2), label="1-D first factor: mm raises, multi_dot would not", violates=("operand-ranks",)),
        inputs(t(2, 6, 3), t(3, 4), t(4, 2), label="batched first factor", violates=("operand-ranks",)),
        inputs(t(6, 3), t(4, 40), t(40, 2), label="3 vs 4", violates=("matching-sizes",)),
        select=CHAINS,
    ),
    make(
        "chain_viewed_ends_mm_middle_to_multi_dot",
        """
def run(h, y, v):
    x = h.view(6, 3)
    z = v.view(4, 2)
    return x.mm(y).mm(z)
""",
        inputs(t(18), t(3, 4), t(8)),
        inputs(t(18), t(3), t(8), label="1-D middle factor: mm and multi_dot raise"),
        inputs(t(18), t(2, 3, 4), t(8), label="batched middle factor: mm and multi_dot raise"),
        inputs(t(18), t(3, 5), t(8), label="5 vs 4: both raise"),
        select=CHAINS,
    ),
    make(
        "chain_viewed_sandwich_to_multi_dot",
        """
def run(basis, weights, n, k):
    A = basis.view(n, k)
    P = weights.view(n, n)
    return A.T @ P @ A
""",
        inputs(t(15), t(25), 5, 3),
        select=CHAINS,
    ),
    make(
        "chain_sandwich_unknown_ranks_not_fixed",
        """
def run(A, P):
    return A.T @ P @ A
""",
        inputs(t(5, 3), t(5, 5)),
        inputs(t(5), t(5, 5), label="1-D A"),
        select=CHAINS,
    ),
]

XFAIL = {}

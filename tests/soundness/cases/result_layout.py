"""Family 6: result layout. einsum can return a tensor laid out differently from the matmul-family
original (contiguous where the original was a transposed view, or the other way), and its output
strides can follow its inputs'. A result that escapes meets ``.view``, ``.stride()``,
``.is_contiguous()``, ``.data_ptr`` and in-place ops."""

from __future__ import annotations

from ..harness import inputs, program, t

_make = program("result-layout")
# Every program here hands the result to something that reads its strides, so the assumptions that
# nothing does are false for all of them: an unsafe fix naming one may compute something else (no
# einsum spelling can raise instead), a safe fix is still held to equivalence.
LAYOUT_READ = ("result-layout", "contiguous-result")


def make(name: str, body: str, *input_sets, **options):
    return _make(name, body, *input_sets, violates=LAYOUT_READ, **options)


RANKS = ("operand-ranks", "matching-ranks")
BMM = inputs(t(2, 3, 4), t(2, 4, 5))
BMM_T = inputs(t(2, 3, 4, transposed=True), t(2, 4, 5, transposed=True))
ATTN = inputs(t(2, 3, 4, 6), t(2, 3, 6, 5))

CASES = [
    make(
        "bmm_transpose_then_view",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b).transpose(1, 2).view(2, -1)
""",
        BMM,
    ),
    make(
        "bmm_transpose_is_contiguous",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    out = torch.bmm(a, b).transpose(1, 2)
    return out, out.is_contiguous()
""",
        BMM,
    ),
    make(
        "bmm_transpose_stride",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    out = torch.bmm(a, b).transpose(1, 2)
    return out.stride()
""",
        BMM,
    ),
    make(
        "bmm_transpose_view_in_caller",
        """
def project(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b).transpose(1, 2)


def run(a, b):
    return project(a, b).view(2, -1)
""",
        BMM,
    ),
    make(
        "matrix_result_T_then_view",
        """
def run(x, w):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(w).view(4, 5)
    return (a @ b).T.view(-1)
""",
        inputs(t(3, 4), t(4, 5)),
    ),
    make(
        "matrix_result_T_data_ptr",
        """
def run(x, w):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(w).view(4, 5)
    out = (a @ b).T
    return out.stride(), out.contiguous().data_ptr() == out.data_ptr()
""",
        inputs(t(3, 4), t(4, 5)),
    ),
    make(
        "attention_output_transpose_view",
        """
def run(p: torch.Tensor, v: torch.Tensor):
    out = torch.matmul(p, v).transpose(1, 2)
    return out.reshape(2, 4, -1), out.is_contiguous()
""",
        ATTN,
        satisfies=RANKS,
    ),
    make(
        "attention_output_transpose_view_strict",
        """
def run(p: torch.Tensor, v: torch.Tensor):
    out = torch.matmul(p, v).transpose(1, 2)
    return out.view(2, 4, -1)
""",
        ATTN,
        satisfies=RANKS,
    ),
    make(
        "matmul_transposed_operand_view_result",
        """
def run(q, k):
    x = torch.as_tensor(q).view(2, 3, 4)
    y = torch.as_tensor(k).view(2, 5, 4)
    return torch.matmul(x, y.transpose(1, 2)).view(-1)
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
    make(
        "bmm_transposed_inputs_result_view",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b.transpose(1, 2)).view(-1)
""",
        inputs(t(2, 3, 4, transposed=True), t(2, 5, 4, transposed=True)),
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
    make(
        "bmm_permuted_batch_input_strides",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    out = torch.bmm(a.permute(1, 0, 2), b.transpose(1, 2))
    return out.stride(), out.view(-1)
""",
        inputs(t(3, 2, 4), t(2, 5, 4)),
    ),
    make(
        "result_inplace_through_alias",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    out = torch.bmm(a, b).transpose(1, 2)
    flat = out.reshape(-1)
    flat.mul_(2)
    return out
""",
        BMM,
        BMM_T,
    ),
    make(
        "result_out_argument",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    out = torch.bmm(a, b).transpose(1, 2)
    buffer = torch.empty(2, 5, 3)
    torch.add(out, 1, out=buffer)
    return buffer, out.stride()
""",
        BMM,
        grad=False,
    ),
    make(
        "outer_sum_result_stride",
        """
def run(x, y):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 5)
    out = (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
    return out.stride(), out.view(-1)
""",
        inputs(t(3, 4), t(3, 5)),
    ),
    make(
        "multiply_sum_result_stride",
        """
def run(x, y):
    a = torch.as_tensor(x).view(3, 4, 5)
    b = torch.as_tensor(y).view(3, 4, 5)
    out = (a * b).sum(1)
    return out.stride(), out.view(-1)
""",
        inputs(t(3, 4, 5), t(3, 4, 5)),
        select=("EIN103",),
    ),
    make(
        "einsum_view_operand_result_stride",
        """
def run(x, w):
    a = torch.as_tensor(x).view(2, 4, 3)
    out = torch.einsum("bij,jk->bik", a.transpose(1, 2), w)
    return out.stride(), out.view(-1)
""",
        inputs(t(2, 4, 3), t(4, 5)),
    ),
    make(
        "mT_result_then_view",
        """
def run(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b).mT.view(2, -1)
""",
        BMM,
    ),
    make(
        "result_returned_to_caller_stride",
        """
def project(a: torch.Tensor, b: torch.Tensor):
    return torch.bmm(a, b).transpose(1, 2)


def run(a, b):
    out = project(a, b)
    return out.stride(), out.is_contiguous()
""",
        BMM,
        BMM_T,
    ),
]

# EIN301: multi_dot's result is contiguous, a three-operand einsum's may be a permuted matrix.
CASES += [
    make(
        "multi_dot_in_a_loop_result_viewed",
        """
def run(x):
    a = torch.randn(8, 3)
    b = torch.randn(3, 4)
    flat = []
    for _ in range(2):
        m = torch.randn(5, 8)
        y = torch.einsum("ij,jk,kl->il", m, a, b)
        flat.append(y.view(-1))
    return flat
""",
        inputs(t(1)),
        select=("EIN301",),
    ),
    make(
        "multi_dot_in_a_loop_result_made_contiguous",
        """
def run(x):
    a = torch.randn(8, 3)
    b = torch.randn(3, 4)
    flat = []
    for _ in range(2):
        m = torch.randn(5, 8)
        flat.append(torch.einsum("ij,jk,kl->il", m, a, b).contiguous().view(-1))
    return flat
""",
        inputs(t(1)),
        select=("EIN301",),
    ),
]

XFAIL = {}

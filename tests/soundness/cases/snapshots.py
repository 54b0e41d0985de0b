"""Family 7: a dropped ``.contiguous()``/``.clone()`` was a snapshot: later in-place changes to the
source (also under ``no_grad``), arguments evaluated in order, ``out=`` aliasing the source, and
autograd's saved-tensor version check all see that the copy is gone."""

from __future__ import annotations

import torch

from ..harness import inputs, program, t

make = program("snapshots")
W = inputs(t(4, 4), t(4, 4))

CASES = [
    make(
        "private_copy_source_allocated_into_a_buffer",
        """
def run(x):
    buffer = torch.zeros(4, 5)
    w = torch.randn(4, 5, out=buffer)
    y = x @ w.T.contiguous()
    buffer.mul_(2)
    return y
""",
        inputs(t(3, 5)),
    ),
    make(
        "private_copy_source_sparse",
        """
def run(x):
    w = torch.zeros(5, 3, layout=torch.sparse_coo)
    return x @ w.T.contiguous()
""",
        inputs(t(4, 3)),
    ),
    make(
        "view_folded_before_a_later_operand_transposes_its_receiver",
        """
def run(w):
    x = torch.randn(3, 3)
    return torch.einsum("ij,jk->ik", x.T, x.t_() @ w)
""",
        inputs(t(3, 4)),
    ),
    make(
        "view_folded_before_a_later_operand_scales_its_receiver",
        """
def run(w):
    x = torch.randn(3, 4)
    return torch.einsum("ji,jk->ik", x.T, torch.randn(4, 2)), torch.einsum("ij,jk->ik", x.T, w.mul(2))
""",
        inputs(t(3, 2)),
    ),
    make(
        "bound_copy_read_once",
        """
def run(x, w):
    wt = w.t().contiguous()
    return x @ wt
""",
        inputs(t(3, 4), t(5, 4)),
        inputs(t(3, 4), t(5, 4, transposed=True)),
    ),
    make(
        "bound_copy_einsum",
        """
def run(q, k):
    kt = k.transpose(1, 2).clone()
    return torch.einsum("bij,bjk->bik", q, kt)
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
    make(
        "bound_copy_then_source_changed",
        """
def run(x, w):
    w = w.clone()
    wt = w.t().contiguous()
    w.mul_(2)
    return x @ wt
""",
        inputs(t(3, 4), t(5, 4)),
    ),
    make(
        "bound_copy_then_source_changed_after",
        """
def run(x, y):
    w = torch.as_tensor(y).view(5, 4)
    wt = w.t().contiguous()
    out = x @ wt
    w.add_(1)
    return out
""",
        inputs(t(3, 4), t(5, 4)),
    ),
    make(
        "argument_order_snapshot_matmul",
        """
def run(x, y):
    w = torch.as_tensor(x).view(4, 4)
    return torch.matmul(w.t().contiguous(), w.mul_(2))
""",
        W,
    ),
    make(
        "argument_order_snapshot_einsum",
        """
def run(x, y):
    w = torch.as_tensor(x).view(4, 4)
    return torch.einsum("ij,jk->ik", w.transpose(0, 1).contiguous(), w.add_(1))
""",
        W,
    ),
    make(
        "argument_order_clone_einsum",
        """
def run(x, y):
    w = torch.as_tensor(x).view(4, 4)
    return torch.einsum("ij,jk->ik", w.t().clone(), w.mul_(3))
""",
        W,
    ),
    make(
        "autograd_version_after_matmul",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    with torch.no_grad():
        w.mul_(2)
    return out
""",
        W,
    ),
    make(
        "autograd_version_after_einsum",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.einsum("ij,jk->ik", a, w.t().contiguous())
    w.add_(1)
    return out
""",
        W,
    ),
    make(
        "out_aliases_source_matmul",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4).clone()
    w = torch.as_tensor(y).view(4, 4).clone()
    torch.matmul(a, w.t().contiguous(), out=w)
    return w
""",
        W,
        grad=False,
    ),
    make(
        "bmm_contiguous_then_mutation_via_alias",
        """
def run(x: torch.Tensor, v: torch.Tensor):
    alias = v
    out = torch.bmm(x, v.transpose(1, 2).contiguous())
    alias.mul_(0)
    return out
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
    make(
        "contiguous_temporary_then_mutation",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    wt = w.t().contiguous()
    w.mul_(2)
    return a @ wt
""",
        W,
    ),
    make(
        "clone_temporary_einsum_then_mutation",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    wt = w.transpose(0, 1).clone()
    w.zero_()
    return torch.einsum("ij,jk->ik", a, wt)
""",
        W,
    ),
    make(
        "contiguous_in_list_then_mutation",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = [torch.matmul(a, w.t().contiguous()) for _ in range(1)]
    w.mul_(2)
    return out
""",
        W,
    ),
    make(
        "contiguous_copy_requires_grad_detached",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.matmul(a.detach(), w.t().contiguous().detach())
    return out
""",
        W,
    ),
    make(
        "clone_snapshot_under_no_grad_mutation",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.einsum("ij,jk->ik", a, w.t().clone())
    with torch.no_grad():
        w.add_(1)
    return out * 1
""",
        W,
    ),
    make(
        "contiguous_bmm_saved_for_backward",
        """
def run(x: torch.Tensor, v: torch.Tensor):
    out = torch.bmm(x, v.transpose(1, 2).contiguous())
    v.mul_(2)
    return out
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
    ),
]

CASES += [
    make(
        "helper_changes_source_after",
        """
def bump(x):
    x.mul_(2)


def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    bump(w)
    return out
""",
        W,
    ),
    make(
        "data_change_after_is_silent",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    w.data.mul_(2)
    return out
""",
        W,
    ),
    make(
        "numpy_write_after_is_silent",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4).detach().clone()
    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    w.numpy()[0, 0] = 100.0
    return out
""",
        W,
        dtypes=(torch.float32,),
    ),
    make(
        "container_alias_changed_after",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    store = [w]
    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    store[0].mul_(2)
    return out
""",
        W,
    ),
    make(
        "closure_changes_source_after",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)

    def bump():
        w.mul_(2)

    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    bump()
    return out
""",
        W,
    ),
    make(
        "loop_changes_source_before_next_product",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    outs = []
    for step in range(2):
        if step:
            w.mul_(2)
        outs.append(torch.matmul(a, w.transpose(0, 1).contiguous()))
    return outs
""",
        W,
    ),
    make(
        "out_aliases_source_transpose",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4).clone()
    w = torch.as_tensor(y).view(4, 4).clone()
    torch.matmul(a, w.transpose(0, 1).contiguous(), out=w)
    return w
""",
        W,
        grad=False,
    ),
    make(
        "attribute_source_changed_by_method",
        """
class Layer:
    def __init__(self, w):
        self.w = w

    def grow(self):
        self.w.mul_(2)

    def forward(self, a):
        out = torch.matmul(a, self.w.transpose(0, 1).contiguous())
        self.grow()
        return out


def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    return Layer(torch.as_tensor(y).view(4, 4)).forward(a)
""",
        W,
    ),
    # Controls: the fix stays, safe where the source is private to the function.
    make(
        "private_factory_source_control",
        """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.ones(4, 4)
    return torch.matmul(a, w.transpose(0, 1).contiguous()) + y.sum()
""",
        W,
    ),
    make(
        "parameter_source_unchanged_control",
        """
def run(a: torch.Tensor, w: torch.Tensor):
    return torch.bmm(a, w.transpose(1, 2).contiguous())
""",
        inputs(t(2, 3, 4), t(2, 5, 4), satisfies=("no-inplace-after-copy",)),
    ),
]

"""Family 7: a dropped ``.contiguous()``/``.clone()`` was a snapshot: later in-place changes to the
source (also under ``no_grad``), arguments evaluated in order, ``out=`` aliasing the source, and
autograd's saved-tensor version check all see that the copy is gone."""

from __future__ import annotations

from ..harness import inputs, program, t

make = program("snapshots")
W = inputs(t(4, 4), t(4, 4))

CASES = [
    make("argument_order_snapshot_matmul", """
def run(x, y):
    w = torch.as_tensor(x).view(4, 4)
    return torch.matmul(w.t().contiguous(), w.mul_(2))
""", W),
    make("argument_order_snapshot_einsum", """
def run(x, y):
    w = torch.as_tensor(x).view(4, 4)
    return torch.einsum("ij,jk->ik", w.transpose(0, 1).contiguous(), w.add_(1))
""", W),
    make("argument_order_clone_einsum", """
def run(x, y):
    w = torch.as_tensor(x).view(4, 4)
    return torch.einsum("ij,jk->ik", w.t().clone(), w.mul_(3))
""", W),
    make("autograd_version_after_matmul", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.matmul(a, w.transpose(0, 1).contiguous())
    with torch.no_grad():
        w.mul_(2)
    return out
""", W),
    make("autograd_version_after_einsum", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.einsum("ij,jk->ik", a, w.t().contiguous())
    w.add_(1)
    return out
""", W),
    make("out_aliases_source_matmul", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4).clone()
    w = torch.as_tensor(y).view(4, 4).clone()
    torch.matmul(a, w.t().contiguous(), out=w)
    return w
""", W, grad=False),
    make("bmm_contiguous_then_mutation_via_alias", """
def run(x: torch.Tensor, v: torch.Tensor):
    alias = v
    out = torch.bmm(x, v.transpose(1, 2).contiguous())
    alias.mul_(0)
    return out
""", inputs(t(2, 3, 4), t(2, 5, 4))),
    make("contiguous_temporary_then_mutation", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    wt = w.t().contiguous()
    w.mul_(2)
    return a @ wt
""", W),
    make("clone_temporary_einsum_then_mutation", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    wt = w.transpose(0, 1).clone()
    w.zero_()
    return torch.einsum("ij,jk->ik", a, wt)
""", W),
    make("contiguous_in_list_then_mutation", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = [torch.matmul(a, w.t().contiguous()) for _ in range(1)]
    w.mul_(2)
    return out
""", W),
    make("contiguous_copy_requires_grad_detached", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.matmul(a.detach(), w.t().contiguous().detach())
    return out
""", W),
    make("clone_snapshot_under_no_grad_mutation", """
def run(x, y):
    a = torch.as_tensor(x).view(4, 4)
    w = torch.as_tensor(y).view(4, 4)
    out = torch.einsum("ij,jk->ik", a, w.t().clone())
    with torch.no_grad():
        w.add_(1)
    return out * 1
""", W),
    make("contiguous_bmm_saved_for_backward", """
def run(x: torch.Tensor, v: torch.Tensor):
    out = torch.bmm(x, v.transpose(1, 2).contiguous())
    v.mul_(2)
    return out
""", inputs(t(2, 3, 4), t(2, 5, 4))),
]

XFAIL = {
    "argument_order_snapshot_einsum": "EIN202: the dropped .contiguous() was taken before a later argument's in-place add_",
    "autograd_version_after_matmul": "EIN202: without the copy, backward sees w modified in place (saved-tensor version check)",
    "bmm_contiguous_then_mutation_via_alias": "EIN202: without the copy, an in-place op through an alias breaks backward",
    "contiguous_bmm_saved_for_backward": "EIN202: without the copy, v.mul_ after bmm breaks backward",
}

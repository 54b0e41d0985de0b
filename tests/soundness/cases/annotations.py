"""Family 5: an annotation is not proof of a dense tensor: sparse tensors, subclasses with
``__torch_function__`` (which then see ``einsum`` instead of ``bmm``), wrappers, numpy arrays."""

from __future__ import annotations

import numpy as np
import torch

from ..harness import Custom, inputs, program, t

make = program("annotations")
RANKS = ("operand-ranks", "matching-ranks")


def _sparse(*shape):
    return Custom(lambda dtype, g: torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype).to_sparse())


def _numpy(*shape):
    return Custom(lambda dtype, g: np.asarray(torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype).numpy()))


LOGGED = """
EVENTS = []


class Logged(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        EVENTS.append(getattr(func, "__name__", "?"))
        return super().__torch_function__(func, types, args, kwargs or {})
"""

CASES = [
    make(
        "sparse_bmm_annotated",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return torch.bmm(x, w.transpose(1, 2))
""",
        inputs(_sparse(2, 3, 4), t(2, 5, 4, grad=False)),
        grad=False,
    ),
    make(
        "sparse_mm_annotated",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return torch.mm(x, w.t())
""",
        inputs(_sparse(3, 4), t(5, 4, grad=False)),
        grad=False,
    ),
    make(
        "sparse_matmul_operator_annotated",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return x @ w.T
""",
        inputs(_sparse(3, 4), t(5, 4, grad=False)),
        grad=False,
        satisfies=RANKS,
    ),
    make(
        "sparse_multiply_sum_annotated",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return torch.sum(x * w, 0)
""",
        inputs(_sparse(3, 4), t(3, 4, grad=False)),
        grad=False,
        select=("EIN103",),
        satisfies=RANKS,
    ),
    make(
        "sparse_method_bmm",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return x.bmm(w.transpose(1, 2))
""",
        inputs(_sparse(2, 3, 4), t(2, 5, 4, grad=False)),
        grad=False,
    ),
    make(
        "subclass_sees_bmm",
        """
import torch
"""
        + LOGGED
        + """

def scores(q: torch.Tensor, k: torch.Tensor):
    return torch.bmm(q, k.transpose(1, 2))


def run(q, k):
    return scores(q.as_subclass(Logged), k.as_subclass(Logged))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        violates=("tensor-operands",),
    ),
    make(
        "subclass_sees_mul_sum",
        """
import torch
"""
        + LOGGED
        + """

def score(a: torch.Tensor, b: torch.Tensor):
    return (a * b).sum(-1)


def run(a, b):
    return score(a.as_subclass(Logged), b.as_subclass(Logged))
""",
        inputs(t(3, 4), t(3, 4)),
        select=("EIN103",),
        satisfies=RANKS,
        violates=("tensor-operands",),
    ),
    make(
        "subclass_sees_transpose_in_einsum",
        """
import torch
"""
        + LOGGED
        + """

def mix(x: torch.Tensor, w: torch.Tensor):
    return torch.einsum("bij,jk->bik", x.transpose(1, 2), w)


def run(x, w):
    return mix(x.as_subclass(Logged), w.as_subclass(Logged))
""",
        inputs(t(2, 4, 3), t(4, 5)),
        violates=("tensor-operands",),
    ),
    make(
        "subclass_sees_contiguous",
        """
import torch
"""
        + LOGGED
        + """

def mix(x: torch.Tensor, w: torch.Tensor):
    return torch.bmm(x, w.transpose(1, 2).contiguous())


def run(x, w):
    return mix(x.as_subclass(Logged), w.as_subclass(Logged))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        violates=("tensor-operands",),
    ),
    make(
        "subclass_overrides_matmul",
        """
import torch


class Masked(torch.Tensor):
    def __matmul__(self, other):
        return torch.matmul(self.as_subclass(torch.Tensor), other.as_subclass(torch.Tensor)).relu()


def scores(q: torch.Tensor, k: torch.Tensor):
    return q @ k.transpose(-1, -2)


def run(q, k):
    return scores(q.as_subclass(Masked), k)
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
        violates=("tensor-operands",),
    ),
    make(
        "wrapper_object_annotated",
        """
import torch


class Wrapper:
    def __init__(self, data):
        self.data = data

    def transpose(self, a, b):
        return Wrapper(self.data.transpose(a, b))

    def __matmul__(self, other):
        return self.data @ (other.data if isinstance(other, Wrapper) else other)

    def __rmatmul__(self, other):
        return other @ self.data


def scores(q: torch.Tensor, k: torch.Tensor):
    return torch.matmul(q, k.transpose(1, 2)) if isinstance(k, torch.Tensor) else q @ k.transpose(1, 2)


def run(q, k):
    return scores(q, Wrapper(k))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
        violates=("tensor-operands",),
    ),
    make(
        "numpy_array_annotated",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return x @ w.T
""",
        inputs(_numpy(3, 4), _numpy(5, 4)),
        satisfies=RANKS,
    ),
    make(
        "numpy_array_multiply_sum_annotated",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return (x * w).sum(-1)
""",
        inputs(_numpy(3, 4), _numpy(3, 4)),
        select=("EIN103",),
        satisfies=RANKS,
    ),
    make(
        "parameter_subclass_control",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    weight = torch.nn.Parameter(w)
    return torch.bmm(x, weight.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4, grad=False)),
    ),
    make(
        "complex_annotated_control",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return torch.bmm(x, w.transpose(1, 2))
""",
        inputs(t(2, 3, 4, dtype=torch.complex64, grad=False), t(2, 5, 4, dtype=torch.complex64, grad=False)),
        dtypes=(torch.float32,),
    ),
    make(
        "int_annotated_bmm",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    return torch.bmm(x, w.transpose(1, 2))
""",
        inputs(t(2, 3, 4, dtype=torch.int64), t(2, 5, 4, dtype=torch.int64)),
        dtypes=(torch.float32,),
    ),
    make(
        "optional_annotation_none",
        """
from typing import Optional

import torch


def run(x: torch.Tensor, w: Optional[torch.Tensor] = None):
    if w is None:
        w = x
    return torch.bmm(x, w.transpose(1, 2))
""",
        inputs(t(2, 3, 4)),
    ),
]

# A structured matrix (gpytorch's LinearOperator, say): ``@``, ``permute`` and ``transpose`` work, einsum
# does not. The code that uses it with ``.add_jitter()`` shows it is no tensor: no fix at all.
STRUCTURED = """
class Structured:
    def __init__(self, dense):
        self.dense = dense

    def permute(self, *dims):
        return Structured(self.dense.permute(*dims))

    def transpose(self, first, second):
        return Structured(self.dense.transpose(first, second))

    def add_jitter(self, value):
        return Structured(self.dense + value)

    def __matmul__(self, other):
        return self.dense @ other


def structured(dense):
    return Structured(dense)
"""

CASES += [
    make(
        "structured_matrix_permuted_matmul",
        STRUCTURED
        + """

def run(x, y):
    covar = structured(x)
    jittered = covar.add_jitter(1.0)
    return covar.permute(2, 0, 1) @ y, jittered.dense
""",
        inputs(t(3, 4, 2), t(2, 4, 5)),
    ),
    make(
        "structured_matrix_transposed_into_einsum",
        STRUCTURED
        + """

def run(x, y):
    covar = structured(x)
    return torch.einsum("bij,bjk->bik", covar.add_jitter(0.5).dense, y), covar.transpose(1, 2) @ y
""",
        inputs(t(2, 3, 3), t(2, 3, 5)),
    ),
]

XFAIL: dict[str, str] = {}

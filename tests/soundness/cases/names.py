"""Family 3: names that are not what the import table says: parameters and default-argument
injection, module-level definitions after the import, comprehension and lambda variables, a later
``import torch.nn.functional`` that makes ``torch`` local, TYPE_CHECKING-only imports, ``del``, star
imports. A fix may write ``torch.einsum`` only where that name is the torch module when the line runs."""

from __future__ import annotations

import torch

from ..harness import inputs, program, t

make = program("names")
RANKS = ("operand-ranks", "matching-ranks")
AB = inputs(t(2, 3, 4), t(2, 5, 4))
AB2 = inputs(t(3, 4), t(5, 4))

CASES = [
    make(
        "default_argument_injection",
        """
from torch import matmul


def outer(a, b):
    return a + b.transpose(-1, -2)


def make(matmul=outer):
    def inner(a: torch.Tensor, b: torch.Tensor):
        return matmul(a, b.transpose(1, 2))

    return inner


def run(a, b):
    return make()(a, b)
""".replace("from torch import matmul", "import torch\nfrom torch import matmul"),
        inputs(t(2, 3, 3), t(2, 3, 3)),
        satisfies=RANKS,
    ),
    make(
        "parameter_named_matmul",
        """
import torch
from torch import matmul


def run(a, b, matmul=lambda x, y: x - y):
    return matmul(a, b.transpose(-1, -2))
""",
        inputs(t(2, 3, 3), t(2, 3, 3)),
        satisfies=RANKS,
    ),
    make(
        "module_def_matmul_after_import",
        """
import torch
from torch import matmul


def matmul(a, b):
    return a + b


def run(a: torch.Tensor, b: torch.Tensor):
    return matmul(a, b.transpose(-1, -2))
""",
        inputs(t(3, 3), t(3, 3)),
        satisfies=RANKS,
    ),
    make(
        "module_assign_bmm_after_import",
        """
import torch
from torch import bmm

bmm = torch.add


def run(a: torch.Tensor, b: torch.Tensor):
    return bmm(a, b.transpose(1, 2))
""",
        inputs(t(2, 3, 3), t(2, 3, 3)),
        satisfies=RANKS,
    ),
    make(
        "module_def_einsum_after_import",
        """
import torch
from torch import einsum


def einsum(equation, *operands):
    return operands[0]


def run(a, b):
    return einsum("bij,bkj->bik", a, b.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 4, 5)),
    ),
    make(
        "comprehension_variable_named_torch",
        """
import torch


def run(xs, w):
    ws = torch.as_tensor(w).view(5, 4)
    return [torch @ ws.T for torch in xs]
""",
        inputs([t(3, 4), t(2, 4)], t(5, 4)),
        satisfies=RANKS,
    ),
    make(
        "comprehension_variable_shadows_operand_module",
        """
import torch as t


def run(xs, w: torch.Tensor):
    return [torch.bmm(t, w.transpose(1, 2)) for t in xs]
""".replace("import torch as t", "import torch\nimport torch as t"),
        inputs([t(2, 3, 4)], t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "lambda_parameter_named_torch",
        """
import torch


def run(a, b):
    f = lambda torch: torch @ torch.as_tensor(b).view(5, 4).T
    return f(a)
""",
        AB2,
        satisfies=RANKS,
    ),
    make(
        "later_import_makes_torch_local",
        """
import torch


def run(a, b):
    x = torch.as_tensor(a).view(2, 3, 4)
    y = torch.as_tensor(b).view(2, 5, 4)
    out = torch.matmul(x, y.transpose(1, 2))
    import torch.nn.functional
    return out
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "later_import_torch_local_from_import",
        """
import torch
from torch import matmul


def run(a: torch.Tensor, b: torch.Tensor):
    out = matmul(a, b.transpose(-1, -2))
    import torch.nn.functional
    return torch.nn.functional.relu(out)
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "from_import_only_no_torch_name",
        """
from torch import bmm


def run(a, b):
    return bmm(a, b.transpose(1, 2))
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "from_import_matmul_only",
        """
from torch import matmul, randn


def run(b):
    a = randn(2, 3, 4)
    return matmul(a, b.transpose(-1, -2))
""",
        inputs(t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "type_checking_only_torch",
        """
from typing import TYPE_CHECKING

from torch import bmm

if TYPE_CHECKING:
    import torch


def run(a: "torch.Tensor", b: "torch.Tensor"):
    return bmm(a, b.transpose(1, 2))
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "del_torch_after_use",
        """
import torch
import torch as T

del torch


def run(a: T.Tensor, b: T.Tensor):
    return T.bmm(a, b.transpose(1, 2))
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "del_torch_at_module_end",
        """
import torch
from torch import bmm


def run(a, b):
    return bmm(a, b.transpose(1, 2))


del torch
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "star_import_torch",
        """
from torch import *


def run(a, b):
    return bmm(a, b.transpose(1, 2))
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "star_import_after_torch",
        """
import torch
from torch import matmul
from operator import *


def run(a: torch.Tensor, b: torch.Tensor):
    return matmul(a, b.transpose(-1, -2))
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "local_assignment_shadows_torch",
        """
import torch


def run(a, b):
    x = torch.as_tensor(a).view(2, 3, 4)
    y = torch.as_tensor(b).view(2, 5, 4)
    result = torch.matmul(x, y.transpose(1, 2))
    torch = None
    return result
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "class_attribute_named_torch",
        """
import torch


class Model:
    torch = torch

    def run(self, a: torch.Tensor, b: torch.Tensor):
        return torch.bmm(a, b.transpose(1, 2))


def run(a, b):
    return Model().run(a, b)
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "global_torch_rebound",
        """
import torch

REAL = torch


def run(a: REAL.Tensor, b: REAL.Tensor):
    global torch
    torch = None
    try:
        return REAL.bmm(a, b.transpose(1, 2))
    finally:
        torch = REAL
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "aliased_import_torch_as_t",
        """
import torch as t


def run(a: t.Tensor, b: t.Tensor):
    return t.bmm(a, b.transpose(1, 2))
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "einsum_alias_from_import",
        """
from torch import einsum as es


def run(a, b):
    return es("bij,bjk->bik", a, b.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "nested_function_parameter_torch",
        """
import torch


def run(a, b):
    def inner(torch):
        return torch.bmm(a, b.transpose(1, 2))

    return inner(torch)
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "except_binding_named_torch",
        """
import torch


def run(a, b):
    x = torch.as_tensor(a).view(2, 3, 4)
    y = torch.as_tensor(b).view(2, 5, 4)
    out = torch.matmul(x, y.transpose(1, 2))
    try:
        pass
    except Exception as torch:
        pass
    return out
""",
        AB,
        satisfies=RANKS,
    ),
    make(
        "for_target_named_torch",
        """
import torch


def run(a, b):
    x = torch.as_tensor(a).view(2, 3, 4)
    y = torch.as_tensor(b).view(2, 5, 4)
    out = torch.matmul(x, y.transpose(1, 2))
    for torch in []:
        pass
    return out
""",
        AB,
        satisfies=RANKS,
    ),
]

# The module replaces torch's own functions or tensor methods: the names no longer mean torch's.
CHAIN = ("EIN106", "EIN201")
CASES += [
    make(
        "torch_factory_replaced_by_the_module",
        """
import torch


class Symbol:
    def __init__(self, name):
        self.name = name

    def __matmul__(self, other):
        return Symbol("(" + self.name + other.name + ")")


def run(x):
    names = iter("abc")
    original = torch.randn
    setattr(torch, "randn", lambda *sizes, **options: Symbol(next(names)))
    try:
        a = torch.randn(512, 8)
        b = torch.randn(8, 512)
        c = torch.randn(512, 8)
        return len((a @ b @ c).name) + 10 * (a @ b @ c).name.index("c")
    finally:
        torch.randn = original
""",
        inputs(t(1)),
        select=CHAIN,
        autocast=False,
        grad=False,
    ),
    make(
        "tensor_matmul_replaced_by_the_module",
        """
import torch


def run(x):
    original = torch.Tensor.__matmul__
    torch.Tensor.__matmul__ = lambda self, other: original(self, other).clamp(max=1.0)
    try:
        a = torch.randn(512, 8)
        b = torch.randn(8, 512)
        c = torch.randn(512, 8)
        return a @ b @ c
    finally:
        torch.Tensor.__matmul__ = original
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
    make(
        "backend_setting_stored_control",
        """
import torch

torch.backends.cudnn.benchmark = True


def run(w):
    x = torch.randn(2, 3, 4)
    return torch.einsum("cab,cd->abd", x.permute(2, 0, 1), w)
""",
        inputs(t(4, 5)),
        select=CHAIN,
    ),
]

XFAIL = {}

"""Family 2: rank and shape facts that stop being true: facts from factories, views, ``b, n, d =
x.shape``, asserts or module-level assignments, invalidated by in-place shape ops (through aliases
too), by ``global`` rebinding, by loops."""

from __future__ import annotations

import torch

from ..harness import inputs, program, t

make = program("stale-facts")
RANKS = ("operand-ranks", "matching-ranks")
XW = inputs(t(2, 3, 4), t(5, 4))

CASES = [
    make(
        "factory_then_unsqueeze_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(2, 3, 4)
    a.unsqueeze_(0)
    return torch.matmul(a, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "factory_then_alias_unsqueeze_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(2, 3, 4)
    b = a
    b.unsqueeze_(0)
    return torch.matmul(a, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "factory_then_squeeze_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(1, 6, 4)
    a.squeeze_(0)
    return torch.matmul(a, w.transpose(-1, -2))
""",
        inputs(t(1, 6, 4), t(5, 4)),
        satisfies=RANKS,
    ),
    make(
        "factory_then_resize_",
        """
def run(x, w):
    a = torch.as_tensor(x).clone().view(2, 3, 4)
    with torch.no_grad():
        a.resize_(6, 4)
    return torch.matmul(a, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
        grad=False,
    ),
    make(
        "factory_then_as_strided_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(2, 3, 4)
    a.as_strided_((6, 4), (4, 1))
    return torch.matmul(a, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "factory_then_set_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(2, 3, 4)
    with torch.no_grad():
        a.set_(torch.zeros(6, 4))
    return torch.matmul(a, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
        grad=False,
    ),
    make(
        "factory_then_transpose_rank_kept",
        """
def run(x, w):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(w).view(4, 4)
    b.t_()
    return a @ b.T
""",
        inputs(t(3, 4), t(4, 4)),
    ),
    make(
        "shape_unpack_then_unsqueeze_",
        """
def run(x, w):
    b, n, d = x.shape
    x.unsqueeze_(0)
    return torch.matmul(x, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "assert_then_unsqueeze_",
        """
def run(x: torch.Tensor, w: torch.Tensor):
    assert x.dim() == 3
    x.unsqueeze_(0)
    return torch.bmm(x.squeeze(0), w.transpose(1, 2))
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
    make(
        "module_fact_global_rebinding",
        """
W = torch.randn(5, 4)


def grow():
    global W
    W = W.unsqueeze(0).expand(2, 5, 4)


def run(x):
    grow()
    return x @ W.T
""",
        inputs(t(2, 3, 4)),
        satisfies=RANKS,
    ),
    make(
        "module_fact_rebound_by_caller",
        """
W = torch.randn(5, 4)


def score(x):
    return x @ W.T


def run(x):
    global W
    W = torch.randn(2, 5, 4)
    return score(x)
""",
        inputs(t(2, 3, 4)),
        satisfies=RANKS,
    ),
    make(
        "module_fact_rebound_in_other_function",
        """
W = torch.randn(5, 4)


def load(v):
    global W
    W = v


def run(x, v):
    load(v)
    return (x * W).sum(-1)
""",
        inputs(t(3, 4), t(3, 4)),
        satisfies=RANKS,
    ),
    make(
        "loop_rebinding_changes_rank",
        """
def run(x, w):
    h = torch.as_tensor(x).view(3, 4)
    outs = []
    for _ in range(2):
        outs.append(torch.matmul(h, w.transpose(-1, -2)))
        h = h.unsqueeze(0)
    return outs
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "loop_inplace_changes_rank",
        """
def run(x, w):
    h = torch.as_tensor(x).view(3, 4)
    outs = []
    for _ in range(2):
        outs.append(h @ w.T)
        h.unsqueeze_(0)
    return outs
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "branch_rebinding_changes_rank",
        """
def run(x, w, flag):
    h = torch.as_tensor(x).view(3, 4)
    if flag:
        h = h.unsqueeze(0)
    return torch.matmul(h, w.transpose(-1, -2))
""",
        inputs(t(3, 4), t(5, 4), True),
        inputs(t(3, 4), t(5, 4), False),
        satisfies=RANKS,
    ),
    make(
        "nonlocal_changes_rank",
        """
def run(x, w):
    h = torch.as_tensor(x).view(3, 4)

    def grow():
        nonlocal h
        h = h.unsqueeze(0)

    grow()
    return torch.matmul(h, w.transpose(-1, -2))
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "multiply_sum_after_unsqueeze_",
        """
def run(x, y):
    a = torch.as_tensor(x).view(3, 4)
    b = torch.as_tensor(y).view(3, 4)
    a.unsqueeze_(1)
    return (a * b).sum(-1)
""",
        inputs(t(3, 4), t(3, 4)),
        satisfies=RANKS,
    ),
    make(
        "outer_sum_after_squeeze_",
        """
def run(x, y):
    a = torch.as_tensor(x).view(1, 3, 4)
    b = torch.as_tensor(y).view(3, 5)
    a.squeeze_(0)
    return (a.unsqueeze(-1) * b.unsqueeze(-2)).sum(0)
""",
        inputs(t(1, 3, 4), t(3, 5)),
        satisfies=RANKS,
    ),
    make(
        "einsum_rank_fact_after_unsqueeze_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(3, 4)
    a.unsqueeze_(0)
    return torch.einsum("ij,kj->ik", a.squeeze(0), w)
""",
        inputs(t(3, 4), t(5, 4)),
        satisfies=RANKS,
    ),
    make(
        "shape_fact_before_alias_transpose_",
        """
def run(x, w):
    a = torch.as_tensor(x).view(4, 4)
    b = a
    b.t_()
    return (a.unsqueeze(-1) * torch.as_tensor(w).view(4, 4).unsqueeze(-2)).sum(0)
""",
        inputs(t(4, 4), t(4, 4)),
        satisfies=RANKS,
    ),
    make(
        "while_loop_rank_growth",
        """
def run(x, w):
    h = torch.as_tensor(x).view(3, 4)
    out = None
    n = 0
    while n < 2:
        out = h @ w.mT
        h = torch.stack([h, h])
        n += 1
    return out
""",
        XW,
        satisfies=RANKS,
    ),
]

# The same hazards with both operands proven (views of known shape built in the function), so that
# a fix is safe and rests on the rank facts alone.
_PROVEN = """def run(x, w_in):
    w = torch.as_tensor(w_in).view(5, 4)
"""
CASES += [
    make(f"{name}_proven", "def run(x, w_in):\n    w = torch.as_tensor(w_in).view(5, 4)\n" + body, *sets, satisfies=RANKS, **options)
    for name, body, sets, options in [
        ("unsqueeze_", "    a = torch.as_tensor(x).view(2, 3, 4)\n    a.unsqueeze_(0)\n    return torch.matmul(a, w.transpose(-1, -2))\n", (XW,), {}),
        ("alias_unsqueeze_", "    a = torch.as_tensor(x).view(2, 3, 4)\n    b = a\n    b.unsqueeze_(0)\n    return a @ w.T\n", (XW,), {}),
        ("squeeze_", "    a = torch.as_tensor(x).view(1, 6, 4)\n    a.squeeze_(0)\n    return a @ w.T\n", (inputs(t(1, 6, 4), t(5, 4)),), {}),
        (
            "alias_squeeze_",
            "    a = torch.as_tensor(x).view(1, 6, 4)\n    alias = a\n    alias.squeeze_(0)\n    return torch.matmul(a, w.mT)\n",
            (inputs(t(1, 6, 4), t(5, 4)),),
            {},
        ),
        ("as_strided_", "    a = torch.as_tensor(x).view(2, 3, 4)\n    a.as_strided_((6, 4), (4, 1))\n    return a @ w.T\n", (XW,), {}),
        (
            "alias_as_strided_",
            "    a = torch.as_tensor(x).view(2, 3, 4)\n    alias = a\n    alias.as_strided_((6, 4), (4, 1))\n    return a @ w.T\n",
            (XW,),
            {},
        ),
        (
            "resize_",
            "    a = torch.as_tensor(x).clone().view(2, 3, 4)\n    with torch.no_grad():\n        a.resize_(6, 4)\n    return a @ w.T\n",
            (XW,),
            {"grad": False},
        ),
        (
            "alias_resize_",
            "    a = torch.as_tensor(x).clone().view(2, 3, 4)\n    alias = a\n    with torch.no_grad():\n        alias.resize_(6, 4)\n    return a @ w.T\n",
            (XW,),
            {"grad": False},
        ),
        (
            "alias_set_",
            "    a = torch.as_tensor(x).view(2, 3, 4)\n    alias = a\n    with torch.no_grad():\n        alias.set_(torch.zeros(6, 4))\n    return a @ w.T\n",
            (XW,),
            {"grad": False},
        ),
        ("helper_unsqueeze_", "    a = torch.as_tensor(x).view(2, 3, 4)\n    grow(a)\n    return a @ w.T\n", (XW,), {}),
        ("data_assign_rank", "    a = torch.as_tensor(x).view(2, 3, 4)\n    a.data = a.data.reshape(6, 4)\n    return a @ w.T\n", (XW,), {}),
        (
            "alias_data_assign_rank",
            "    a = torch.as_tensor(x).view(2, 3, 4)\n    alias = a\n    alias.data = alias.data.reshape(1, 2, 3, 4)\n    return a @ w.T\n",
            (XW,),
            {},
        ),
        (
            "loop_alias_unsqueeze_",
            "    a = torch.as_tensor(x).view(3, 4)\n    alias = a\n    outs = []\n    for _ in range(2):\n        outs.append(a @ w.T)\n        alias.unsqueeze_(0)\n    return outs\n",
            (XW,),
            {},
        ),
    ]
]

# More routes by which the tensor a proven name holds changes shape in place without the name being
# rebound: containers, walrus, getattr, the unbound method, out=, lambdas and nested functions,
# generators, method helpers, module-level facts under ``global``, loops. Each has both operands
# proven, so that a stale rank would make the fix safe and wrong.
_HEADER = "def run(x, w_in):\n    w = torch.as_tensor(w_in).view(5, 4)\n    a = torch.as_tensor(x).view(2, 3, 4)\n"
_MORE = [
    ("container_alias_unsqueeze_", "    box = [a]\n    box[0].unsqueeze_(0)\n    return a @ w.T\n"),
    ("dict_alias_unsqueeze_", "    box = {'t': a}\n    box['t'].unsqueeze_(0)\n    return torch.matmul(a, w.mT)\n"),
    ("append_alias_unsqueeze_", "    box = []\n    box.append(a)\n    for item in box:\n        item.unsqueeze_(0)\n    return a @ w.T\n"),
    ("tuple_unpack_alias_unsqueeze_", "    first, second = a, w\n    first.unsqueeze_(0)\n    return a @ w.T\n"),
    ("walrus_alias_unsqueeze_", "    if (alias := a) is not None:\n        alias.unsqueeze_(0)\n    return a @ w.T\n"),
    ("ifexp_alias_unsqueeze_", "    alias = a if w.ndim else w\n    alias.unsqueeze_(0)\n    return a @ w.T\n"),
    ("boolop_alias_unsqueeze_", "    alias = a or w\n    alias.unsqueeze_(0)\n    return a @ w.T\n"),
    ("contiguous_alias_unsqueeze_", "    a.contiguous().unsqueeze_(0)\n    return a @ w.T\n"),
    ("float_alias_squeeze_", "    alias = a.float()\n    alias.unsqueeze_(0)\n    return a @ w.T\n"),
    ("as_tensor_alias_unsqueeze_", "    alias = torch.as_tensor(a)\n    alias.unsqueeze_(0)\n    return a @ w.T\n"),
    ("inplace_result_alias", "    alias = a.mul_(1)\n    alias.unsqueeze_(0)\n    return a @ w.T\n"),
    ("inplace_in_expression", "    b = a.unsqueeze_(0)\n    return torch.matmul(a, w.mT) + 0 * b.sum()\n"),
    ("getattr_unsqueeze_", "    getattr(a, 'unsqueeze_')(0)\n    return a @ w.T\n"),
    ("bound_method_unsqueeze_", "    grow = a.unsqueeze_\n    grow(0)\n    return a @ w.T\n"),
    ("unbound_method_unsqueeze_", "    torch.Tensor.unsqueeze_(a, 0)\n    return a @ w.T\n"),
    ("unbound_method_alias_t_", "    alias = a\n    torch.Tensor.squeeze_(alias, 0)\n    return a.unsqueeze(0) @ w.T\n"),
    ("lambda_capture_unsqueeze_", "    grow = lambda: a.unsqueeze_(0)\n    grow()\n    return a @ w.T\n"),
    ("nested_function_unsqueeze_", "    def grow():\n        a.unsqueeze_(0)\n\n    grow()\n    return a @ w.T\n"),
    ("nested_helper_argument", "    def grow(t):\n        t.unsqueeze_(0)\n\n    grow(a)\n    return a @ w.T\n"),
    ("method_helper_argument", "    helper = Helper()\n    helper.grow(a)\n    return a @ w.T\n"),
    ("stored_then_helper", "    helper = Helper()\n    helper.kept = a\n    helper.grow_kept()\n    return a @ w.T\n"),
    ("out_argument_resizes", "    torch.matmul(w, w.T, out=a)\n    return torch.matmul(a, w.mT)\n"),
    ("generator_consumer_unsqueeze_", "    def items():\n        yield a\n\n    for item in items():\n        item.unsqueeze_(0)\n    return a @ w.T\n"),
    ("alias_data_dtype", "    alias = a\n    alias.data = alias.data.reshape(6, 4)\n    return torch.matmul(a, w.mT)\n"),
    (
        "loop_container_unsqueeze_",
        "    box = [a]\n    outs = []\n    for _ in range(2):\n        outs.append(a @ w.T)\n        box[0].unsqueeze_(0)\n    return outs\n",
    ),
    ("while_loop_helper", "    outs = []\n    n = 0\n    while n < 2:\n        outs.append(a @ w.T)\n        grow(a)\n        n += 1\n    return outs\n"),
    ("loop_header_use", "    outs = []\n    while len(outs) < 2 and (a @ w.T).ndim:\n        outs.append(1)\n        grow(a)\n    return outs, a @ w.T\n"),
]
_HELPERS = """def grow(t):
    t.unsqueeze_(0)


class Helper:
    kept = None

    def grow(self, t):
        t.unsqueeze_(0)

    def grow_kept(self):
        self.kept.unsqueeze_(0)


"""
CASES += [make(name, _HELPERS + _HEADER + body, XW, satisfies=RANKS, grad=False) for name, body in _MORE]
CASES += [
    make(
        "module_fact_global_unsqueeze",
        """
A = torch.randn(2, 3, 4)
W = torch.randn(5, 4)


def grow():
    global A
    A = A.unsqueeze(0)


grow()
OUT = A @ W.T


def run(x):
    return OUT + 0 * x.sum()
""",
        inputs(t(3)),
        satisfies=RANKS,
    ),
    make(
        "nonlocal_rank_rebinding_proven",
        """
def run(x, w_in):
    w = torch.as_tensor(w_in).view(5, 4)
    h = torch.as_tensor(x).view(2, 3, 4)

    def grow():
        nonlocal h
        h = h.unsqueeze(0)

    grow()
    return h @ w.T
""",
        XW,
        satisfies=RANKS,
    ),
    make(
        "nonlocal_inner_rebinding_proven",
        """
def run(x, w_in):
    w = torch.as_tensor(w_in).view(5, 4)
    h = torch.as_tensor(x).view(2, 3, 4)

    def outer():
        def grow():
            nonlocal h
            h = h.unsqueeze(0)

        return grow

    outer()()
    return h @ w.T
""",
        XW,
        satisfies=RANKS,
    ),
]
# Controls: the same facts where nothing can reach the tensor (a helper before the fact, a view kept
# instead of the tensor, a mutation of another tensor): the fix stays safe and is equivalent.
CASES += [
    make(name, _HELPERS + _HEADER + body, XW, satisfies=RANKS, grad=False)
    for name, body in [
        ("control_helper_before_binding", "    c = torch.ones(3)\n    grow(c)\n    b = torch.as_tensor(x).view(2, 3, 4)\n    return b @ w.T\n"),
        ("control_view_kept", "    box = [a[0]]\n    box[0].unsqueeze_(0)\n    return a @ w.T\n"),
        ("control_helper_after_use", "    out = a @ w.T\n    grow(a)\n    return out\n"),
    ]
]

CASES = [
    case
    if "grow(a)" not in case.source or "def grow(" in case.source
    else __import__("dataclasses").replace(case, source=case.source.replace("def run(", "def grow(t):\n    t.unsqueeze_(0)\n\n\ndef run(", 1))
    for case in CASES
]

# A chain's factor facts (EIN106) against what the file itself does to the factor between the factory
# and the chain: replace it through the module's namespace, give it another class, or shadow a method.
CHAIN = ("EIN106", "EIN201")
CASES += [
    make(
        "module_chain_factor_rebound_through_globals",
        """
a = torch.randn(512, 8)
b = torch.randn(8, 512)
c = torch.randn(512, 8)


def widen():
    globals()["b"] = torch.randn(8)


widen()
y = a @ b @ c


def run(x):
    return y
""",
        inputs(t(1)),
        select=CHAIN,
    ),
    make(
        "chain_factor_given_another_class",
        """
class Scaled(torch.Tensor):
    def __matmul__(self, other):
        return torch.zeros(1)


def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    b.__class__ = Scaled
    return a @ b @ c
""",
        inputs(t(1)),
        select=CHAIN,
        grad=False,
        autocast=False,
    ),
    make(
        "view_receiver_with_its_permute_shadowed",
        """
def run(w):
    x = torch.randn(2, 3, 4)
    x.permute = lambda *dims: torch.zeros(4, 2, 3)
    return torch.einsum("cab,cd->abd", x.permute(2, 0, 1), w)
""",
        inputs(t(4, 5)),
        select=CHAIN,
    ),
    make(
        "chain_factor_grad_stored_control",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    b.requires_grad = True
    b.grad = None
    return a @ b @ c
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
]

# The middle factor made 1-D after the chain's statement or through another name: (a @ b) @ c still
# runs, a @ (b @ c) raises.
CASES += [
    make(
        "chain_in_a_lambda_called_after_a_resize",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    product = lambda: a @ b @ c
    b.resize_(8)
    return product()
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_in_a_generator_expression_consumed_after_a_resize",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    products = (a @ b @ c for _ in range(2))
    b.resize_(8)
    return list(products)
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_factor_resized_as_a_comprehension_variable",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    [factor.resize_(8) for factor in (b,)]
    return a @ b @ c
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_factor_resized_through_torch_flatten",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    torch.flatten(b, 0, 0).resize_(8)
    return a @ b @ c
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_factor_resized_by_its_setstate",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    b.__setstate__((torch.randn(8).untyped_storage(), 0, (8,), (1,)))
    return a @ b @ c
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
    make(
        "chain_factor_iterated_control",
        """
def run(x):
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    rows = [row.sum() for row in b]
    return a @ b @ c, rows
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    ),
]

# Routes by which the middle factor of a chain whose sizes factories state becomes 1-D (or is rebound)
# before the chain runs: (a @ b) @ c still computes, a @ (b @ c) would raise. Each keeps EIN106's fix
# away today.
_CHAIN_HEADER = "    a = torch.randn(512, 8)\n    b = torch.randn(8, 512)\n    c = torch.randn(512, 8)\n"
_CHAIN_ROUTES = [
    ("chain_factor_rebound_by_a_comprehension_walrus", "    [(b := torch.randn(8)) for _ in range(1)]\n"),
    ("chain_factor_resized_in_an_assert", "    assert b.resize_(8) is not None\n"),
    ("chain_factor_resized_in_an_f_string", '    note = f"{b.resize_(8).shape}"\n'),
    ("chain_factor_resized_through_map", "    list(map(lambda t: t.resize_(8), [b]))\n"),
    ("chain_factor_swapped_by_swap_tensors", "    torch.utils.swap_tensors(b, torch.randn(8))\n"),
    ("chain_factor_resized_through_a_dict_entry", '    box = {"b": b}\n    box["b"].resize_(8)\n'),
    ("chain_factor_resized_by_a_default_argument", "    def later(t=b.resize_(8)):\n        return t\n\n"),
]
CASES += [
    make(name, "def run(x):\n" + _CHAIN_HEADER + body + "    return a @ b @ c\n", inputs(t(1)), select=CHAIN, dtypes=(torch.float64,))
    for name, body in _CHAIN_ROUTES
]
CASES.append(
    make(
        "chain_in_a_generator_whose_factor_the_consumer_resizes",
        """
def products():
    a = torch.randn(512, 8)
    b = torch.randn(8, 512)
    c = torch.randn(512, 8)
    yield b
    yield a @ b @ c


def run(x):
    steps = products()
    next(steps).resize_(8)
    return next(steps)
""",
        inputs(t(1)),
        select=CHAIN,
        dtypes=(torch.float64,),
    )
)

XFAIL: dict[str, str] = {}

"""Family 1: a folded temporary (``kt = k.transpose(-1, -2)`` used once) moves a view past code that
changes its base: in-place ops through aliases, chained in-place calls, ``.data =``, ``requires_grad_``,
grad mode, ``nonlocal``/``global`` rebinding, mutation inside helpers."""

from __future__ import annotations

from ..harness import case, inputs, t

FAMILY = "folded-temporary"
# q: (b, n, d), k: (b, b, d) so that reordering k's first two dimensions keeps its shape.
QK = inputs(t(2, 3, 4), t(2, 2, 4))
QK_WIDE = inputs(t(2, 3, 4), t(2, 5, 4))


RANKS = ("operand-ranks", "matching-ranks")
PROVEN_HEADER = """def run(qin, kin):
    q = torch.as_tensor(qin).view(2, 3, 4)
    k = torch.as_tensor(kin).view(2, 2, 4)
"""


def _fold(name: str, body: str, *sets, proven: bool = True, **options):
    """The case as written (operands are parameters: unsafe fixes, inputs of the ranks the code implies)
    and, where the body reads ``q`` and ``k`` of ``run``, a variant whose operands are proven dense
    tensors of known rank, built in the function, so that the fix is safe."""
    source = "import torch\n\n\n" + body.strip("\n") + "\n"
    made = [case(name, FAMILY, source, *(sets or (QK,)), satisfies=RANKS, **options)]
    if proven and "def run(q, k):\n" in source and not sets:
        made.append(case(name + "_proven", FAMILY, source.replace("def run(q, k):\n", PROVEN_HEADER), QK, satisfies=RANKS, **options))
    return made


_GROUPS = [
    _fold(
        "plain_fold_control",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    return torch.matmul(q, kt)
""",
        QK,
        QK_WIDE,
    ),
    _fold(
        "alias_transpose_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    keys = k
    keys.transpose_(0, 1)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "direct_transpose_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k.transpose_(0, 1)
    return q @ kt
""",
    ),
    _fold(
        "chained_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k.transpose_(0, 1).mul_(2)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "data_assign_through_alias",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    alias = k
    alias.data = torch.ones_like(k)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "data_assign_direct",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k.data = k.data.flip(0)
    return q @ kt
""",
    ),
    _fold(
        "requires_grad_after_view",
        """
def run(q, k):
    k = k.detach()
    kt = k.transpose(-1, -2)
    k.requires_grad_()
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "no_grad_definition",
        """
def run(q, k):
    with torch.no_grad():
        kt = k.transpose(-1, -2)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "set_grad_enabled_between",
        """
def run(q, k):
    torch.set_grad_enabled(False)
    kt = k.transpose(-1, -2)
    torch.set_grad_enabled(True)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "enable_grad_use",
        """
def run(q, k):
    with torch.no_grad():
        kt = k.transpose(-1, -2)
        with torch.enable_grad():
            return q @ kt
""",
    ),
    _fold(
        "nonlocal_rebinding",
        """
def run(q, k):
    kt = k.transpose(-1, -2)

    def swap():
        nonlocal k
        k = k.flip(0)

    swap()
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "global_rebinding",
        """
K = None


def rebind():
    global K
    K = K.flip(0)


def run(q, k):
    global K
    K = k
    kt = K.transpose(-1, -2)
    rebind()
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "mutation_in_helper",
        """
def shuffle(x):
    x.transpose_(0, 1)


def run(q, k):
    kt = k.transpose(-1, -2)
    shuffle(k)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "mutation_through_container",
        """
def run(q, k):
    store = [k]
    kt = k.transpose(-1, -2)
    store[0].transpose_(0, 1)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "unsqueeze_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k.unsqueeze_(0)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "set_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    with torch.no_grad():
        k.set_(k.flip(0).contiguous())
    return torch.matmul(q, kt)
""",
        grad=False,
    ),
    _fold(
        "walrus_alias_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    (keys := k).transpose_(0, 1)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "unbound_method_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    torch.Tensor.transpose_(k, 0, 1)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "getattr_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    getattr(k, "transpose_")(0, 1)
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "swap_assignment",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k, q = q, k
    return torch.matmul(k, kt)
""",
        inputs(t(2, 2, 4), t(2, 2, 4)),
    ),
    _fold(
        "augmented_assignment_rebinds",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k += 1
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "attribute_mutation_self",
        """
class Attention:
    def __init__(self, k):
        self.k = k

    def scores(self, q):
        kt = self.k.transpose(-1, -2)
        self.k = self.k.flip(0)
        return torch.matmul(q, kt)


def run(q, k):
    return Attention(k).scores(q)
""",
    ),
    _fold(
        "bmm_fold_alias_inplace",
        """
def run(q, k):
    kt = k.transpose(1, 2)
    alias = k
    alias.transpose_(0, 1)
    return torch.bmm(q, kt)
""",
    ),
    _fold(
        "outer_product_fold_inplace",
        """
def run(x, y):
    xs = x.unsqueeze(-1)
    ys = y.unsqueeze(-2)
    x.mul_(3)
    y.t_()
    return (xs * ys).sum(0)
""",
        inputs(t(4, 4), t(4, 4)),
    ),
    _fold(
        "einsum_view_fold_inplace",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    k.transpose_(0, 1)
    return torch.einsum("bqd,bdk->bqk", q, kt)
""",
    ),
    _fold(
        "lambda_rebinds_in_closure",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    flip = lambda: k.transpose_(0, 1)
    flip()
    return torch.matmul(q, kt)
""",
    ),
    _fold(
        "loop_rebinding_after_use",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    out = torch.matmul(q, kt)
    for _ in range(2):
        k.transpose_(0, 1)
    return out, k
""",
    ),
    # No call between definition and use, yet the base changes: an attribute assignment.
    _fold(
        "requires_grad_attribute_between",
        """
def run(q, k):
    k = k.detach()
    kt = k.transpose(-1, -2)
    k.requires_grad = True
    out = torch.matmul(q, kt)
    out.sum().backward()
    return out.detach(), k.grad
""",
    ),
    # In the use's own statement, code evaluated before the temporary is read.
    _fold(
        "mutation_earlier_in_use_statement",
        """
def shuffle(x):
    x.transpose_(0, 1)
    return 0


def run(q, k):
    kt = k.transpose(-1, -2)
    return torch.matmul(q + shuffle(k), kt)
""",
    ),
    _fold(
        "conditional_test_runs_first",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    return torch.matmul(q, kt) if k.transpose_(0, 1) is not None else q
""",
    ),
    # The use runs later than its statement: a lambda called, a generator consumed, after a change.
    _fold(
        "lambda_called_after_mutation",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    product = lambda: torch.matmul(q, kt)
    k.transpose_(0, 1)
    return product()
""",
    ),
    _fold(
        "generator_consumed_after_mutation",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    products = (torch.matmul(q, kt) for _ in range(1))
    k.transpose_(0, 1)
    return list(products)
""",
    ),
    _fold(
        "comprehension_over_mutating_generator",
        """
def steps(x):
    x.transpose_(0, 1)
    yield 0


def run(q, k):
    kt = k.transpose(-1, -2)
    return [torch.matmul(q, kt) for _ in steps(k)]
""",
    ),
    # A with statement between, whose context manager (made earlier) changes the base on entry.
    _fold(
        "with_block_between",
        """
class Shuffled:
    def __init__(self, x):
        self.x = x

    def __enter__(self):
        self.x.transpose_(0, 1)

    def __exit__(self, *exc):
        return False


def run(q, k):
    shuffled = Shuffled(k)
    kt = k.transpose(-1, -2)
    with shuffled:
        pass
    return torch.matmul(q, kt)
""",
    ),
    # A generator that yields between definition and use: its consumer changes the base meanwhile.
    _fold(
        "yield_between",
        """
def products(q, k):
    kt = k.transpose(-1, -2)
    yield
    yield torch.matmul(q, kt)


def run(q, k):
    steps = products(q, k)
    next(steps)
    k.transpose_(0, 1)
    return next(steps)
""",
    ),
    # Controls: what lies between is inert, so the fold stays (and must be equivalent).
    _fold(
        "inert_statements_between_control",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    scale = q.shape[-1] ** -0.5
    keys = k
    return torch.matmul(q, kt) * scale, keys
""",
    ),
    _fold(
        "augmented_use_control",
        """
def run(q, k):
    kt = k.transpose(-1, -2)
    total = q[..., :1] * 0
    total += torch.matmul(q, kt)
    return total
""",
    ),
]
CASES = [made for group in _GROUPS for made in group]

CASES += [
    case(
        "fold_into_comprehension_same_name",
        FAMILY,
        """import torch


def run(xs, k):
    kt = k.transpose(-1, -2)
    return [torch.matmul(k, kt) for k in xs]
""",
        inputs([t(2, 3, 4)], t(2, 5, 4)),
        satisfies=RANKS,
    ),
    case(
        "fold_into_generator_same_name",
        FAMILY,
        """import torch


def run(xs, k):
    kt = k.transpose(-1, -2)
    return list(k @ kt for k in xs)
""",
        inputs([t(2, 3, 4)], t(2, 5, 4)),
        satisfies=RANKS,
    ),
    case(
        "fold_into_lambda_same_name",
        FAMILY,
        """import torch


def run(x, k):
    kt = k.transpose(-1, -2)
    f = lambda k: torch.matmul(k, kt)
    return f(x)
""",
        inputs(t(2, 3, 4), t(2, 5, 4)),
        satisfies=RANKS,
    ),
    case(
        "fold_past_walrus_rebinding",
        FAMILY,
        """import torch


def run(q, k):
    kt = k.transpose(-1, -2)
    if (k := k.flip(0)) is not None:
        pass
    return torch.matmul(q, kt)
""",
        QK,
        satisfies=RANKS,
    ),
]

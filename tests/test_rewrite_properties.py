"""Property test of the EIN1xx rewrites: random chains as source code, linted, fixed and run.

Each example is a function whose two operands are parameters (rank unknown to the linter, or stated by
an annotation and an assert) or locals made by ``torch.randn``/``torch.zeros`` (rank, and dtype, known),
combined by a chain of transposes, permutes, ``.T``/``.mT``/``.t()``, ``unsqueeze``/``None`` indexing,
``@``/``matmul``/``bmm``/``mm`` or a product reduced by ``sum``, with the result perhaps transposed,
summed or viewed. The function is fixed with safe fixes only and with unsafe fixes too; both versions
must parse and be fixpoints. Then all three run on tensors whose shapes a small model of torch's shape
rules derives, for the ranks the code states and, for parameters of unknown rank, other ranks too:
wherever the original runs, the safe version gives the same values, dtype, shape and gradients, and the
unsafe version gives the same or raises - it never returns something else. (An unsafe fix that assumes
one floating dtype is run only where the inputs have one: a wrong dtype assumption cannot be made to
raise, which is why it is a named assumption.)
"""

from __future__ import annotations

import ast
import functools
import itertools
import random
import textwrap
import warnings
from collections import Counter
from dataclasses import dataclass, field

import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from einlint.config import Settings  # noqa: E402
from einlint.diagnostics import Applicability  # noqa: E402
from einlint.engine.fixer import fix_source  # noqa: E402
from einlint.engine.runner import RuleSet, lint_source  # noqa: E402
from einlint.engine.source import SourceText  # noqa: E402
from test_rewrite_equivalence import CHAIN_CODES, assert_same  # noqa: E402

SETTINGS = Settings(select=CHAIN_CODES)
RULE_SET = RuleSet.for_settings(SETTINGS)
EXAMPLES = 300

# --- the programs --------------------------------------------------------------------------------

# How an operand enters the function: the linter's knowledge differs, the runtime value does not.
SOURCES = {
    "param": "a parameter: nothing known",
    "annotated": "a torch.Tensor parameter whose rank an assert states",
    "float-param": "a torch.FloatTensor parameter: floating, dtype and rank not stated (float32 when run)",
    "randn": "torch.randn(sizes): rank and the default floating dtype known",
    "randn64": "torch.randn(sizes, dtype=torch.float64)",
    "int": "torch.zeros(sizes, dtype=torch.int32): an integer tensor (sum promotes it to int64)",
}
SOURCE_WEIGHTS = {"param": 5, "annotated": 2, "float-param": 2, "randn": 5, "randn64": 2, "int": 3}
KNOWN_RANK = {"annotated", "randn", "randn64", "int"}


@dataclass(frozen=True)
class Operand:
    index: int
    source: str
    rank: int  # the rank the chain was generated for (stated in the code where the source states one)

    @property
    def name(self) -> str:
        return f"p{self.index}" if self.source in ("param", "annotated", "float-param") else f"x{self.index}"

    def size_names(self) -> list[str]:
        return [f"s{self.index}_{axis}" for axis in range(self.rank)]


@dataclass(frozen=True)
class Program:
    operands: tuple[Operand, Operand]
    chain: str  # the expression
    tree: tuple  # the same expression, for the shape model
    text: str = field(compare=False)
    # Sizes written as literals into the factory calls (one tuple per operand), or None where the
    # factories take their sizes from parameters.
    literal_shapes: tuple[tuple[int, ...], tuple[int, ...]] | None = None

    def __repr__(self) -> str:  # hypothesis prints this for a failing example
        return f"Program:\n{self.text}"


def _source_text(operands: tuple[Operand, Operand], chain: str, literal_shapes=None) -> str:
    parameters, body = [], []
    for index, operand in enumerate(operands):
        if operand.source == "param":
            parameters.append(operand.name)
        elif operand.source == "annotated":
            parameters.append(f"{operand.name}: torch.Tensor")
            body.append(f"assert {operand.name}.ndim == {operand.rank}")
        elif operand.source == "float-param":
            parameters.append(f"{operand.name}: torch.FloatTensor")
        else:
            if literal_shapes is None:
                parameters += operand.size_names()
                sizes = ", ".join(operand.size_names())
            else:
                sizes = ", ".join(map(str, literal_shapes[index]))
            sizes = f"({sizes},)" if operand.rank == 1 else sizes
            dtype = {"randn": "", "randn64": ", dtype=torch.float64", "int": ", dtype=torch.int32"}[operand.source]
            factory = "zeros" if operand.source == "int" else "randn"
            body.append(f"{operand.name} = torch.{factory}({sizes}{dtype})")
    body.append(f"return {chain}")
    lines = "\n".join(body)
    return f"import torch\n\n\ndef f({', '.join(parameters)}):\n{textwrap.indent(lines, '    ')}\n"


def _dims(draw, rank: int) -> int:
    """A dimension of a ``rank``-D value, spelled positive or negative."""
    position = draw(st.integers(0, rank - 1))
    return position - rank if draw(st.booleans()) else position


def _transpose(draw, code: str, tree: tuple, rank: int) -> tuple[str, tuple, int]:
    """One rank-preserving reordering that torch accepts for a ``rank``-D value (``.T`` included,
    which reverses every dimension of an N-D value)."""
    choices = ["T"]
    if rank >= 2:
        choices += ["transpose", "swapaxes", "torch.transpose", "permute", "torch.permute", "mT"]
    if rank <= 2:
        choices.append("t")
    kind = draw(st.sampled_from(choices))
    if kind in ("transpose", "swapaxes", "torch.transpose"):
        first, second = _dims(draw, rank), _dims(draw, rank)
        if kind == "torch.transpose":
            return f"torch.transpose({code}, {first}, {second})", ("transpose", tree, first, second), rank
        return f"{code}.{kind}({first}, {second})", ("transpose", tree, first, second), rank
    if kind in ("permute", "torch.permute"):
        order = draw(st.permutations(range(rank)))
        order = [d - rank if draw(st.booleans()) else d for d in order]
        spelled = ", ".join(map(str, order))
        if kind == "torch.permute":
            return f"torch.permute({code}, ({spelled},))", ("permute", tree, tuple(order)), rank
        as_tuple = draw(st.booleans())
        return (f"{code}.permute(({spelled},))" if as_tuple else f"{code}.permute({spelled})"), ("permute", tree, tuple(order)), rank
    return f"{code}.{kind}" + ("()" if kind == "t" else ""), (kind, tree), rank


def _insert_unit(draw, code: str, tree: tuple, rank: int) -> tuple[str, tuple, int]:
    """``unsqueeze`` or an indexing with ``None``: a size-1 dimension that broadcasts."""
    kind = draw(st.sampled_from(["unsqueeze", "index", "ellipsis-index"]))
    if kind == "unsqueeze":
        position = draw(st.integers(0, rank))
        dim = position - rank - 1 if draw(st.booleans()) else position
        return f"{code}.unsqueeze({dim})", ("unsqueeze", tree, dim), rank + 1
    if kind == "index":
        position = draw(st.integers(0, rank))
        items = [":"] * position + ["None"]
    else:
        position = draw(st.integers(0, rank))
        items = ["..."] + ["None"] + [":"] * position
    spelled = ", ".join(items)
    return f"{code}[{spelled}]", ("index", tree, tuple(items)), rank + 1


def _operand(draw, index: int, source: str | None = None) -> tuple[Operand, str, tuple]:
    names = list(SOURCE_WEIGHTS)
    if source is None:
        source = draw(st.sampled_from([name for name in names for _ in range(SOURCE_WEIGHTS[name])]))
    operand = Operand(index, source, draw(st.integers(1, 4)))
    return operand, operand.name, ("leaf", index)


def _matmul_rank(first: int, second: int) -> int:
    if first == 1 and second == 1:
        return 0
    if first == 1:
        return second - 1
    if second == 1:
        return first - 1
    return max(first, second)


@st.composite
def programs(draw) -> Program:
    # .contiguous() around the result hides its layout, which einsum may choose differently: with
    # float64 factories (never autocast) a product-then-sum is then safe to rewrite. A matrix product
    # is not, with sizes from parameters: einsum broadcasts a size-1 contracted dimension.
    contiguous = draw(st.booleans())
    source = "randn64" if contiguous else None
    (first, first_code, first_tree), (second, second_code, second_tree) = _operand(draw, 0, source), _operand(draw, 1, source)
    left = (first_code, first_tree, first.rank)
    right = (second_code, second_tree, second.rank)
    product = draw(st.sampled_from(["matmul", "matmul", "multiply"]))
    # A plain product is no finding; a matmul gets at least one transposed operand here (a transposed
    # result may come on top).
    for _ in range(draw(st.integers(1 if product == "matmul" else 0, 2))):
        if draw(st.booleans()):
            left = _transpose(draw, *left)
        else:
            right = _transpose(draw, *right)
    if product == "matmul" and draw(st.integers(0, 3)) == 0:
        # A size-1 dimension in a matmul operand: a broadcast batch dimension, or an outer product.
        if draw(st.booleans()):
            left = _insert_unit(draw, *left)
        else:
            right = _insert_unit(draw, *right)
    if product == "multiply":
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                left = _insert_unit(draw, *left)
            else:
                right = _insert_unit(draw, *right)
        (a, a_tree, a_rank), (b, b_tree, b_rank) = left, right
        spelling = draw(st.sampled_from(["*", "torch.mul", ".mul"]))
        factors = {"*": f"{a} * {b}", "torch.mul": f"torch.mul({a}, {b})", ".mul": f"{a}.mul({b})"}[spelling]
        rank = max(a_rank, b_rank)
        dims = draw(st.lists(st.integers(0, rank - 1), min_size=1, max_size=min(2, rank), unique=True))
        dims = [d - rank if draw(st.booleans()) else d for d in dims]
        spelled = str(dims[0]) if len(dims) == 1 else f"({', '.join(map(str, dims))})"
        style = draw(st.sampled_from(["method", "keyword", "function", "keepdim-false"]))
        grouped = factors if spelling != "*" else f"({factors})"
        code = {
            "method": f"{grouped}.sum({spelled})",
            "keyword": f"{grouped}.sum(dim={spelled})",
            "function": f"torch.sum({factors}, {spelled})",
            "keepdim-false": f"{grouped}.sum({spelled}, keepdim=False)",
        }[style]
        tree = ("sum", ("mul", a_tree, b_tree), tuple(dims))
        rank -= len(dims)
        grouped = code
    else:
        (a, a_tree, a_rank), (b, b_tree, b_rank) = left, right
        kinds = ["@", "torch.matmul", ".matmul"]
        if a_rank == b_rank == 3:
            kinds += ["torch.bmm", ".bmm"]
        if a_rank == b_rank == 2:
            kinds += ["torch.mm", ".mm"]
        kind = draw(st.sampled_from(kinds))
        if kind == "@":
            code = f"{a} @ {b}"
        elif kind.startswith("torch."):
            code = f"{kind}({a}, {b})"
        else:
            code = f"{a}{kind}({b})"
        tree = ("matmul", a_tree, b_tree, kind.rsplit(".", 1)[-1].replace("@", "matmul"))
        rank = _matmul_rank(a_rank, b_rank)
        grouped = f"({code})" if kind == "@" else code  # the operand of what follows
    if rank >= 1 and draw(st.integers(0, 2)) == 0:
        code, tree, rank = _transpose(draw, grouped, tree, rank)
        grouped = code
    if product == "matmul" and rank >= 1 and draw(st.integers(0, 4)) == 0:
        dim = _dims(draw, rank)
        code, tree, rank = f"{grouped}.sum({dim})", ("sum", tree, (dim,)), rank - 1
        grouped = code
    if draw(st.integers(0, 9)) == 0:
        code, tree = f"{grouped}.view(-1)", ("view", tree)
    if contiguous:
        code = f"({code}).contiguous()"
    operands = (first, second)
    literal_shapes = None
    if contiguous and draw(st.booleans()):
        # Literal sizes that the chain accepts, all different and none 1: the code itself then proves
        # that matched dimensions have equal sizes, so a matmul chain can be safe too.
        literal_shapes = _consistent_shapes((first.rank, second.rank), tree)
    text = _source_text(operands, code, literal_shapes)
    return Program(operands, code, tree, text, literal_shapes)


def _consistent_shapes(ranks: tuple[int, int], tree: tuple) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    model = Shapes()
    leaves = [[model.new() for _ in range(rank)] for rank in ranks]
    try:
        model.evaluate(tree, leaves)
    except Invalid:
        return None
    classes = sorted({model.find(symbol) for leaf in leaves for symbol in leaf} - {Shapes.ONE})
    sizes = {symbol: 2 + position for position, symbol in enumerate(classes)}
    first, second = (tuple(sizes.get(model.find(symbol), 1) for symbol in leaf) for leaf in leaves)
    return first, second


# --- a model of torch's shape rules --------------------------------------------------------------


class Invalid(Exception):
    """torch would raise for these ranks."""


class Shapes:
    """Dimensions are symbols; broadcasting and contraction make them equal (union-find). ``ONE`` is
    the size-1 dimension that unsqueeze and None insert."""

    ONE = 0

    def __init__(self) -> None:
        self.parent: dict[int, int] = {self.ONE: self.ONE}

    def new(self) -> int:
        symbol = len(self.parent)
        self.parent[symbol] = symbol
        return symbol

    def find(self, symbol: int) -> int:
        while self.parent[symbol] != symbol:
            symbol = self.parent[symbol]
        return symbol

    def unify(self, first: int, second: int) -> int:
        a, b = self.find(first), self.find(second)
        if a != b:
            # ONE stays the root of its class: a dimension made equal to an inserted one has size 1.
            low, high = sorted((a, b))
            self.parent[high] = low
        return self.find(first)

    def broadcast(self, first: list[int], second: list[int]) -> list[int]:
        longer, shorter = (first, second) if len(first) >= len(second) else (second, first)
        offset = len(longer) - len(shorter)
        result = list(longer[:offset])
        for a, b in zip(longer[offset:], shorter):
            if self.find(a) == self.ONE:
                result.append(b)
            elif self.find(b) == self.ONE:
                result.append(a)
            else:
                result.append(self.unify(a, b))
        return result

    def evaluate(self, tree: tuple, leaves: list[list[int]]) -> list[int]:
        kind = tree[0]
        if kind == "leaf":
            return leaves[tree[1]]
        value = self.evaluate(tree[1], leaves) if kind != "matmul" and kind != "mul" else None
        rank = len(value) if value is not None else 0
        if kind == "transpose":
            first, second = (_position(d, rank) for d in tree[2:4])
            value = list(value)
            value[first], value[second] = value[second], value[first]
            return value
        if kind == "permute":
            positions = [_position(d, rank) for d in tree[2]]
            if len(positions) != rank or len(set(positions)) != rank:
                raise Invalid("permute")
            return [value[p] for p in positions]
        if kind == "T":
            return list(reversed(value))
        if kind == "mT":
            if rank < 2:
                raise Invalid(".mT")
            return value[:-2] + [value[-1], value[-2]]
        if kind == "t":
            if rank > 2:
                raise Invalid(".t()")
            return list(reversed(value))
        if kind == "unsqueeze":
            dim = tree[2]
            if not -rank - 1 <= dim <= rank:
                raise Invalid("unsqueeze")
            value = list(value)
            value.insert(dim + rank + 1 if dim < 0 else dim, self.ONE)
            return value
        if kind == "index":
            return _index(value, tree[2])
        if kind == "sum":
            positions = {_position(d, rank) for d in tree[2]}
            if len(positions) != len(tree[2]):
                raise Invalid("sum")
            return [symbol for position, symbol in enumerate(value) if position not in positions]
        if kind == "view":
            return [self.new()]
        first, second = self.evaluate(tree[1], leaves), self.evaluate(tree[2], leaves)
        if kind == "mul":
            return self.broadcast(first, second)
        return self._matmul(first, second, tree[3])

    def _matmul(self, a: list[int], b: list[int], kind: str) -> list[int]:
        if kind == "bmm" and not (len(a) == len(b) == 3) or kind == "mm" and not (len(a) == len(b) == 2):
            raise Invalid(kind)
        if not a or not b:
            raise Invalid("0-D matmul")
        if kind == "bmm":
            self.unify(a[0], b[0])  # bmm does not broadcast
        if len(a) == 1 and len(b) == 1:
            self.unify(a[0], b[0])
            return []
        if len(a) == 1:
            self.unify(a[0], b[-2])
            return b[:-2] + [b[-1]]
        if len(b) == 1:
            self.unify(a[-1], b[0])
            return a[:-1]
        self.unify(a[-1], b[-2])
        return self.broadcast(a[:-2], b[:-2]) + [a[-2], b[-1]]


def _position(dim: int, rank: int) -> int:
    if not -rank <= dim < rank:
        raise Invalid("dimension out of range")
    return dim % rank


def _index(value: list[int], items: tuple[str, ...]) -> list[int]:
    consumed = sum(1 for item in items if item == ":")
    if consumed > len(value):
        raise Invalid("too many indices")
    result, position = [], 0
    for item in items:
        if item == "None":
            result.append(Shapes.ONE)
        elif item == ":":
            result.append(value[position])
            position += 1
        else:
            skipped = len(value) - consumed
            result += value[position : position + skipped]
            position += skipped
    return result + value[position:]


# --- running ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """Concrete inputs of one run: shapes of the parameters and sizes of the factory calls."""

    name: str
    ranks: tuple[int, int]
    shapes: tuple[tuple[int, ...], tuple[int, ...]]
    dtype: torch.dtype
    seed: int


class TorchWithInputs:
    """torch for the generated code: its randn/zeros calls build seeded tensors (the run's floating
    dtype standing for the default one) and remember them, so that gradients can be taken."""

    def __init__(self, dtype: torch.dtype, seed: int) -> None:
        self.dtype = dtype
        self.generator = torch.Generator().manual_seed(seed)
        self.created: list[torch.Tensor] = []

    def _sizes(self, sizes) -> tuple[int, ...]:
        return tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], tuple) else tuple(sizes)

    def randn(self, *sizes, dtype=None):
        tensor = torch.randn(self._sizes(sizes), dtype=dtype or self.dtype, generator=self.generator).requires_grad_(True)
        self.created.append(tensor)
        return tensor

    def zeros(self, *sizes, dtype=None):
        tensor = torch.randint(-3, 4, self._sizes(sizes), dtype=dtype, generator=self.generator)
        self.created.append(tensor)
        return tensor

    def __getattr__(self, name: str):
        return getattr(torch, name)


def trials(program: Program, chooser: random.Random) -> list[Trial]:
    """Ranks to try (the stated ones; for parameters of unknown rank, others too) and, for each, sizes
    from the shape model: all different, some 1, and one dimension of one operand broadcast."""
    candidates = []
    for operand in program.operands:
        ranks = [operand.rank] if operand.source in KNOWN_RANK else [operand.rank] + chooser.sample([1, 2, 3, 4], 2)
        candidates.append(list(dict.fromkeys(ranks)))
    result = []
    for ranks in itertools.product(*candidates):
        model = Shapes()
        leaves = [[model.new() for _ in range(rank)] for rank in ranks]
        try:
            model.evaluate(program.tree, leaves)
        except Invalid:
            continue
        classes = sorted({model.find(symbol) for leaf in leaves for symbol in leaf} - {Shapes.ONE})
        distinct = dict(zip(classes, chooser.sample(range(2, 2 + 2 * len(classes)), len(classes))))
        with_ones = {symbol: (1 if chooser.random() < 0.3 else size) for symbol, size in distinct.items()}
        # float32 stands for the default dtype once and float64 once: both meet a stated float64.
        for name, sizes, dtype in (("distinct sizes", distinct, torch.float32), ("some sizes 1", with_ones, torch.float64)):
            shapes = tuple(tuple(sizes.get(model.find(symbol), 1) for symbol in leaf) for leaf in leaves)
            result.append(Trial(f"ranks {ranks}, {name}", ranks, shapes, dtype, chooser.randrange(1000)))
        shapes = [list(shape) for shape in result[-2].shapes]
        owner = chooser.randrange(2)
        if shapes[owner]:
            shapes[owner][chooser.randrange(len(shapes[owner]))] = 1
            result.append(Trial(f"ranks {ranks}, one size broadcast", ranks, tuple(map(tuple, shapes)), torch.float64, 7))
    return result


@functools.lru_cache(maxsize=64)
def _compiled(text: str):
    return compile(text, "<generated>", "exec")


def run(text: str, program: Program, trial: Trial):
    """The value ``f`` returns for the trial's inputs and its gradients, or the exception it raised."""
    namespace: dict = {}
    exec(_compiled(text), namespace)  # noqa: S102 - generated test code only
    fake = TorchWithInputs(trial.dtype, trial.seed)
    namespace["torch"] = fake
    generator = torch.Generator().manual_seed(trial.seed + 1)
    arguments, inputs = {}, []
    for operand, shape in zip(program.operands, trial.shapes):
        if operand.source in ("param", "annotated", "float-param"):
            dtype = torch.float32 if operand.source == "float-param" else trial.dtype
            tensor = torch.randn(shape, dtype=dtype, generator=generator).requires_grad_(True)
            arguments[operand.name] = tensor
            inputs.append(tensor)
        elif program.literal_shapes is None:
            arguments.update(zip(operand.size_names(), shape))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # .T of an N-D tensor is deprecated, not an error
            result = namespace["f"](**arguments)
    except Exception as error:  # noqa: BLE001 - any failure of the generated code is an outcome
        return None, None, error
    inputs += [tensor for tensor in fake.created if tensor.requires_grad]
    if not result.dtype.is_floating_point or not result.requires_grad:
        return result.detach(), None, None
    weights = torch.randn(result.shape, dtype=result.dtype, generator=torch.Generator().manual_seed(3))
    gradients = torch.autograd.grad((result * weights).sum(), inputs, allow_unused=True)
    return result.detach(), gradients, None


def input_dtypes(program: Program, trial: Trial) -> set[torch.dtype]:
    stated = {"float-param": torch.float32, "randn64": torch.float64, "int": torch.int32}
    return {stated.get(operand.source, trial.dtype) for operand in program.operands}


def fixed_text(text: str, unsafe: bool) -> tuple[str, list]:
    outcome = fix_source(SourceText.from_bytes("generated.py", text.encode("utf-8")), SETTINGS, RULE_SET, unsafe)
    assert outcome.error is None, outcome.error
    return outcome.text, outcome.applied


def check_program(program: Program, chooser: random.Random, stats: Counter) -> None:
    original = program.text
    lint = lint_source(SourceText.from_bytes("generated.py", original.encode("utf-8")), SETTINGS, RULE_SET)
    assert lint.error is None, lint.error
    safe_text, safe_applied = fixed_text(original, unsafe=False)
    unsafe_text, unsafe_applied = fixed_text(original, unsafe=True)
    for text, unsafe in ((safe_text, False), (unsafe_text, True)):
        if text != original:
            ast.parse(text)
            assert fixed_text(text, unsafe)[0] == text, f"a second fix changed:\n{text}"
    tiers = {d.fix.applicability for d in lint.diagnostics if d.fix is not None}
    stats["programs"] += 1
    stats["with a safe fix"] += Applicability.SAFE in tiers
    stats["with an unsafe fix"] += Applicability.UNSAFE in tiers
    stats["reported, no fix"] += any(d.fix is None for d in lint.diagnostics)
    if not safe_applied and not unsafe_applied:
        return
    # A dtype assumption cannot be made to raise when it is wrong (an integer product summed by einsum
    # stays integer): unsafe fixes that make one are compared only where it holds.
    dtype_assumed = any("float-dtypes" in d.fix.assumptions for d in unsafe_applied)
    for trial in trials(program, chooser):
        expected, expected_gradients, error = run(original, program, trial)
        if error is not None:
            stats["trials where the original raises"] += 1
            continue
        for text, must_run in ((safe_text, True), (unsafe_text, False)):
            if text == original:
                continue
            if not must_run and dtype_assumed and len(input_dtypes(program, trial)) > 1:
                stats["unsafe fix not run: its dtype assumption does not hold"] += 1
                continue
            what = f"{'safe' if must_run else 'unsafe'} fix, {trial}:\n{original}\n->\n{text}"
            actual, actual_gradients, rewritten_error = run(text, program, trial)
            if rewritten_error is not None:
                assert not must_run, f"{what}\nthe original runs, the safe fix raises {rewritten_error!r}"
                stats["unsafe fix raised"] += 1
                continue
            assert_same(expected, actual, what)
            if expected_gradients is not None:
                for index, (want, got) in enumerate(zip(expected_gradients, actual_gradients)):
                    if want is None or got is None:
                        assert want is got, f"{what}\ninput {index} has a gradient in one version only"
                    else:
                        assert_same(want, got, f"{what}\ngradient of input {index}")
            stats["safe fix compared" if must_run else "unsafe fix compared"] += 1


def test_random_chains_are_rewritten_soundly() -> None:
    stats: Counter = Counter()

    # derandomize: the same programs on every run, so that the tier counts below cannot fail by chance
    # (benchmarks/soundness_fuzz.py explores at random, for as long as it is given).
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None, derandomize=True)
    @given(program=programs(), chooser=st.randoms(use_true_random=False))
    def check(program: Program, chooser: random.Random) -> None:
        check_program(program, chooser, stats)

    check()
    # The generator must reach every tier and the runs must compare something. The fixed programs
    # gave 12 with a safe fix, 117 with an unsafe one, 10 reported without one, and 27 / 237 safe /
    # unsafe comparisons: the floors leave room for the rules to move, not for a tier to vanish.
    assert stats["with a safe fix"] >= 8, stats
    assert stats["with an unsafe fix"] >= 20, stats
    assert stats["reported, no fix"] >= 3, stats
    assert stats["safe fix compared"] >= 20, stats
    assert stats["unsafe fix compared"] >= 50, stats
    assert stats["unsafe fix raised"] >= 10, stats


# Chains over operands A and B whose soundness turns on what is known about them: the sum's integer
# promotion after a matmul or a product, dtype promotion in a product, a result that .view() needs
# contiguous while the batch dimensions broadcast.
TEMPLATES = {
    "matmul-then-sum": ("(A @ B.transpose(-1, -2)).sum(-1)", (2, 2), ("sum", ("matmul", ("leaf", 0), ("transpose", ("leaf", 1), -1, -2), "matmul"), (-1,))),
    "multiply-sum": ("(A * B).sum(-1)", (2, 2), ("sum", ("mul", ("leaf", 0), ("leaf", 1)), (-1,))),
    "outer-product-sum": (
        "(A.unsqueeze(-1) * B.unsqueeze(-2)).sum(-3)",
        (3, 3),
        ("sum", ("mul", ("unsqueeze", ("leaf", 0), -1), ("unsqueeze", ("leaf", 1), -2)), (-3,)),
    ),
    "broadcast-then-view": (
        "torch.matmul(A, B.transpose(-1, -2)).view(-1)",
        (4, 3),
        ("view", ("matmul", ("leaf", 0), ("transpose", ("leaf", 1), -1, -2), "matmul")),
    ),
}


@pytest.mark.parametrize("template", TEMPLATES)
@pytest.mark.parametrize("sources", list(itertools.product(SOURCES, repeat=2)), ids="+".join)
def test_every_kind_of_evidence(sources: tuple[str, str], template: str) -> None:
    """Every pair of operand sources in a few chains: a fix is offered only as far as the evidence goes."""
    chain, ranks, tree = TEMPLATES[template]
    operands = (Operand(0, sources[0], ranks[0]), Operand(1, sources[1], ranks[1]))
    code = chain.replace("A", operands[0].name).replace("B", operands[1].name)
    check_program(Program(operands, code, tree, _source_text(operands, code)), random.Random(0), Counter())


@pytest.mark.parametrize(
    ("tree", "ranks", "valid"),
    [
        (("matmul", ("leaf", 0), ("transpose", ("leaf", 1), -1, -2), "matmul"), (4, 4), True),
        (("matmul", ("leaf", 0), ("leaf", 1), "bmm"), (3, 2), False),
        (("matmul", ("leaf", 0), ("mT", ("leaf", 1)), "matmul"), (2, 1), False),
        (("sum", ("mul", ("unsqueeze", ("leaf", 0), -1), ("index", ("leaf", 1), (":", "None"))), (0,)), (2, 2), True),
        (("permute", ("leaf", 0), (0, 5)), (2, 2), False),
    ],
)
def test_shape_model_agrees_with_torch(tree: tuple, ranks: tuple[int, int], valid: bool) -> None:
    """The shape model the property test relies on, checked against torch itself."""
    model = Shapes()
    leaves = [[model.new() for _ in range(rank)] for rank in ranks]
    try:
        model.evaluate(tree, leaves)
    except Invalid:
        assert not valid
        return
    assert valid
    sizes = {symbol: 2 + symbol for leaf in leaves for symbol in leaf}
    tensors = [torch.randn([1 if model.find(s) == Shapes.ONE else sizes[model.find(s)] for s in leaf]) for leaf in leaves]

    def execute(node):
        kind = node[0]
        if kind == "leaf":
            return tensors[node[1]]
        if kind == "matmul":
            return {"matmul": torch.matmul, "bmm": torch.bmm, "mm": torch.mm}[node[3]](execute(node[1]), execute(node[2]))
        if kind == "mul":
            return execute(node[1]) * execute(node[2])
        inner = execute(node[1])
        if kind == "transpose":
            return inner.transpose(node[2], node[3])
        if kind == "mT":
            return inner.mT
        if kind == "unsqueeze":
            return inner.unsqueeze(node[2])
        if kind == "index":
            return inner[tuple({":": slice(None), "None": None, "...": Ellipsis}[item] for item in node[2])]
        if kind == "sum":
            return inner.sum(node[2])
        raise AssertionError(kind)

    execute(tree)

"""A generator of whole programs around a chain, for the differential fuzzer.

A program is drawn as a sequence of small choices (``choose(n)`` returns 0..n-1; 0 is always the
simplest option, so shrinking a failure toward zeros gives a minimal program): the chain (a matmul of
a transposed operand, a transposed matmul result, multiply-then-sum, an outer product summed, an einsum
of a view, a copy before a contraction), where each operand comes from (a parameter, an annotated
parameter, a proven view, a factory), whether the view is a temporary, what happens between its
definition and its use (in-place ops directly or through an alias, ``.data =``, a helper that mutates,
rebinding, ``nonlocal``, grad-mode changes), the scope it runs in (nested function, lambda,
comprehension), a loop around it, autocast, and what the caller observes of the result (values,
``.view``, ``.is_contiguous()``, ``.stride()``, an in-place op)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from .harness import Case, CaseReport, Inputs, TensorSpec, check_case

Choose = Callable[[int], int]


@dataclass(frozen=True)
class Chain:
    name: str
    a_shape: tuple[int, ...]
    b_shape: tuple[int, ...]
    view: str  # the view of b the chain reads ({b} is the operand's name)
    expression: str  # {a} and {v} (the view, inline or a temporary)
    square_batch: bool = False  # b's first two dimensions are equal: b.transpose_(0, 1) keeps its shape


CHAINS = (
    Chain("bmm_transposed", (2, 3, 4), (2, 2, 4), "{b}.transpose(1, 2)", "torch.bmm({a}, {v})", True),
    Chain("matmul_transposed", (2, 3, 4), (2, 2, 4), "{b}.transpose(-1, -2)", "torch.matmul({a}, {v})", True),
    Chain("operator_T", (3, 4), (2, 4), "{b}.T", "{a} @ {v}"),
    Chain("mm_t", (3, 4), (2, 4), "{b}.t()", "torch.mm({a}, {v})"),
    Chain("bmm_result_transposed", (2, 3, 4), (2, 4, 2), "{b}", "torch.bmm({a}, {v}).transpose(1, 2)", True),
    Chain("multiply_sum", (3, 4), (3, 4), "{b}", "({a} * {v}).sum(-1)"),
    Chain("outer_sum", (3, 4), (3, 2), "{b}.unsqueeze(-2)", "({a}.unsqueeze(-1) * {v}).sum(0)"),
    Chain("einsum_view", (2, 3, 4), (2, 2, 4), "{b}.transpose(1, 2)", 'torch.einsum("bqd,bdk->bqk", {a}, {v})', True),
    Chain("bmm_copy", (2, 3, 4), (2, 2, 4), "{b}.transpose(1, 2).contiguous()", "torch.bmm({a}, {v})", True),
    Chain("einsum_copy", (2, 3, 4), (2, 2, 4), "{b}.transpose(1, 2).clone()", 'torch.einsum("bqd,bdk->bqk", {a}, {v})', True),
)
PROVENANCE = ("param", "annotated", "proven", "factory")
HAZARDS = (
    "none",
    "inplace_mul",
    "alias_inplace_mul",
    "alias_transpose_",
    "transpose_",
    "alias_data",
    "helper_mutates",
    "rebind",
    "nonlocal_rebind",
    "no_grad_definition",
    "grad_disabled_definition",
    "list_alias_inplace",
)
SCOPES = ("direct", "nested_function", "lambda", "comprehension", "comprehension_shadowing")
LOOPS = ("none", "for_1", "for_2", "for_0", "while_1")
USES = ("value", "view", "is_contiguous", "stride", "inplace_add", "helper_view")


@dataclass(frozen=True)
class Program:
    source: str
    case: Case
    features: tuple[str, ...]


def build(choose: Choose, name: str = "fuzz") -> Program:
    chain = CHAINS[choose(len(CHAINS))]
    provenance_a = PROVENANCE[choose(len(PROVENANCE))]
    provenance_b = PROVENANCE[choose(len(PROVENANCE))]
    temporary = choose(2) == 1
    hazard = HAZARDS[choose(len(HAZARDS))]
    if hazard in ("alias_transpose_", "transpose_") and not chain.square_batch:
        hazard = "inplace_mul"
    scope = SCOPES[choose(len(SCOPES))]
    loop = LOOPS[choose(len(LOOPS))]
    autocast = choose(2) == 1
    use = USES[choose(len(USES))]
    size_one = choose(3) == 2  # a second input whose shared label has size 1 in one operand
    features = (chain.name, f"a:{provenance_a}", f"b:{provenance_b}", "temporary" if temporary else "inline",
                hazard, scope, loop, "autocast" if autocast else "", use, "size-one" if size_one else "")  # fmt: skip

    helpers: list[str] = []
    head: list[str] = []
    params = []
    for operand, provenance, shape in (("a", provenance_a, chain.a_shape), ("b", provenance_b, chain.b_shape)):
        if provenance == "param":
            params.append(operand)
        elif provenance == "annotated":
            params.append(f"{operand}: torch.Tensor")
        elif provenance == "proven":
            params.append(f"{operand}_in")
            head.append(f"{operand} = torch.as_tensor({operand}_in).view({', '.join(map(str, shape))})")
        else:
            params.append(f"{operand}_in")
            head.append(f"{operand} = torch.randn({', '.join(map(str, shape))}) + {operand}_in.sum() * 0")
    view = chain.view.format(b="b")
    body: list[str] = list(head)
    if temporary:
        definition = f"bv = {view}"
        if hazard == "no_grad_definition":
            body += ["with torch.no_grad():", "    " + definition]
        elif hazard == "grad_disabled_definition":
            body += ["torch.set_grad_enabled(False)", definition, "torch.set_grad_enabled(True)"]
        else:
            body.append(definition)
        operand_view = "bv"
    else:
        operand_view = view
    body += _hazard_lines(hazard, helpers)
    expression = chain.expression.format(a="a", v=operand_view)
    out_lines, result = _scoped(scope, expression)
    body += _looped(loop, out_lines, result)
    if autocast:
        # Autocast around everything after the operands are made.
        start = len(head)
        body = body[:start] + ['with torch.autocast("cpu", dtype=torch.bfloat16):'] + ["    " + line for line in body[start:]]
    body += _use_lines(use, helpers)
    source = "import torch\n\n\n" + "".join(h + "\n\n\n" for h in helpers)
    source += f"def run({', '.join(params)}):\n" + "".join(f"    {line}\n" for line in body)
    args = (TensorSpec(chain.a_shape), TensorSpec(chain.b_shape))
    sets = [Inputs(args, frozenset({"operand-ranks", "matching-ranks", "contiguous-result", "fixed-shapes-in-loops"}))]
    if size_one:
        a_shape = chain.a_shape[:-1] + (1,)
        sets.append(Inputs((TensorSpec(a_shape), TensorSpec(chain.b_shape)), frozenset({"operand-ranks", "matching-ranks"}), label="size-one"))
    case = Case(name, "fuzz", source, tuple(sets), dtypes=(__import__("torch").float32,))
    return Program(source, case, tuple(f for f in features if f))


def _hazard_lines(hazard: str, helpers: list[str]) -> list[str]:
    if hazard == "inplace_mul":
        return ["b.mul_(2)"]
    if hazard == "alias_inplace_mul":
        return ["alias = b", "alias.mul_(2)"]
    if hazard == "alias_transpose_":
        return ["alias = b", "alias.transpose_(0, 1)"]
    if hazard == "transpose_":
        return ["b.transpose_(0, 1)"]
    if hazard == "alias_data":
        return ["alias = b", "alias.data = alias.data.flip(0)"]
    if hazard == "helper_mutates":
        helpers.append("def mutate(x):\n    x.mul_(3)")
        return ["mutate(b)"]
    if hazard == "rebind":
        return ["b = b * 2"]
    if hazard == "nonlocal_rebind":
        return ["def swap():", "    nonlocal b", "    b = b.flip(0)", "swap()"]
    if hazard == "list_alias_inplace":
        return ["store = [b]", "store[0].add_(1)"]
    return []


def _scoped(scope: str, expression: str) -> tuple[list[str], str]:
    if scope == "nested_function":
        return ["def inner():", f"    return {expression}", "out = inner()"], "out"
    if scope == "lambda":
        return [f"f = lambda: {expression}", "out = f()"], "out"
    if scope == "comprehension":
        return [f"out = [{expression} for _i in range(1)][0]"], "out"
    if scope == "comprehension_shadowing":
        return [f"out = [{expression} for b in [a]][0] if False else {expression}"], "out"
    return [f"out = {expression}"], "out"


def _looped(loop: str, lines: list[str], result: str) -> list[str]:
    if loop == "none":
        return lines
    if loop.startswith("for"):
        count = int(loop.split("_")[1])
        return ["out = None", f"for _ in range({count}):"] + ["    " + line for line in lines]
    return ["out = None", "n = 0", "while n < 1:"] + ["    " + line for line in lines] + ["    n += 1"]


def _use_lines(use: str, helpers: list[str]) -> list[str]:
    if use == "view":
        return ["return out.view(-1) if out is not None else out"]
    if use == "is_contiguous":
        return ["return out, (out.is_contiguous() if out is not None else None)"]
    if use == "stride":
        return ["return out.stride() if out is not None else None"]
    if use == "inplace_add":
        return ["if out is not None:", "    flat = out.reshape(-1)", "    flat.add_(1)", "return out"]
    if use == "helper_view":
        helpers.append("def flatten(x):\n    return x.view(x.shape[0], -1) if x is not None else x")
        return ["return flatten(out)"]
    return ["return out"]


# --- Running and shrinking --------------------------------------------------------------------------


class Recorded:
    """A ``choose`` that replays ``prefix`` and then draws from ``rng`` (or 0 when there is none)."""

    def __init__(self, prefix: list[int] | None = None, rng: random.Random | None = None) -> None:
        self.prefix = list(prefix or [])
        self.rng = rng
        self.choices: list[int] = []

    def __call__(self, n: int) -> int:
        index = len(self.choices)
        if index < len(self.prefix):
            value = min(self.prefix[index], n - 1)
        else:
            value = self.rng.randrange(n) if self.rng else 0
        self.choices.append(value)
        return value


def run_choices(choices: list[int], name: str = "fuzz") -> tuple[Program, CaseReport]:
    program = build(Recorded(choices), name)
    return program, check_case(program.case)


def shrink(choices: list[int], budget: int = 40, keep: Callable[[CaseReport], bool] | None = None) -> list[int]:
    """Lower each choice (to 0, then by one) while the program still fails (in the way ``keep``
    accepts, when given): a smaller program."""
    best = list(choices)
    tries = 0
    improved = True
    while improved and tries < budget:
        improved = False
        for index in range(len(best)):
            for candidate in (0, best[index] - 1):
                if candidate < 0 or candidate >= best[index] or tries >= budget:
                    continue
                trial = best[:index] + [candidate] + best[index + 1 :]
                tries += 1
                report = run_choices(trial)[1]
                if report.failures and (keep is None or keep(report)):
                    best = trial
                    improved = True
                    break
    return best

"""Run einlint's fixer on a whole program and compare the original with the fixed program in context.

A case is a module (source text) and inputs for its entry function. The harness fixes the source
in-process twice (safe fixes only; safe and unsafe fixes), then executes the original and each fixed
module afresh for every input, dtype and context (plain tensors or tensors that require grad; with or
without ``torch.autocast('cpu', dtype=torch.bfloat16)``) and compares what a caller can observe: the
returned values (dtype, shape, layout, ``requires_grad``, values), the gradients of the inputs, whether
the call (or the backward pass) raises and with which exception type, and the side effects the
program records in a module-level list ``EVENTS``.

A safe fix must be equivalent on every input. An unsafe fix is compared strictly only on inputs that
satisfy every assumption its fixes name; on the others it must either raise or give the original's
outcome, never a different value, unless a failed assumption is one of the silent ones the README lists
(a subclass that sees other calls, a broadcast size-1 dimension, other strides, autocast). A fixed file must also be a fixpoint: fixing it again changes nothing.
"""

from __future__ import annotations

import builtins
import math
import types
import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch

from einlint.config import Settings
from einlint.engine.fixer import fix_source
from einlint.engine.runner import RuleSet
from einlint.engine.source import SourceText
from einlint.rules import all_rules

# Every rule that is on by default, plus the opt-in rewrites whose fixes the families exercise most:
# EIN103 (multiply-sum), EIN104 (a single everyday transpose of a matmul operand or result) and EIN105
# (a matrix-vector product through unsqueeze and squeeze).
DEFAULT_SELECT = ("EIN0", "EIN1", "EIN2", "EIN3", "EIN103", "EIN104", "EIN105")
DTYPES = (torch.float32, torch.float64)
# Assumptions about the caller's dynamic context rather than the values handed in: no run-time check
# could make a rewrite raise when they fail, so a violation is only compared, never required to raise.
CONTEXT_ASSUMPTION_WORDS = ("autocast", "default-dtype", "grad-mode")
# Assumptions einlint documents as silent: where they fail the rewrite computes something else (a
# broadcast size-1 dimension, other strides, a tensor subclass that sees einsum instead of bmm) and no
# spelling of the einsum can make it raise.
SILENT_ASSUMPTIONS = frozenset({"matching-sizes", "result-layout", "contiguous-result", "tensor-operands"})
# Silent only on integer inputs: where the code states no dtype, a sum rewrite assumes floats, and
# integers narrower than int64 make einsum keep their dtype where ``sum`` gives int64 (the README lists
# it); bool inputs and mixed dtypes still have to make the rewrite raise.
SILENT_ON_INTEGER_INPUTS = frozenset({"float-dtypes"})
# Of those, the ones that hold for an input unless the input or the case says it violates them, so an
# unsafe fix that names them is still held to equivalence everywhere else.
HOLDING_UNLESS_VIOLATED = frozenset({"matching-sizes", "result-layout", "contiguous-result"})
# Assumptions about speed, not behaviour: every input satisfies them, so the fix is held to equivalence.
PERFORMANCE_ASSUMPTIONS = frozenset({"slower-rewrite"})


@dataclass(frozen=True)
class TensorSpec:
    """A random tensor: its shape, dtype (None: the run's floating dtype) and memory layout."""

    shape: tuple[int, ...]
    dtype: torch.dtype | None = None
    transposed: bool = False  # built as the transpose of a contiguous tensor (the last two dims swapped)
    grad: bool = True  # requires grad in the grad context (floating dtypes only)


def t(*shape: int, dtype: torch.dtype | None = None, transposed: bool = False, grad: bool = True) -> TensorSpec:
    return TensorSpec(tuple(shape), dtype, transposed, grad)


@dataclass(frozen=True)
class Custom:
    """An argument built by ``make(dtype, generator)``: a sparse tensor, a subclass, a wrapper ..."""

    make: Callable[[torch.dtype, torch.Generator], Any]


@dataclass(frozen=True)
class Inputs:
    """Arguments of the entry function; ``satisfies`` names the assumptions they satisfy beyond those
    the harness derives itself (``tensor-operands``, ``float-dtypes``). ``violates`` removes some."""

    args: tuple[Any, ...]
    satisfies: frozenset[str] = frozenset()
    violates: frozenset[str] = frozenset()
    label: str = ""


def inputs(*args: Any, satisfies: tuple[str, ...] = (), violates: tuple[str, ...] = (), label: str = "") -> Inputs:
    return Inputs(tuple(args), frozenset(satisfies), frozenset(violates), label)


@dataclass(frozen=True)
class Case:
    name: str
    family: str
    source: str
    inputs: tuple[Inputs, ...]
    entry: str = "run"
    select: tuple[str, ...] = DEFAULT_SELECT
    dtypes: tuple[torch.dtype, ...] = DTYPES
    autocast: bool = True
    grad: bool = True
    satisfies: frozenset[str] = frozenset()  # assumptions every input satisfies
    xfail: str | None = None  # why this case fails today (the family is added to the reason)
    violates: frozenset[str] = frozenset()  # assumptions every input violates
    note: str = ""


def case(
    name: str,
    family: str,
    source: str,
    *input_sets: Inputs,
    entry: str = "run",
    select: tuple[str, ...] = DEFAULT_SELECT,
    dtypes: tuple[torch.dtype, ...] = DTYPES,
    autocast: bool = True,
    grad: bool = True,
    satisfies: tuple[str, ...] = (),
    xfail: str | None = None,
    violates: tuple[str, ...] = (),
) -> Case:
    return Case(
        name,
        family,
        source,
        tuple(input_sets),
        entry,
        select,
        dtypes,
        autocast,
        grad,
        frozenset(satisfies),
        xfail,
        violates=frozenset(violates),
    )


def program(family: str):
    """A case maker for one family: ``make(name, body, *inputs, **options)`` with ``import torch``
    prepended to ``body`` unless the body has its own imports first."""

    def make(name: str, body: str, *input_sets: Inputs, **options: Any) -> Case:
        text = body.strip("\n") + "\n"
        if not text.startswith(("import", "from", "#", '"""')):
            text = "import torch\n\n\n" + text
        return case(name, family, text, *input_sets, **options)

    return make


# --- Fixing -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedFix:
    code: str
    line: int
    applicability: str
    assumptions: tuple[str, ...]


@dataclass(frozen=True)
class Fixed:
    text: str
    applied: tuple[AppliedFix, ...]
    error: str | None
    refixed: str  # the text after fixing ``text`` once more (a fixpoint gives ``text`` back)

    @property
    def assumptions(self) -> frozenset[str]:
        return frozenset(name for fix in self.applied for name in fix.assumptions)


def _rule_set(settings: Settings) -> RuleSet:
    return RuleSet.for_settings(settings)


def fix_program(source: str, select: tuple[str, ...], unsafe: bool) -> Fixed:
    settings = Settings(select=select, unsafe_fixes=unsafe)
    rule_set = _rule_set(settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outcome = fix_source(SourceText.from_bytes("case.py", source.encode("utf-8")), settings, rule_set, unsafe)
        again = fix_source(SourceText.from_bytes("case.py", outcome.text.encode("utf-8")), settings, rule_set, unsafe)
    applied = tuple(AppliedFix(d.code, d.line, d.fix.applicability.value, tuple(d.fix.assumptions)) for d in outcome.applied if d.fix)
    error = outcome.error.reason if outcome.error else None
    return Fixed(outcome.text, applied, error, again.text)


# --- Running ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    grad: bool
    autocast: bool

    def __str__(self) -> str:
        return f"{'grad' if self.grad else 'plain'}{'+autocast' if self.autocast else ''}"


@dataclass
class Outcome:
    raised: str | None = None  # the exception type's name, when the call raised
    message: str = ""
    value: Any = None
    grads: list[Any] = field(default_factory=list)
    grad_raised: str | None = None
    events: list[Any] = field(default_factory=list)


@dataclass(frozen=True)
class TensorView:
    """What a caller can observe of a returned tensor (values detached and copied at return time)."""

    kind: str  # the class: torch.Tensor, nn.Parameter or a subclass
    dtype: torch.dtype
    shape: tuple[int, ...]
    layout: torch.layout
    requires_grad: bool
    values: torch.Tensor


def _materialize(value: Any, dtype: torch.dtype, generator: torch.Generator, grad: bool, leaves: list[torch.Tensor]) -> Any:
    if isinstance(value, TensorSpec):
        dt = value.dtype or dtype
        shape = value.shape[:-2] + value.shape[-2:][::-1] if value.transposed else value.shape
        if dt.is_floating_point:
            base = torch.randn(shape, generator=generator, dtype=torch.float64).to(dt)
        else:
            base = torch.randint(-3, 4, shape, generator=generator).to(dt)
        if value.transposed:
            base = base.transpose(-1, -2)
        if grad and value.grad and dt.is_floating_point:
            leaf = (base.transpose(-1, -2) if value.transposed else base).detach().clone().requires_grad_(True)
            leaves.append(leaf)
            # A non-leaf tensor (same strides), so that in-place operations on it are allowed.
            return (leaf.transpose(-1, -2) if value.transposed else leaf) * 1
        return base
    if isinstance(value, Custom):
        return value.make(dtype, generator)
    if isinstance(value, list):
        return [_materialize(item, dtype, generator, grad, leaves) for item in value]
    if isinstance(value, tuple):
        return tuple(_materialize(item, dtype, generator, grad, leaves) for item in value)
    if isinstance(value, dict):
        return {key: _materialize(item, dtype, generator, grad, leaves) for key, item in value.items()}
    return value


def _observe(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return "<deep>"
    if isinstance(value, torch.Tensor):
        data = value.detach().as_subclass(torch.Tensor)
        if data.layout != torch.strided:
            data = data.to_dense()
        return TensorView(type(value).__name__, value.dtype, tuple(value.shape), value.layout, value.requires_grad, data.clone())
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, [_observe(item, depth + 1) for item in value])
    if isinstance(value, dict):
        return ("dict", {key: _observe(item, depth + 1) for key, item in value.items()})
    if isinstance(value, (int, float, bool, str, type(None), torch.dtype, torch.Size)):
        return value
    return ("object", type(value).__name__)


def _output_tensors(value: Any) -> Iterator[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _output_tensors(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _output_tensors(item)


def execute(code: types.CodeType, entry: str, spec: Inputs, dtype: torch.dtype, context: Context, seed: int) -> Outcome:
    """Run ``entry`` of a fresh module built from ``code`` on freshly made inputs."""
    outcome = Outcome()
    generator = torch.Generator().manual_seed(seed)
    leaves: list[torch.Tensor] = []
    args = _materialize(spec.args, dtype, generator, context.grad, leaves)
    module = types.ModuleType("soundness_case")
    module.__dict__["__builtins__"] = builtins
    torch.manual_seed(seed)
    try:
        with warnings.catch_warnings(), ExitStack() as stack:
            warnings.simplefilter("ignore")
            if context.autocast:
                stack.enter_context(torch.autocast("cpu", dtype=torch.bfloat16))
            exec(code, module.__dict__)
            result = module.__dict__[entry](*args)
            outcome.value = _observe(result)
    except Exception as error:  # noqa: BLE001 - raising is an outcome to compare
        outcome.raised = type(error).__name__
        outcome.message = str(error).splitlines()[0][:200] if str(error) else ""
        result = None
    finally:
        torch.set_default_dtype(torch.float32)
        torch.set_grad_enabled(True)
    outcome.events = list(module.__dict__.get("EVENTS", []))
    if outcome.raised is None and leaves:
        wanted = [
            tensor for tensor in _output_tensors(result)
            if tensor.requires_grad and tensor.layout == torch.strided and tensor.dtype.is_floating_point
        ]  # fmt: skip
        if wanted:
            try:
                loss = sum((tensor.as_subclass(torch.Tensor).float() * _weights(tensor)).sum() for tensor in wanted)
                grads = torch.autograd.grad(loss, leaves, allow_unused=True)
                outcome.grads = [None if g is None else g.detach().as_subclass(torch.Tensor).clone() for g in grads]
            except Exception as error:  # noqa: BLE001
                outcome.grad_raised = type(error).__name__
                outcome.message = str(error).splitlines()[0][:200]
    return outcome


def _weights(tensor: torch.Tensor) -> torch.Tensor:
    count = tensor.numel()
    return torch.sin(torch.arange(count, dtype=torch.float32) * 0.7 + 0.3).reshape(tensor.shape)


# --- Comparing ---------------------------------------------------------------------------------------


def _tolerance(dtype: torch.dtype, autocast: bool) -> tuple[float, float]:
    if dtype in (torch.bfloat16, torch.float16) or (autocast and dtype == torch.float32):
        return 3e-2, 3e-2
    if dtype == torch.float32:
        return 1e-4, 1e-5
    if dtype == torch.float64:
        return 1e-9, 1e-10
    return 0.0, 0.0


def _close(a: torch.Tensor, b: torch.Tensor, autocast: bool) -> bool:
    if a.shape != b.shape:
        return False
    if not a.dtype.is_floating_point and not a.dtype.is_complex:
        return torch.equal(a, b)
    rtol, atol = _tolerance(a.dtype, autocast)
    scale = max(1.0, float(a.abs().max()) if a.numel() else 1.0)
    if not math.isfinite(scale):
        scale = 1.0
    return torch.allclose(a.to(torch.float64), b.to(torch.float64), rtol=rtol, atol=atol * scale, equal_nan=True)


def difference(original: Any, fixed: Any, autocast: bool, where: str = "result") -> str | None:
    """A description of the first observable difference between two observed values, or None."""
    if isinstance(original, TensorView) or isinstance(fixed, TensorView):
        if not (isinstance(original, TensorView) and isinstance(fixed, TensorView)):
            return f"{where}: {type(original).__name__} vs {type(fixed).__name__}"
        for attribute in ("kind", "dtype", "shape", "layout", "requires_grad"):
            if getattr(original, attribute) != getattr(fixed, attribute):
                return f"{where}: {attribute} {getattr(original, attribute)} vs {getattr(fixed, attribute)}"
        if not _close(original.values, fixed.values, autocast):
            delta = (original.values.double() - fixed.values.double()).abs().max().item()
            return f"{where}: values differ (max abs difference {delta:.3g})"
        return None
    if isinstance(original, tuple) and len(original) == 2 and isinstance(original[1], list):
        if not (isinstance(fixed, tuple) and len(fixed) == 2 and fixed[0] == original[0] and len(fixed[1]) == len(original[1])):
            return f"{where}: {_short(original)} vs {_short(fixed)}"
        for index, (a, b) in enumerate(zip(original[1], fixed[1])):
            found = difference(a, b, autocast, f"{where}[{index}]")
            if found:
                return found
        return None
    if isinstance(original, tuple) and len(original) == 2 and isinstance(original[1], dict):
        if not (isinstance(fixed, tuple) and len(fixed) == 2 and isinstance(fixed[1], dict) and fixed[1].keys() == original[1].keys()):
            return f"{where}: {_short(original)} vs {_short(fixed)}"
        for key in original[1]:
            found = difference(original[1][key], fixed[1][key], autocast, f"{where}[{key!r}]")
            if found:
                return found
        return None
    if isinstance(original, float) and isinstance(fixed, float):
        if math.isclose(original, fixed, rel_tol=1e-6, abs_tol=1e-9) or (math.isnan(original) and math.isnan(fixed)):
            return None
    if original != fixed:
        return f"{where}: {original!r} vs {fixed!r}"[:300]
    return None


def _short(value: Any) -> str:
    return repr(value)[:120]


def compare(original: Outcome, fixed: Outcome, autocast: bool) -> str | None:
    if original.raised != fixed.raised:
        return f"raises: {original.raised or 'nothing'} ({original.message}) vs {fixed.raised or 'nothing'} ({fixed.message})"
    if original.raised is not None:
        return None if original.events == fixed.events else f"side effects: {original.events} vs {fixed.events}"
    found = difference(original.value, fixed.value, autocast)
    if found:
        return found
    if original.events != fixed.events:
        return f"side effects: {original.events} vs {fixed.events}"
    if original.grad_raised != fixed.grad_raised:
        return f"backward raises: {original.grad_raised or 'nothing'} vs {fixed.grad_raised or 'nothing'} ({fixed.message or original.message})"
    if len(original.grads) != len(fixed.grads):
        return f"gradients: {len(original.grads)} computed vs {len(fixed.grads)}"
    for index, (a, b) in enumerate(zip(original.grads, fixed.grads)):
        if (a is None) != (b is None):
            return f"gradient of input {index}: {'none' if a is None else 'some'} vs {'none' if b is None else 'some'}"
        if a is not None and not (a.dtype == b.dtype and _close(a, b, autocast)):
            return f"gradient of input {index} differs"
    return None


# --- One case -----------------------------------------------------------------------------------------


@dataclass
class CaseReport:
    name: str
    family: str
    safe: Fixed
    unsafe: Fixed
    failures: list[str] = field(default_factory=list)

    @property
    def safe_fixed(self) -> bool:
        return self.safe.text != "" and bool(self.safe.applied)

    @property
    def unsafe_fixed(self) -> bool:
        return any(fix.applicability == "unsafe" for fix in self.unsafe.applied)


def _contexts(case: Case) -> list[Context]:
    grads = (False, True) if case.grad else (False,)
    autocasts = (False, True) if case.autocast else (False,)
    return [Context(g, a) for g in grads for a in autocasts]


def _derived_assumptions(spec: Inputs, dtype: torch.dtype) -> set[str]:
    found: set[str] = set()
    flat = list(_flatten(spec.args))
    # A Custom argument (a sparse tensor, a subclass, a wrapper) is never the plain dense tensor the
    # assumption names.
    if all(isinstance(item, TensorSpec) for item in flat):
        found.add("tensor-operands")
    dtypes = {item.dtype or dtype for item in flat if isinstance(item, TensorSpec)}
    if all(isinstance(item, TensorSpec) for item in flat) and len(dtypes) <= 1 and all(d.is_floating_point for d in dtypes):
        found.add("float-dtypes")
    return found


def _has_integer_input(spec: Inputs, dtype: torch.dtype) -> bool:
    """Does an input tensor have an integer (not bool, not floating) dtype?"""
    dtypes = {item.dtype or dtype for item in _flatten(spec.args) if isinstance(item, TensorSpec)}
    return any(not d.is_floating_point and not d.is_complex and d != torch.bool for d in dtypes)


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flatten(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _flatten(item)
    else:
        yield value


def _holds(assumption: str, satisfied: set[str], violated: frozenset[str], context: Context) -> bool:
    if assumption in PERFORMANCE_ASSUMPTIONS:
        return True
    if "autocast" in assumption:
        # The context's autocast, or the program's own (the case says so).
        return not context.autocast and assumption not in violated
    return assumption in satisfied


def check_case(case: Case) -> CaseReport:
    safe = fix_program(case.source, case.select, unsafe=False)
    unsafe = fix_program(case.source, case.select, unsafe=True)
    report = CaseReport(case.name, case.family, safe, unsafe)
    for label, fixed in (("safe", safe), ("unsafe", unsafe)):
        if fixed.error:
            report.failures.append(f"{label} fix: {fixed.error}")
        if fixed.refixed != fixed.text:
            report.failures.append(f"{label} fix is not a fixpoint: fixing the fixed file changes it again")
    original_code = compile(case.source, f"<{case.name}>", "exec")
    versions: list[tuple[str, Fixed, types.CodeType]] = []
    seen: set[str] = set()
    for label, fixed in (("safe", safe), ("unsafe", unsafe)):
        if fixed.text == case.source or fixed.text in seen:
            continue
        seen.add(fixed.text)
        try:
            versions.append((label, fixed, compile(fixed.text, f"<{case.name}:{label}>", "exec")))
        except SyntaxError as error:
            report.failures.append(f"{label} fix does not compile: {error}")
    if not versions:
        return report
    for index, spec in enumerate(case.inputs):
        for dtype in case.dtypes:
            violated = spec.violates | case.violates
            satisfied = (_derived_assumptions(spec, dtype) | HOLDING_UNLESS_VIOLATED | case.satisfies | spec.satisfies) - violated
            silent = SILENT_ASSUMPTIONS | (SILENT_ON_INTEGER_INPUTS if _has_integer_input(spec, dtype) else frozenset())
            for context in _contexts(case):
                seed = 1000 + 17 * index
                original = execute(original_code, case.entry, spec, dtype, context, seed)
                for label, fixed, code in versions:
                    outcome = execute(code, case.entry, spec, dtype, context, seed)
                    found = compare(original, outcome, context.autocast)
                    if found is None:
                        continue
                    where = f"input {index}{' ' + spec.label if spec.label else ''}, {str(dtype)[6:]}, {context}"
                    # Every fix in the text after unsafe fixing, safe ones included, is held to its tier.
                    assumptions = {name for fix in fixed.applied if fix.applicability == "unsafe" for name in fix.assumptions}
                    broken = sorted(name for name in assumptions if not _holds(name, satisfied, violated, context))
                    if label == "safe" or not broken:
                        report.failures.append(f"{label} fix changes behaviour ({where}): {found}")
                    elif outcome.raised is None and not any(name in silent or any(word in name for word in CONTEXT_ASSUMPTION_WORDS) for name in broken):
                        report.failures.append(f"unsafe fix computes something else instead of raising when {', '.join(broken)} fails ({where}): {found}")
    return report


def describe(report: CaseReport) -> str:
    fixes = ", ".join(f"{f.code}:{f.line}:{f.applicability}{'(' + ','.join(f.assumptions) + ')' if f.assumptions else ''}" for f in report.unsafe.applied)
    return f"{report.name} [{report.family}] fixes: {fixes or 'none'}"

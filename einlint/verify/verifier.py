"""Verify fixes: prepare both expressions, run them on every input case and dtype, time the ones that
agree, and give one verdict per fix - equivalent, not equivalent, or not verifiable (with the reason).

Equivalence is shown for the ranks, shapes and dtypes tried; it does not establish what an unsafe fix
assumes about the user's operands (that they are tensors, their ranks, a floating dtype), so a verified
unsafe fix stays unsafe."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from einlint.diagnostics import Diagnostic
from einlint.observe.cases import ObservedOperands
from einlint.evidence.imports import ImportTable
from einlint.verify.cache import VerdictCache, verdict_key
from einlint.verify.equivalence import (
    BOTH_RAISE, MATCH, MISMATCH, SKIPPED, CaseOutcome, check_autocast, check_case, compile_pair,
    is_allocation_failure,
)  # fmt: skip
from einlint.verify.expressions import ExpressionPair, NotVerifiable, prepare
from einlint.verify.inputs import PROFILES, plan
from einlint.verify.observed import observed_plan
from einlint.verify.runtime import VerifierUnavailable, default_dtypes, device_description, require_torch, resolve_device, tf32_state
from einlint.verify.targets import edits_key, file_imports, fix_target
from einlint.verify.timing import DEFAULT_MIN_RUN_TIME, ShapeTiming, overall_label, time_case

EQUIVALENT, NOT_EQUIVALENT, NOT_VERIFIABLE = "equivalent", "not equivalent", "not verifiable"
# Equal results in the default context, a different dtype or precision under autocast: not called
# equivalent, since code that runs under autocast would compute something else.
AUTOCAST_DIFFERS = "equivalent without autocast"
VERDICTS = (EQUIVALENT, NOT_EQUIVALENT, AUTOCAST_DIFFERS, NOT_VERIFIABLE)
# Seconds one fix may take, equivalence checks and timing together; a check past it ends the fix's
# verification ("not verifiable: over the time budget"), timing past it stops with a note.
DEFAULT_TIME_BUDGET = 60.0


@dataclass(frozen=True)
class VerifyOptions:
    device: str | None = None  # None: cuda when torch sees one, else cpu
    dtypes: tuple[str, ...] | None = None  # None: float32 and float64, plus bfloat16 and float16 on cuda
    profiles: tuple[str, ...] = PROFILES
    timing: bool = True
    min_run_time: float = DEFAULT_MIN_RUN_TIME
    use_cache: bool = True
    # False: verify again and replace what the cache holds (``--no-cache``); only with use_cache.
    read_cache: bool = True
    cache_dir: Path | None = None
    seed: int = 0
    time_budget: float = DEFAULT_TIME_BUDGET
    autocast: bool = True  # also compare under CPU autocast (bfloat16)
    # What ``einlint observe`` recorded of this fix's operands: cases at those shapes run as well.
    observed: ObservedOperands | None = None


@dataclass(frozen=True)
class PairVerdict:
    """What the verifier found for one original/rewritten pair; independent of where the pair occurs."""

    verdict: str
    reason: str
    original: str
    rewritten: str
    original_code: str = ""
    rewritten_code: str = ""
    operands: tuple[str, ...] = ()
    equation: str = ""
    max_error: float | None = None
    grad_error: float | None = None
    contiguous: tuple[bool, bool] | None = None  # the original's and the rewrite's result
    cases: tuple[CaseOutcome, ...] = ()
    timings: tuple[ShapeTiming, ...] = ()
    speed: str | None = None  # faster, slower, same; None when not timed
    notes: tuple[str, ...] = ()
    device: str = ""
    torch_version: str = ""
    float32_matmul_precision: str = ""
    cached: bool = False
    # What was run, as the fix's rule named it (``FixTarget.description``): the einsum call that
    # consumes a removed copy, a rewritten product chain; ``original`` and ``rewritten`` are its text.
    target: str = ""

    @property
    def equivalent(self) -> bool:
        return self.verdict == EQUIVALENT

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict, "reason": self.reason, "original": self.original, "rewritten": self.rewritten,
            "original_code": self.original_code, "rewritten_code": self.rewritten_code, "operands": list(self.operands),
            "equation": self.equation, "max_error": self.max_error, "grad_error": self.grad_error,
            "contiguous": None if self.contiguous is None else dict(zip(("original", "rewritten"), self.contiguous)),
            "speed": self.speed, "timings": [timing.to_dict() for timing in self.timings],
            "cases": [case.to_dict() for case in self.cases], "notes": list(self.notes), "device": self.device,
            "torch": self.torch_version, "float32_matmul_precision": self.float32_matmul_precision, "cached": self.cached,
            "target": self.target,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> PairVerdict:
        contiguous = data.get("contiguous")
        return cls(
            data["verdict"], data["reason"], data["original"], data["rewritten"], data["original_code"],
            data["rewritten_code"], tuple(data["operands"]), data["equation"], data["max_error"], data["grad_error"],
            None if contiguous is None else (contiguous["original"], contiguous["rewritten"]),
            tuple(CaseOutcome.from_dict(case) for case in data["cases"]),
            tuple(ShapeTiming.from_dict(timing) for timing in data["timings"]),
            data["speed"], tuple(data["notes"]), data["device"], data["torch"], data["float32_matmul_precision"],
            data.get("cached", False), data.get("target", ""),
        )  # fmt: skip


@dataclass(frozen=True)
class FixVerification:
    """A finding's fix and its verdict."""

    path: str
    line: int
    col: int  # 1-based, as shown to users
    code: str
    applicability: str
    assumptions: tuple[str, ...]
    edits: tuple[tuple[str, str], ...]  # (replaced text, replacement) per edit: the fix, wherever it moves
    result: PairVerdict = field(compare=False)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def to_dict(self) -> dict:
        data = {
            "path": self.path, "line": self.line, "col": self.col, "code": self.code,
            "applicability": self.applicability, "assumptions": list(self.assumptions),
        }  # fmt: skip
        data.update(self.result.to_dict())
        return data


def verify_pair(
    original: str,
    rewritten: str,
    imports: ImportTable | None = None,
    options: VerifyOptions = VerifyOptions(),
    assumptions: tuple[str, ...] = (),
) -> PairVerdict:
    """Verify that ``rewritten`` computes what ``original`` does. ``imports`` are the file's import
    aliases (``t`` for ``import torch as t``); without them ``torch`` is taken to be torch.
    ``assumptions`` are the fix's: a fix that assumes ``matching-sizes`` may raise on a broadcast
    size-1 dimension the original accepted (that is how its assumption fails loudly).

    Whatever goes wrong while verifying (an allocation failure, the time budget, an error of the
    verifier itself) becomes this pair's "not verifiable" verdict with the reason; only a missing
    torch and an interrupt end the caller's run."""
    torch = require_torch()
    device = resolve_device(options.device)
    context = {"device": device_description(device), "torch_version": str(torch.__version__)}
    flat = " ".join(original.split()), " ".join(rewritten.split())
    try:
        return _verify_pair(original, rewritten, imports, options, device, context, frozenset(assumptions))
    except NotVerifiable as reason:
        return PairVerdict(NOT_VERIFIABLE, str(reason), *flat, **context)
    except VerifierUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - one fix's failure must not end the run
        if is_allocation_failure(error):
            return PairVerdict(NOT_VERIFIABLE, f"over budget: allocation failed ({_one_line(error)})", *flat, **context)
        return PairVerdict(NOT_VERIFIABLE, f"internal error of the verifier ({_one_line(error)})", *flat, **context)


def _one_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}"[:200]


def _verify_pair(
    original: str, rewritten: str, imports: ImportTable | None, options: VerifyOptions, device: str, context: dict,
    assumptions: frozenset[str] = frozenset(),
) -> PairVerdict:  # fmt: skip
    torch = require_torch()
    deadline = time.monotonic() + options.time_budget
    pair = prepare(original, rewritten, imports)
    functions = compile_pair(pair)
    case_plan = plan(pair, options.profiles, functions[0])
    at_observed = observed_plan(pair, options.observed, functions[0], device)
    cases = list(case_plan.cases) + list(at_observed.cases)
    dtypes = options.dtypes or default_dtypes(device)
    timing_key = f"timed {options.min_run_time}s" if options.timing else "untimed"
    cache = VerdictCache(options.cache_dir) if options.use_cache else None
    key = verdict_key(
        pair.original_code, pair.rewritten_code, [case.to_dict() for case in cases], dtypes,
        torch.__version__, context["device"],
        f"{timing_key}, autocast {options.autocast}" + (f", assumes {', '.join(sorted(assumptions))}" if assumptions else ""),
    )  # fmt: skip
    if cache is not None and options.read_cache:
        stored = cache.get(key)
        if stored is not None:
            try:
                verdict = PairVerdict.from_dict(stored)
            except (KeyError, TypeError, ValueError):
                verdict = None  # a stale or damaged entry: verify again
            if verdict is not None and verdict.verdict in VERDICTS:
                # The expressions as written here: equal canonical code may be spelled differently.
                return replace(verdict, original=pair.original, rewritten=pair.rewritten, operands=pair.operands, cached=True)
    verdict = _run(pair, functions, cases, dtypes, device, options, context, deadline, "matching-sizes" in assumptions)
    if case_plan.over_budget:
        skipped = tuple(f"not tried, over budget: {line}" for line in case_plan.over_budget)
        verdict = replace(verdict, notes=verdict.notes + skipped)
    if at_observed.notes:
        verdict = replace(verdict, notes=verdict.notes + at_observed.notes)
    if cache is not None and not verdict.reason.startswith("over the time budget"):
        cache.put(key, verdict.to_dict())
    return verdict


def _run(
    pair: ExpressionPair, functions: tuple, cases, dtypes: tuple[str, ...], device: str, options: VerifyOptions,
    context: dict, deadline: float, sizes_assumed: bool = False,
) -> PairVerdict:  # fmt: skip
    original, rewritten = functions
    outcomes: list[CaseOutcome] = []
    failure = None
    common = dict(
        original=pair.original, rewritten=pair.rewritten, original_code=pair.original_code,
        rewritten_code=pair.rewritten_code, operands=pair.operands, equation=pair.equation,
        float32_matmul_precision=tf32_state(), **context,
    )  # fmt: skip
    checks = sum(1 if case.dtype else len(dtypes) for case in cases)
    for index, case in enumerate(cases):
        for dtype in (case.dtype,) if case.dtype else dtypes:
            if time.monotonic() > deadline:
                reason = f"over the time budget of {options.time_budget:g} s after {len(outcomes)} of {checks} checks"
                return PairVerdict(NOT_VERIFIABLE, reason, cases=tuple(outcomes), **common)
            outcome = check_case(original, rewritten, case, dtype, device, options.seed + index, sizes_assumed)
            outcomes.append(outcome)
            if outcome.status == MISMATCH:
                failure = outcome
                break
        if failure:
            break
    common["cases"] = tuple(outcomes)
    matched = [outcome for outcome in outcomes if outcome.status == MATCH]
    errors = [outcome.max_error for outcome in outcomes if outcome.max_error is not None]
    grad_errors = [outcome.grad_error for outcome in outcomes if outcome.grad_error is not None]
    max_error = max(errors) if errors else None
    grad_error = max(grad_errors) if grad_errors else None
    contiguous = next((outcome.contiguous for outcome in outcomes if outcome.contiguous is not None), None)
    if failure is not None:
        reason = f"{failure.case}, {failure.dtype}: {failure.detail}"
        return PairVerdict(NOT_EQUIVALENT, reason, max_error=max_error, grad_error=grad_error, contiguous=contiguous, **common)
    if not matched:
        raised = next((outcome.detail for outcome in outcomes if outcome.status == BOTH_RAISE), "")
        reason = f"the original raises on every input tried ({raised})" if raised else "no input case applies"
        return PairVerdict(NOT_VERIFIABLE, reason, **common)
    notes = tuple(
        dict.fromkeys(f"{outcome.case}: {outcome.detail}" for outcome in outcomes if outcome.status in (SKIPPED, BOTH_RAISE))
    )  # fmt: skip
    verdict, tried = EQUIVALENT, f"{len(matched)} case/dtype combinations agree"
    if options.autocast:
        base = next(case for case in cases if case.name == matched[0].case)
        autocast = check_autocast(original, rewritten, base, options.seed)
        if autocast.status == MISMATCH:
            verdict, tried = AUTOCAST_DIFFERS, f"{tried}; {autocast.case}: {autocast.detail}"
        elif autocast.status == MATCH:
            tried += f", and on {autocast.case}"
        else:
            notes += (f"{autocast.case}: {autocast.detail}",)
    timings: list[ShapeTiming] = []
    if options.timing:
        for index, case in enumerate(cases):
            if not case.timed:
                continue
            if time.monotonic() > deadline:
                notes += (f"timing stopped at the time budget of {options.time_budget:g} s",)
                break
            timing = time_case(original, rewritten, case, case.dtype or dtypes[0], device, options.seed + index, options.min_run_time)
            if timing is not None:
                timings.append(timing)
    return PairVerdict(
        verdict, tried, max_error=max_error, grad_error=grad_error, contiguous=contiguous, timings=tuple(timings),
        speed=overall_label(timings), notes=notes, **common,
    )  # fmt: skip


# What verifies one pair: ``verify_pair`` itself, or a worker process's ``PairWorker.verify``.
PairVerifier = Callable[[str, str, "ImportTable | None", VerifyOptions, tuple[str, ...]], PairVerdict]


def verify_diagnostic(
    diagnostic: Diagnostic,
    source_text: str,
    options: VerifyOptions = VerifyOptions(),
    verify: PairVerifier | None = None,
    imports: ImportTable | None = None,
) -> FixVerification:
    """Verify one finding's fix: run its target (``Fix.target``, what its rule said the fix changes:
    the whole expression that consumes the rewrite, before and after) and nothing else. A fix without
    a target is not verifiable; nothing is reconstructed from its edits. ``source_text`` is the file's
    text (its imports, the fix's edits); ``imports`` its import table, where the caller has it.
    ``verify`` verifies the pair (default: ``verify_pair``, in this process)."""
    verify = verify or verify_pair
    fix = diagnostic.fix
    try:
        target = fix_target(diagnostic)
    except NotVerifiable as reason:
        result = PairVerdict(NOT_VERIFIABLE, str(reason), "", fix.replacement if fix else "")
    else:
        assert fix is not None
        imports = imports if imports is not None else file_imports(source_text)
        verdict = verify(target.original, target.rewritten, imports, options, fix.assumptions)
        result = replace(verdict, target=target.description)
    return FixVerification(
        diagnostic.path, diagnostic.line, diagnostic.col + 1, diagnostic.code,
        fix.applicability.value if fix else "", fix.assumptions if fix else (), edits_key(diagnostic, source_text), result,
    )  # fmt: skip


def verify_findings(
    findings: list[tuple[Diagnostic, str]],
    options: VerifyOptions = VerifyOptions(),
    on_progress: Callable[[int, int], None] | None = None,
    verify: PairVerifier | None = None,
    observed: Callable[[Diagnostic, str], ObservedOperands | None] | None = None,
) -> list[FixVerification]:
    """Verify the fix of every finding that has one; ``findings`` pairs each with its file's text.
    ``verify`` verifies each pair: in this process by default, ``PairWorker.verify`` to isolate them.
    ``observed`` gives what ``einlint observe`` recorded of a fix's operands (cases at those shapes
    are added to the synthetic ones)."""
    results = []
    imports: dict[str, tuple[str, ImportTable]] = {}
    fixable = [(diagnostic, text) for diagnostic, text in findings if diagnostic.fix is not None]
    for done, (diagnostic, source_text) in enumerate(fixable):
        if on_progress:
            on_progress(done, len(fixable))
        held = imports.get(diagnostic.path)
        if held is None or held[0] != source_text:
            held = imports[diagnostic.path] = (source_text, file_imports(source_text))
        fix_options = options
        if observed is not None:
            fix_options = replace(options, observed=observed(diagnostic, source_text))
        results.append(verify_diagnostic(diagnostic, source_text, fix_options, verify, held[1]))
    return results

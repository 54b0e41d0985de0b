"""Time both expressions of a fix with ``torch.utils.benchmark`` (blocked autorange, then blocks of the
two timed alternately; the timer synchronises CUDA), forward and forward+backward, and say whether the
rewrite is faster, slower or the same within the noise measured on this machine."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from einlint.verify.inputs import InputCase, make_inputs
from einlint.verify.runtime import require_torch

DEFAULT_MIN_RUN_TIME = 0.1  # seconds per side and phase; blocks of >= 10 ms give about ten replicates
# The smallest difference ever called real: run-to-run drift on a quiet machine is about this large
# even when the spread inside one measurement is smaller.
NOISE_FLOOR = 0.03
# After each side's blocked autorange, blocks of the two are timed alternately, so that a burst of load
# on a shared machine hits both sides; the spread of these paired ratios is the noise.
MIN_PAIRS, MAX_PAIRS = 5, 50

FASTER, SLOWER, SAME = "faster", "slower", "same"


@dataclass(frozen=True)
class Measurement:
    median: float  # seconds per call
    iqr: float
    blocks: int


@dataclass(frozen=True)
class Comparison:
    original: Measurement
    rewritten: Measurement
    # Interquartile range over median of the ratios of alternately timed blocks.
    paired_spread: float = 0.0

    @property
    def ratio(self) -> float:
        """Original time over rewritten time: above 1, the rewrite is faster."""
        return self.original.median / self.rewritten.median if self.rewritten.median > 0 else math.inf

    @property
    def noise(self) -> float:
        return max(NOISE_FLOOR, self.paired_spread)

    @property
    def label(self) -> str:
        if self.ratio > 1 + self.noise:
            return FASTER
        if self.ratio < 1 / (1 + self.noise):
            return SLOWER
        return SAME

    def to_dict(self) -> dict:
        return {
            "original": asdict(self.original), "rewritten": asdict(self.rewritten), "paired_spread": self.paired_spread,
            "ratio": self.ratio, "noise": self.noise, "label": self.label,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Comparison:
        return cls(Measurement(**data["original"]), Measurement(**data["rewritten"]), data["paired_spread"])


@dataclass(frozen=True)
class ShapeTiming:
    case: str
    shapes: tuple[tuple[int, ...], ...]
    dtype: str
    forward: Comparison
    backward: Comparison | None  # forward+backward; None when the result has no gradient

    def to_dict(self) -> dict:
        return {
            "case": self.case, "shapes": [list(shape) for shape in self.shapes], "dtype": self.dtype,
            "forward": self.forward.to_dict(), "backward": self.backward.to_dict() if self.backward else None,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> ShapeTiming:
        backward = Comparison.from_dict(data["backward"]) if data.get("backward") else None
        shapes = tuple(tuple(shape) for shape in data["shapes"])
        return cls(data["case"], shapes, data["dtype"], Comparison.from_dict(data["forward"]), backward)


def time_case(
    original: Callable, rewritten: Callable, case: InputCase, dtype: str, device: str, seed: int, min_run_time: float
) -> ShapeTiming | None:
    """Forward (no autograd graph) and forward+backward timings of one case; None when an expression
    raises on it."""
    torch = require_torch()
    inputs = make_inputs(case, dtype, device, seed)
    detached = [tensor.detach() for tensor in inputs]
    try:
        result = original(*inputs)
        rewritten(*inputs)
    except Exception:  # noqa: BLE001 - a case that raises has nothing to time
        return None
    forward = _compare(lambda: original(*detached), lambda: rewritten(*detached), min_run_time)
    backward = None
    if isinstance(result, torch.Tensor) and result.dtype.is_floating_point and result.requires_grad:
        upstream = torch.ones_like(result)

        def round_trip(function: Callable) -> Callable[[], object]:
            return lambda: torch.autograd.grad(function(*inputs), inputs, upstream, allow_unused=True)

        backward = _compare(round_trip(original), round_trip(rewritten), min_run_time)
    return ShapeTiming(case.name, case.shapes, dtype, forward, backward)


def _compare(original: Callable[[], object], rewritten: Callable[[], object], min_run_time: float) -> Comparison:
    torch = require_torch()
    from torch.utils import benchmark

    timers = [
        benchmark.Timer(stmt="run()", globals={"run": function}, num_threads=torch.get_num_threads())
        for function in (original, rewritten)
    ]  # fmt: skip
    # Blocked autorange per side: warm-up, the block size, and the first replicates.
    first = [timer.blocked_autorange(min_run_time=min_run_time) for timer in timers]
    times = [list(measurement.times) for measurement in first]
    ratios: list[float] = []
    deadline = time.perf_counter() + min_run_time
    while len(ratios) < MIN_PAIRS or (time.perf_counter() < deadline and len(ratios) < MAX_PAIRS):
        pair = [timer.timeit(measurement.number_per_run).median for timer, measurement in zip(timers, first)]
        times[0].append(pair[0])
        times[1].append(pair[1])
        ratios.append(pair[0] / pair[1] if pair[1] > 0 else math.inf)
    median_ratio = statistics.median(ratios)
    spread = _iqr(ratios) / median_ratio if 0 < median_ratio < math.inf else math.inf
    return Comparison(_summary(times[0]), _summary(times[1]), spread)


def _summary(times: list[float]) -> Measurement:
    return Measurement(statistics.median(times), _iqr(times), len(times))


def _iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def overall_label(timings: list[ShapeTiming] | tuple[ShapeTiming, ...]) -> str | None:
    """Slower when any shape is slower, forward or backward (the conservative reading for
    ``--only-faster``); faster when some shape is faster and none slower; otherwise the same."""
    labels = [comparison.label for timing in timings for comparison in (timing.forward, timing.backward) if comparison]
    if not labels:
        return None
    if SLOWER in labels:
        return SLOWER
    return FASTER if FASTER in labels else SAME

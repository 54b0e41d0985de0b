"""Time both expressions of a fix with ``torch.utils.benchmark`` (blocked autorange, then blocks of the
two timed alternately; the timer synchronises CUDA), forward and forward+backward, and say whether the
rewrite is faster, slower or the same within the noise measured on this machine.

The ratio shown is the median of the ratios of alternately timed blocks, so that a burst of load hits
both sides. Pairs are timed until a 95% interval of that median is tight (``STABLE_WIDTH``) or the
allowance runs out; a ratio whose interval stays wide is "unstable" and not shown as a figure."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from einlint.verify.inputs import OBSERVED_PROFILE, InputCase, make_inputs
from einlint.verify.runtime import require_torch

DEFAULT_MIN_RUN_TIME = 0.1  # seconds per side and phase; blocks of >= 10 ms give about ten replicates
# The smallest difference ever called real: run-to-run drift on a quiet machine is about this large
# even when the spread inside one measurement is smaller.
NOISE_FLOOR = 0.03
# After each side's blocked autorange, blocks of the two are timed alternately, so that a burst of load
# on a shared machine hits both sides; the spread of these paired ratios is the noise.
MIN_PAIRS, MAX_PAIRS = 5, 60
# A ratio is stable when the 95% interval of its median spans at most this fraction of it; pairs are
# timed for at most STABILITY_ALLOWANCE times the minimum run time while it is wider.
STABLE_WIDTH = 0.10
STABILITY_ALLOWANCE = 5
_Z95 = 1.96

FASTER, SLOWER, SAME, UNSTABLE = "faster", "slower", "same", "unstable"


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
    # The median of those ratios and its 95% interval; None for a comparison without pairs.
    paired_ratio: float | None = None
    interval: tuple[float, float] | None = None

    @property
    def ratio(self) -> float:
        """Original time over rewritten time: above 1, the rewrite is faster."""
        if self.paired_ratio is not None:
            return self.paired_ratio
        return self.original.median / self.rewritten.median if self.rewritten.median > 0 else math.inf

    @property
    def width(self) -> float:
        """The interval's width relative to the ratio (the paired spread without an interval)."""
        if self.interval is None:
            return self.paired_spread
        low, high = self.interval
        return (high - low) / self.ratio if 0 < self.ratio < math.inf else math.inf

    @property
    def stable(self) -> bool:
        return self.width <= STABLE_WIDTH

    @property
    def noise(self) -> float:
        return max(NOISE_FLOOR, self.width / 2)

    @property
    def label(self) -> str:
        if not self.stable:
            return UNSTABLE
        low, high = self.interval or (self.ratio, self.ratio)
        if self.ratio > 1 + NOISE_FLOOR and low > 1:
            return FASTER
        if self.ratio < 1 / (1 + NOISE_FLOOR) and high < 1:
            return SLOWER
        return SAME

    def to_dict(self) -> dict:
        return {
            "original": asdict(self.original), "rewritten": asdict(self.rewritten), "paired_spread": self.paired_spread,
            "paired_ratio": self.paired_ratio, "interval": list(self.interval) if self.interval else None,
            "ratio": self.ratio if self.stable else None, "stable": self.stable, "noise": self.noise, "label": self.label,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> Comparison:
        interval = data.get("interval")
        return cls(
            Measurement(**data["original"]), Measurement(**data["rewritten"]), data["paired_spread"],
            data.get("paired_ratio"), tuple(interval) if interval else None,
        )  # fmt: skip


@dataclass(frozen=True)
class ShapeTiming:
    case: str
    shapes: tuple[tuple[int, ...], ...]
    dtype: str
    forward: Comparison
    backward: Comparison | None  # forward+backward; None when the result has no gradient

    @property
    def observed(self) -> bool:
        """Timed at shapes ``einlint observe`` recorded (the "observed" profile), not synthetic ones."""
        return self.case.split("/")[0] == OBSERVED_PROFILE

    def to_dict(self) -> dict:
        return {
            "case": self.case, "shapes": [list(shape) for shape in self.shapes], "dtype": self.dtype,
            "forward": self.forward.to_dict(), "backward": self.backward.to_dict() if self.backward else None,
            "observed": self.observed,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict) -> ShapeTiming:
        backward = Comparison.from_dict(data["backward"]) if data.get("backward") else None
        shapes = tuple(tuple(shape) for shape in data["shapes"])
        return cls(data["case"], shapes, data["dtype"], Comparison.from_dict(data["forward"]), backward)


def time_case(original: Callable, rewritten: Callable, case: InputCase, dtype: str, device: str, seed: int, min_run_time: float) -> ShapeTiming | None:
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
    deadline = time.perf_counter() + STABILITY_ALLOWANCE * min_run_time
    while len(ratios) < MIN_PAIRS or (_relative_width(ratios) > STABLE_WIDTH and time.perf_counter() < deadline and len(ratios) < MAX_PAIRS):
        pair = [timer.timeit(measurement.number_per_run).median for timer, measurement in zip(timers, first)]
        times[0].append(pair[0])
        times[1].append(pair[1])
        ratios.append(pair[0] / pair[1] if pair[1] > 0 else math.inf)
    median_ratio = statistics.median(ratios)
    spread = _iqr(ratios) / median_ratio if 0 < median_ratio < math.inf else math.inf
    return Comparison(_summary(times[0]), _summary(times[1]), spread, median_ratio, median_interval(ratios))


def median_interval(values: list[float]) -> tuple[float, float]:
    """A distribution-free 95% interval of the median: the order statistics about sqrt(n) ranks either
    side of the middle (with five values, the whole range)."""
    ordered = sorted(values)
    count = len(ordered)
    reach = _Z95 * math.sqrt(count) / 2
    low = max(0, math.floor(count / 2 - reach))
    high = min(count - 1, math.ceil(count / 2 + reach) - 1)
    return ordered[low], ordered[high]


def _relative_width(ratios: list[float]) -> float:
    if not ratios:
        return math.inf
    median = statistics.median(ratios)
    low, high = median_interval(ratios)
    return (high - low) / median if 0 < median < math.inf else math.inf


def _summary(times: list[float]) -> Measurement:
    return Measurement(statistics.median(times), _iqr(times), len(times))


def _iqr(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    quartiles = statistics.quantiles(values, n=4)
    return quartiles[2] - quartiles[0]


def overall_label(timings: list[ShapeTiming] | tuple[ShapeTiming, ...]) -> str | None:
    """Slower when any shape is slower, forward or backward (the conservative reading for
    ``--only-faster``); unstable when none is slower but some measurement did not settle; faster when
    some shape is faster; otherwise the same."""
    labels = [comparison.label for timing in timings for comparison in (timing.forward, timing.backward) if comparison]
    if not labels:
        return None
    for label in (SLOWER, UNSTABLE, FASTER):
        if label in labels:
            return label
    return SAME

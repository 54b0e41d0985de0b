"""The observations file: what ran at each flagged statement, merged over every recorded run.

One JSON file (``.einlint/observations.json`` beside the nearest ``pyproject.toml``)::

    {"einlint-observations": 1, "sites": [{"path": "pkg/model.py", "line": 12, "hash": "...",
      "executions": 40, "raised": 0, "seconds": 0.0123, "grad_enabled": {"true": 40},
      "autocast": {"off": 40}, "dtype_mismatches": 0,
      "operands": {"x": {FACTS}, "self.weight": {FACTS}}, "result": {FACTS} | null,
      "rewrites": {"bqhd,bhdk->bhqk(q, k)": {REWRITE}}}]}

where FACTS counts, over the executions that read the value, its class (``torch.Tensor``, a
subclass or another class, by qualified name), rank, dtype, device, layout, contiguity,
``requires_grad`` and, when not contiguous, whether it was a reordered dense tensor, with a bounded sample of shapes and strides; ``unreadable`` counts the executions
where it could not be read without running code; REWRITE is ``RewriteFacts``. Never a tensor's
values.

``path`` is relative to the project's root (``project_root``: the directory of the nearest
``pyproject.toml``, wherever the file itself is kept); ``line`` and ``hash`` are the
statement's first line and the hash of its text (``sites.statement_hash``).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

FORMAT_KEY = "einlint-observations"
FORMAT_VERSION = 1
OBSERVATIONS_DIR = ".einlint"
OBSERVATIONS_NAME = "observations.json"
# Distinct shapes (and strides) kept per value: enough to tell one shape from several.
SHAPE_SAMPLE = 8
# A file larger than this is not read (it was not written by einlint, or has grown without bound).
MAX_FILE_BYTES = 64 * 1024 * 1024
COUNTED = ("classes", "ranks", "dtypes", "devices", "layouts", "contiguous", "requires_grad", "non_contiguous")
# What a non-contiguous strided tensor was, counted under "non_contiguous": a reordering of a dense
# block of memory (``transpose``, ``permute``), or strided otherwise (a slice, a step, a broadcast).
PERMUTED, STRIDED = "permuted", "strided"


class ObservationsError(Exception):
    """An observations file that cannot be used; the message is one line for the user."""


@dataclass(frozen=True)
class ValueFacts:
    """What was seen of one value (an operand, or the statement's result) over the executions."""

    reads: int = 0
    unreadable: int = 0
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)  # one of COUNTED -> value -> executions
    shapes: tuple[tuple[int, ...], ...] = ()
    shapes_truncated: bool = False
    strides: tuple[tuple[int, ...], ...] = ()
    strides_truncated: bool = False

    def seen(self, kind: str) -> tuple[str, ...]:
        return tuple(sorted(self.counts.get(kind, {})))

    def merged(self, other: ValueFacts) -> ValueFacts:
        counts = {kind: _add(self.counts.get(kind, {}), other.counts.get(kind, {})) for kind in COUNTED}
        shapes, shapes_cut = _union(self.shapes, other.shapes, self.shapes_truncated or other.shapes_truncated)
        strides, strides_cut = _union(self.strides, other.strides, self.strides_truncated or other.strides_truncated)
        return ValueFacts(
            self.reads + other.reads, self.unreadable + other.unreadable,
            {kind: value for kind, value in counts.items() if value}, shapes, shapes_cut, strides, strides_cut,
        )  # fmt: skip

    def to_json(self) -> dict:
        return {
            "reads": self.reads,
            "unreadable": self.unreadable,
            **{kind: dict(sorted(self.counts.get(kind, {}).items())) for kind in COUNTED},
            "shapes": [list(shape) for shape in self.shapes],
            "shapes_truncated": self.shapes_truncated,
            "strides": [list(stride) for stride in self.strides],
            "strides_truncated": self.strides_truncated,
        }

    @classmethod
    def from_json(cls, data: object) -> ValueFacts:
        if not isinstance(data, dict):
            raise ValueError("a value's facts must be an object")
        return cls(
            _count(data.get("reads", 0)), _count(data.get("unreadable", 0)),
            {kind: _counter(data.get(kind, {})) for kind in COUNTED if data.get(kind)},
            *_shapes(data.get("shapes", []), data.get("shapes_truncated", False)),
            *_shapes(data.get("strides", []), data.get("strides_truncated", False)),
        )  # fmt: skip


@dataclass(frozen=True)
class RewriteFacts:
    """What the recorder worked out about one fix's rewrite at its site, from the operands it saw:
    whether labels the rewrite's equation matches had equal sizes, and, where the fix replaces the
    statement's whole value, whether the rewrite's result (computed on meta tensors of the observed
    shapes, strides and dtypes) has the observed result's shape and strides."""

    executions: int = 0  # executions where every operand was a tensor
    size_mismatches: Mapping[str, int] = field(default_factory=dict)  # label -> executions its sizes differed
    layouts_compared: int = 0
    layouts_same: int = 0

    def merged(self, other: RewriteFacts) -> RewriteFacts:
        return RewriteFacts(
            self.executions + other.executions, _add(self.size_mismatches, other.size_mismatches),
            self.layouts_compared + other.layouts_compared, self.layouts_same + other.layouts_same,
        )  # fmt: skip

    def to_json(self) -> dict:
        return {
            "executions": self.executions,
            "size_mismatches": dict(sorted(self.size_mismatches.items())),
            "layouts_compared": self.layouts_compared,
            "layouts_same": self.layouts_same,
        }

    @classmethod
    def from_json(cls, data: object) -> RewriteFacts:
        if not isinstance(data, dict):
            raise ValueError("a rewrite's facts must be an object")
        compared, same = _count(data.get("layouts_compared", 0)), _count(data.get("layouts_same", 0))
        if same > compared:
            raise ValueError("more layouts the same than compared")
        return cls(_count(data.get("executions", 0)), _counter(data.get("size_mismatches", {})), compared, same)


@dataclass(frozen=True)
class SiteObservation:
    """Every recorded execution of one statement."""

    path: str  # relative to the observations' root, with ``/``
    line: int
    statement_hash: str
    executions: int = 0
    raised: int = 0
    seconds: float = 0.0
    grad_enabled: Mapping[str, int] = field(default_factory=dict)
    autocast: Mapping[str, int] = field(default_factory=dict)  # "off" or "DEVICE:DTYPE" -> executions
    dtype_mismatches: int = 0  # executions whose tensor operands had more than one dtype
    operands: Mapping[str, ValueFacts] = field(default_factory=dict)  # by the operand's text
    result: ValueFacts | None = None
    rewrites: Mapping[str, RewriteFacts] = field(default_factory=dict)  # by ``sites.Rewrite.key``

    @property
    def key(self) -> tuple[str, int, str]:
        return self.path, self.line, self.statement_hash

    def merged(self, other: SiteObservation) -> SiteObservation:
        operands = dict(self.operands)
        for name, facts in other.operands.items():
            operands[name] = operands[name].merged(facts) if name in operands else facts
        result = self.result
        if other.result is not None:
            result = other.result if result is None else result.merged(other.result)
        rewrites = dict(self.rewrites)
        for key, facts in other.rewrites.items():
            rewrites[key] = rewrites[key].merged(facts) if key in rewrites else facts
        return SiteObservation(
            self.path, self.line, self.statement_hash,
            self.executions + other.executions, self.raised + other.raised, self.seconds + other.seconds,
            _add(self.grad_enabled, other.grad_enabled), _add(self.autocast, other.autocast),
            self.dtype_mismatches + other.dtype_mismatches, operands, result, rewrites,
        )  # fmt: skip

    def to_json(self) -> dict:
        return {
            "path": self.path,
            "line": self.line,
            "hash": self.statement_hash,
            "executions": self.executions,
            "raised": self.raised,
            "seconds": round(self.seconds, 9),
            "grad_enabled": dict(sorted(self.grad_enabled.items())),
            "autocast": dict(sorted(self.autocast.items())),
            "dtype_mismatches": self.dtype_mismatches,
            "operands": {name: facts.to_json() for name, facts in sorted(self.operands.items())},
            "result": self.result.to_json() if self.result is not None else None,
            "rewrites": {key: facts.to_json() for key, facts in sorted(self.rewrites.items())},
        }

    @classmethod
    def from_json(cls, data: object) -> SiteObservation:
        if not isinstance(data, dict):
            raise ValueError("a site must be an object")
        path, line, digest = data.get("path"), data.get("line"), data.get("hash")
        if not isinstance(path, str) or not isinstance(digest, str) or not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise ValueError("a site needs a path, a line and a hash")
        seconds = data.get("seconds", 0.0)
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds < float("inf"):
            raise ValueError("seconds must be a non-negative number")
        operands = data.get("operands", {})
        if not isinstance(operands, dict):
            raise ValueError("operands must be an object")
        result = data.get("result")
        rewrites = data.get("rewrites", {})
        if not isinstance(rewrites, dict):
            raise ValueError("rewrites must be an object")
        return cls(
            path, line, digest, _count(data.get("executions", 0)), _count(data.get("raised", 0)), float(seconds),
            _counter(data.get("grad_enabled", {})), _counter(data.get("autocast", {})), _count(data.get("dtype_mismatches", 0)),
            {str(name): ValueFacts.from_json(facts) for name, facts in operands.items()},
            ValueFacts.from_json(result) if result is not None else None,
            {str(key): RewriteFacts.from_json(facts) for key, facts in rewrites.items()},
        )  # fmt: skip


@dataclass(frozen=True)
class Observations:
    """Every site's observations, and the directory their paths are relative to."""

    root: Path
    sites: Mapping[tuple[str, int, str], SiteObservation] = field(default_factory=dict)

    def relative(self, path: str) -> str | None:
        """``path`` (as linted) relative to the root, or None outside it."""
        try:
            return Path(os.path.abspath(path)).relative_to(self.root).as_posix()
        except ValueError:
            return None

    def paths(self) -> frozenset[str]:
        return frozenset(key[0] for key in self.sites)

    def at(self, relative_path: str, line: int, statement_hash: str) -> SiteObservation | None:
        return self.sites.get((relative_path, line, statement_hash))

    def merged(self, more: Iterable[SiteObservation]) -> Observations:
        sites = dict(self.sites)
        for site in more:
            sites[site.key] = sites[site.key].merged(site) if site.key in sites else site
        return Observations(self.root, sites)

    def without(self, stale: Iterable[tuple[str, int, str]]) -> Observations:
        dropped = set(stale)
        return Observations(self.root, {key: site for key, site in self.sites.items() if key not in dropped})

    def to_json(self) -> dict:
        return {FORMAT_KEY: FORMAT_VERSION, "sites": [self.sites[key].to_json() for key in sorted(self.sites)]}


def dense_permutation(shape: tuple[int, ...], strides: tuple[int, ...]) -> bool:
    """Whether a tensor of ``shape`` and ``strides`` covers one dense block of memory in some order of
    its dimensions (a transposed or permuted view of a contiguous tensor); size-1 dimensions aside."""
    dimensions = sorted(((stride, size) for size, stride in zip(shape, strides) if size != 1), reverse=True)
    expected = 1
    for stride, size in reversed(dimensions):
        if stride != expected:
            return False
        expected *= size
    return True


def default_path(start: Path | None = None) -> Path:
    """``.einlint/observations.json`` beside the nearest ``pyproject.toml`` at or above ``start``
    (default: the current directory), or in ``start`` itself when there is none."""
    start = (start or Path.cwd()).absolute()
    for directory in (start, *start.parents):
        if (directory / "pyproject.toml").is_file():
            return directory / OBSERVATIONS_DIR / OBSERVATIONS_NAME
    return start / OBSERVATIONS_DIR / OBSERVATIONS_NAME


def project_root(start: Path | None = None) -> Path:
    """The directory observations' paths are relative to, wherever the file is kept: the one of the
    nearest ``pyproject.toml`` at or above ``start`` (default: the current directory), or ``start``."""
    return default_path(start).parent.parent


def parse_sites(data: object, where: str) -> list[SiteObservation]:
    if not isinstance(data, dict) or data.get(FORMAT_KEY) != FORMAT_VERSION or not isinstance(data.get("sites"), list):
        raise ObservationsError(f"{where}: not an einlint observations file (version {FORMAT_VERSION})")
    try:
        return [SiteObservation.from_json(item) for item in data["sites"]]
    except (ValueError, TypeError, AttributeError) as error:
        raise ObservationsError(f"{where}: malformed observations: {error}") from None


def read(path: Path, root: Path | None = None) -> Observations:
    """The observations in ``path`` (an empty set when it does not exist), their paths relative to
    ``root`` (default: ``project_root()``)."""
    root = root or project_root()
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ObservationsError(f"{path}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB; not read")
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return Observations(root.absolute())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error).splitlines()[0]
        raise ObservationsError(f"{path}: cannot read the observations: {reason}") from None
    return Observations(root.absolute()).merged(parse_sites(data, str(path)))


def write(path: Path, observations: Observations) -> None:
    """Write atomically (a temporary file in the same directory, then a rename)."""
    write_json(path, observations.to_json())


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(data, handle, separators=(",", ":"))
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def _add(first: Mapping[str, int], second: Mapping[str, int]) -> dict[str, int]:
    total = dict(first)
    for key, count in second.items():
        total[key] = total.get(key, 0) + count
    return total


def _union(first: tuple, second: tuple, truncated: bool) -> tuple[tuple, bool]:
    seen = list(dict.fromkeys((*first, *second)))
    if len(seen) > SHAPE_SAMPLE:
        return tuple(seen[:SHAPE_SAMPLE]), True
    return tuple(seen), truncated


def _count(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"expected a count, got {value!r}"[:120])
    return value


def _counter(value: object) -> dict[str, int]:
    if not isinstance(value, dict):
        raise ValueError("expected an object of counts")
    return {str(key): _count(count) for key, count in value.items()}


def _shapes(value: object, truncated: object) -> tuple[tuple[tuple[int, ...], ...], bool]:
    """A bounded sample of shapes (or strides), and whether more were seen than it keeps."""
    if not isinstance(value, list):
        raise ValueError("expected a list of shapes")
    shapes = []
    for shape in value:
        if not isinstance(shape, list) or not all(isinstance(size, int) and not isinstance(size, bool) for size in shape):
            raise ValueError("a shape must be a list of integers")
        shapes.append(tuple(shape))
    return _union(tuple(shapes), (), bool(truncated))

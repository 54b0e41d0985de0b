"""Settings: defaults, ``[tool.einlint]`` in the nearest pyproject.toml, then command-line flags."""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_EXCLUDE = (".git", ".hg", ".svn", ".venv", "venv", "build", "__pycache__", ".tox", ".nox", ".eggs", "node_modules")
# Facts a project may declare about itself; each upgrades the unsafe fixes that assume exactly it.
KNOWN_ASSUMPTIONS = (
    "tensor-operands",
    "operand-ranks",
    "matching-ranks",
    "float-dtypes",
    "contiguous-result",
    "fixed-shapes-in-loops",
)


class ConfigError(Exception):
    """A configuration or usage error; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    select: tuple[str, ...] = ()  # empty: the rules that are on by default
    ignore: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    unsafe_fixes: bool = False
    per_file_ignores: tuple[tuple[str, tuple[str, ...]], ...] = ()
    assume: frozenset[str] = frozenset()
    root: Path = field(default_factory=Path.cwd)  # directory of the config file (for relative patterns)

    def rule_enabled(self, code: str, enabled_by_default: bool) -> bool:
        if self.select:
            # An exact code selects any rule; a prefix selects only the rules that are on by default.
            matched = [p for p in self.select if code == p or (code.startswith(p) and enabled_by_default)]
        else:
            matched = ["EIN"] if enabled_by_default else []
        if not matched:
            return False
        strongest_select = max(len(p) for p in matched)
        return not any(code.startswith(p) and len(p) >= strongest_select for p in self.ignore)

    def ignored_in_file(self, code: str, path: str) -> bool:
        relative = _relative(path, self.root)
        return any(
            code.startswith(tuple(codes)) for pattern, codes in self.per_file_ignores
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern)
        )  # fmt: skip

    def excluded(self, path: str) -> bool:
        """True for a path whose own name matches an exclude pattern (``build``, ``*.pyi``) or whose
        path relative to the configuration's directory matches a configured pattern (``src/gen/*``)."""
        name = os.path.basename(path.rstrip("/"))
        if any(fnmatch.fnmatch(name, pattern) for pattern in DEFAULT_EXCLUDE):
            return True
        if not self.exclude:
            return False
        relative = _relative(path, self.root)
        return any(
            fnmatch.fnmatch(name, pattern.rstrip("/")) or fnmatch.fnmatch(relative, pattern.rstrip("/"))
            or relative.startswith(pattern.rstrip("/") + "/")
            for pattern in self.exclude
        )  # fmt: skip

    def cache_key(self) -> str:
        return repr((sorted(self.select), sorted(self.ignore), sorted(self.assume), self.per_file_ignores))


def _relative(path: str, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def split_codes(value: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = tuple(item.strip().upper() for item in items if item.strip())
    for code in codes:
        if not (code.startswith("EIN") and code[3:].isdigit() or code == "EIN"):
            raise ConfigError(f"not a rule code or prefix: {code!r} (expected e.g. EIN001 or EIN0)")
    return codes


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` that has a [tool.einlint] table."""
    directory = start if start.is_dir() else start.parent
    for folder in (directory.resolve(), *directory.resolve().parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            try:
                data = tomllib.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
                raise ConfigError(f"{candidate}: cannot read the configuration: {error}") from None
            if "einlint" in data.get("tool", {}):
                return candidate
    return None


def load_settings(start: Path) -> Settings:
    config_path = find_config(start)
    if config_path is None:
        return Settings(root=Path.cwd())
    table = tomllib.loads(config_path.read_text(encoding="utf-8"))["tool"]["einlint"]
    known = {"select", "ignore", "exclude", "unsafe-fixes", "per-file-ignores", "assume"}
    unknown = set(table) - known
    if unknown:
        raise ConfigError(f"{config_path}: unknown [tool.einlint] key(s): {', '.join(sorted(unknown))}")
    assume = frozenset(table.get("assume", ()))
    bad = assume - set(KNOWN_ASSUMPTIONS)
    if bad:
        raise ConfigError(f"{config_path}: unknown assumption(s) {sorted(bad)}; known: {', '.join(KNOWN_ASSUMPTIONS)}")
    return Settings(
        select=split_codes(table.get("select", ())),
        ignore=split_codes(table.get("ignore", ())),
        exclude=tuple(table.get("exclude", ())),
        unsafe_fixes=bool(table.get("unsafe-fixes", False)),
        per_file_ignores=tuple((pattern, split_codes(codes)) for pattern, codes in table.get("per-file-ignores", {}).items()),
        assume=assume,
        root=config_path.parent,
    )


def with_overrides(settings: Settings, **changes: object) -> Settings:
    return replace(settings, **{key: value for key, value in changes.items() if value is not None})

"""Settings: defaults, then ``[tool.einlint]`` from the nearest pyproject.toml above each file (or the
one file ``--config`` names), then command-line flags.

Every file is linted with the settings of its own nearest configuration, as Ruff does, so the order of
the paths on the command line never changes what is reported, and the flake8 plugin (which sees one
file at a time) resolves exactly the same settings.
"""

from __future__ import annotations

import difflib
import fnmatch
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from einlint.line_length import DEFAULT_LINE_LENGTH, PLAUSIBLE, LineLengths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# Directory names never walked into: version control, virtual environments, build output, caches and
# installed packages. A directory holding a ``pyvenv.cfg`` is a virtual environment whatever its name.
DEFAULT_EXCLUDE = (
    ".git", ".hg", ".svn", ".venv", "venv", "build", "dist", "site-packages", "__pycache__",
    ".tox", ".nox", ".eggs", "node_modules", ".mypy_cache", ".pytest_cache", ".ruff_cache",
)  # fmt: skip
# Facts a project may declare about itself; each upgrades the unsafe fixes that assume exactly it.
KNOWN_ASSUMPTIONS = (
    "tensor-operands",
    "operand-ranks",
    "matching-ranks",
    "float-dtypes",
    "contiguous-result",
    "result-layout",
    "fixed-shapes-in-loops",
    "no-autocast",
    "matching-sizes",
    "no-inplace-after-copy",
)
LIST_KEYS = ("select", "extend-select", "ignore", "extend-ignore", "exclude", "extend-exclude", "assume")
BOOL_KEYS = ("unsafe-fixes", "respect-gitignore", "force-exclude", "observed-fixes")
TABLE_KEYS = ("per-file-ignores",)
INT_KEYS = ("line-length",)
KNOWN_KEYS = LIST_KEYS + BOOL_KEYS + TABLE_KEYS + INT_KEYS


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
    respect_gitignore: bool = True
    force_exclude: bool = False
    config_path: Path | None = None  # the file these settings came from; None: defaults only
    observed_fixes: bool = False  # --fix also applies fixes whose assumptions einlint observe saw hold
    # Fixes are wrapped to this; set by [tool.einlint] line-length, else found in the project's
    # Ruff/Black/flake8 configuration (line_length_from names the file, or "default").
    line_length: int = DEFAULT_LINE_LENGTH
    line_length_from: str | None = None

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
        if not self.per_file_ignores:
            return False
        relative = _relative(path, self.root)
        return any(
            code.startswith(tuple(codes)) for pattern, codes in self.per_file_ignores
            if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(os.path.basename(path), pattern)
        )  # fmt: skip

    def excluded(self, path: str) -> bool:
        """True for a path whose own name matches an exclude pattern (``build``, ``*.pyi``) or whose
        path relative to the configuration's directory matches a configured pattern (``src/gen/*``)."""
        name = os.path.basename(path.rstrip("/"))
        if name in DEFAULT_EXCLUDE:
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
        return repr((sorted(self.select), sorted(self.ignore), sorted(self.assume), self.per_file_ignores, str(self.root), self.line_length))

    def describe(self) -> str:
        """The resolved settings, one ``key = value`` line each (``--show-settings``)."""
        values = {
            "config-file": str(self.config_path) if self.config_path else "(none: defaults)",
            "select": list(self.select) or ["(the rules on by default)"],
            "ignore": list(self.ignore),
            "exclude": [*DEFAULT_EXCLUDE, *self.exclude],
            "per-file-ignores": {pattern: list(codes) for pattern, codes in self.per_file_ignores},
            "unsafe-fixes": self.unsafe_fixes,
            "assume": sorted(self.assume),
            "respect-gitignore": self.respect_gitignore,
            "force-exclude": self.force_exclude,
            "observed-fixes": self.observed_fixes,
            "line-length": f"{self.line_length} (from {self.line_length_from or 'default'})",
        }
        return "".join(f"{key} = {value!r}\n" for key, value in values.items())


def _relative(path: str, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(root.resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def _known_codes() -> tuple[str, ...]:
    from einlint.engine import runner

    return tuple(rule.code for rule in runner.available_rules())


def split_codes(value: str | Iterable[str], known_codes: Iterable[str] | None = None, where: str = "") -> tuple[str, ...]:
    """Codes or prefixes from a comma-separated string or a list; each must name a rule, or be the
    prefix of at least one, when ``known_codes`` is given."""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = tuple(item.strip().upper() for item in items if item.strip())
    known = tuple(known_codes) if known_codes is not None else None
    for code in codes:
        if not (code.startswith("EIN") and code[3:].isdigit() or code == "EIN"):
            raise ConfigError(f"{where}not a rule code or prefix: {code!r} (expected e.g. EIN001 or EIN0)")
        if known is not None and not any(rule_code.startswith(code) for rule_code in known):
            raise ConfigError(f"{where}no rule has the code or prefix {code!r} (see einlint --list-rules)")
    return codes


@dataclass(frozen=True)
class Overrides:
    """What the command line says, applied over every file's configuration."""

    select: tuple[str, ...] | None = None
    extend_select: tuple[str, ...] = ()
    ignore: tuple[str, ...] | None = None
    extend_ignore: tuple[str, ...] = ()
    unsafe_fixes: bool | None = None
    force_exclude: bool | None = None
    respect_gitignore: bool | None = None
    observed_fixes: bool | None = None


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise ConfigError(f"{path}: cannot read the configuration: {str(reason).splitlines()[0]}") from None


def _einlint_table(path: Path, data: dict, required: bool) -> dict | None:
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "einlint" in tool:
        table = tool["einlint"]
    elif required and path.name != "pyproject.toml":
        table = data  # an einlint-only file: its top level is the table
    elif required:
        raise ConfigError(f"{path}: no [tool.einlint] table")
    else:
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.einlint] must be a table")
    return table


def _string_list(config_path: Path, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        got = "a string" if isinstance(value, str) else type(value).__name__
        raise ConfigError(f"{config_path}: [tool.einlint] {key} must be a list of strings, got {got}: {value!r}")
    return tuple(value)


def settings_from_table(config_path: Path, table: dict, known_codes: Iterable[str] | None = None) -> Settings:
    """Validate one ``[tool.einlint]`` table: an unknown or misspelled key, a value of the wrong type,
    an unknown rule code or assumption is a ``ConfigError`` naming it."""
    known = tuple(known_codes) if known_codes is not None else _known_codes()
    for key in table:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(KNOWN_KEYS)})"
            raise ConfigError(f"{config_path}: unknown [tool.einlint] key {key!r}{hint}")
    lists = {key: _string_list(config_path, key, table[key]) for key in LIST_KEYS if key in table}
    flags = {}
    for key in BOOL_KEYS:
        if key in table:
            if not isinstance(table[key], bool):
                raise ConfigError(f"{config_path}: [tool.einlint] {key} must be true or false, got {table[key]!r}")
            flags[key] = table[key]
    where = f"{config_path}: [tool.einlint] "
    line_length = table.get("line-length")
    if line_length is not None and (not isinstance(line_length, int) or isinstance(line_length, bool) or line_length not in PLAUSIBLE):
        raise ConfigError(f"{where}line-length must be a whole number from {PLAUSIBLE.start} to {PLAUSIBLE.stop - 1}, got {line_length!r}")
    codes = {key: split_codes(lists.get(key, ()), known, f"{where}{key}: ") for key in ("select", "extend-select", "ignore", "extend-ignore")}
    per_file = table.get("per-file-ignores", {})
    if not isinstance(per_file, dict):
        raise ConfigError(f"{where}per-file-ignores must be a table of pattern = [codes], got {per_file!r}")
    per_file_ignores = tuple(
        (pattern, split_codes(_string_list(config_path, f"per-file-ignores.{pattern!r}", value), known, f"{where}per-file-ignores: "))
        for pattern, value in per_file.items()
    )
    assume = frozenset(lists.get("assume", ()))
    unknown_assumptions = sorted(assume - set(KNOWN_ASSUMPTIONS))
    if unknown_assumptions:
        raise ConfigError(f"{where}assume: unknown assumption {unknown_assumptions[0]!r}; known: {', '.join(KNOWN_ASSUMPTIONS)}")
    select = codes["select"]
    if codes["extend-select"]:
        select = (select or ("EIN",)) + codes["extend-select"]
    return Settings(
        select=select,
        ignore=codes["ignore"] + codes["extend-ignore"],
        exclude=lists.get("exclude", ()) + lists.get("extend-exclude", ()),
        unsafe_fixes=flags.get("unsafe-fixes", False),
        per_file_ignores=per_file_ignores,
        assume=assume,
        root=config_path.parent.absolute(),
        respect_gitignore=flags.get("respect-gitignore", True),
        force_exclude=flags.get("force-exclude", False),
        config_path=config_path,
        observed_fixes=flags.get("observed-fixes", False),
        line_length=line_length if line_length is not None else DEFAULT_LINE_LENGTH,
        line_length_from=str(config_path) if line_length is not None else None,
    )


def apply_overrides(settings: Settings, overrides: Overrides) -> Settings:
    select, ignore = settings.select, settings.ignore
    if overrides.select is not None:
        select = overrides.select
    if overrides.extend_select:
        select = (select or ("EIN",)) + overrides.extend_select
    if overrides.ignore is not None:
        ignore = overrides.ignore
    ignore = ignore + overrides.extend_ignore
    return replace(
        settings,
        select=select,
        ignore=ignore,
        unsafe_fixes=settings.unsafe_fixes if overrides.unsafe_fixes is None else overrides.unsafe_fixes,
        force_exclude=settings.force_exclude if overrides.force_exclude is None else overrides.force_exclude,
        respect_gitignore=settings.respect_gitignore if overrides.respect_gitignore is None else overrides.respect_gitignore,
        observed_fixes=settings.observed_fixes if overrides.observed_fixes is None else overrides.observed_fixes,
    )


class Configuration:
    """The settings of every file: its nearest ``pyproject.toml`` with a ``[tool.einlint]`` table (or
    the one ``--config`` file, or none under ``--isolated``), with the command line's overrides on top.
    Lookups are memoised per directory; a broken configuration is a ``ConfigError`` when first needed."""

    def __init__(
        self,
        overrides: Overrides = Overrides(),
        config_file: Path | None = None,
        isolated: bool = False,
        known_codes: Callable[[], Iterable[str]] | None = None,
        fixed_settings: Settings | None = None,
    ) -> None:
        self.overrides = overrides
        self.isolated = isolated
        self._known_codes = known_codes or _known_codes
        self._by_directory: dict[str, Settings] = {}
        self._by_config: dict[Path | None, Settings] = {}
        # Settings every file gets, whatever its directory: --config, --isolated, or a caller's own.
        self._fixed: Settings | None = fixed_settings
        self._tables: dict[str, dict | None] = {}
        self._line_lengths = LineLengths()
        if config_file is not None:
            config_file = config_file.absolute()
            table = _einlint_table(config_file, _read_toml(config_file), required=True)
            settings = settings_from_table(config_file, table or {}, self._known_codes())
            self._fixed = self._final(self._with_line_length(settings, str(config_file.parent)))
        elif isolated:
            self._fixed = self._final(Settings(root=Path.cwd()))

    def _final(self, settings: Settings) -> Settings:
        return apply_overrides(settings, self.overrides)

    def for_path(self, path: str | Path) -> Settings:
        """The settings for a file (or a directory's children, given the directory itself)."""
        if self._fixed is not None:
            return self._fixed
        absolute = os.path.abspath(path)
        directory = absolute if os.path.isdir(absolute) else os.path.dirname(absolute)
        return self.for_directory(directory)

    def for_directory(self, directory: str) -> Settings:
        if self._fixed is not None:
            return self._fixed
        cached = self._by_directory.get(directory)
        if cached is not None:
            return cached
        candidate = os.path.join(directory, "pyproject.toml")
        table = self._table(candidate) if os.path.isfile(candidate) else None
        parent = os.path.dirname(directory)
        if table is None and parent != directory:
            settings = self.for_directory(parent)
        else:
            settings = self._load(Path(candidate) if table is not None else None, table)
        settings = self._with_line_length(settings, directory)
        self._by_directory[directory] = settings
        return settings

    def _with_line_length(self, settings: Settings, directory: str) -> Settings:
        """``settings`` with the line length of the Ruff/Black/flake8 configuration nearest to
        ``directory``, unless einlint's own table sets one."""
        if settings.line_length_from is not None:
            return settings
        line_length, found_in = self._line_lengths.for_directory(directory)
        if line_length == settings.line_length and found_in == "default":
            return settings
        return replace(settings, line_length=line_length, line_length_from=found_in)

    def _table(self, pyproject: str) -> dict | None:
        if pyproject not in self._tables:
            path = Path(pyproject)
            self._tables[pyproject] = _einlint_table(path, _read_toml(path), required=False)
        return self._tables[pyproject]

    def _load(self, config_path: Path | None, table: dict | None) -> Settings:
        if config_path not in self._by_config:
            if config_path is None or table is None:
                settings = Settings(root=Path.cwd())
            else:
                settings = settings_from_table(config_path, table, self._known_codes())
            self._by_config[config_path] = self._final(settings)
        return self._by_config[config_path]


def find_config(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` that has a [tool.einlint] table."""
    settings = Configuration().for_path(start)
    return settings.config_path


def load_settings(start: Path) -> Settings:
    """The settings of ``start`` (a file or a directory) from its nearest configuration."""
    return Configuration().for_path(start)


def with_overrides(settings: Settings, **changes: object) -> Settings:
    # Each key is a Settings field whose type the caller's value already has (checked where parsed).
    return replace(settings, **{key: value for key, value in changes.items() if value is not None})  # type: ignore[arg-type]

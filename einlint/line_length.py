"""The line length a project already holds its code to, so that einlint's fixes keep to it: the nearest
directory (at or above a file) that configures one, read in the order Ruff reads its own files
(``.ruff.toml``, ``ruff.toml``, ``pyproject.toml``'s ``[tool.ruff]``), then Black's ``[tool.black]``,
then flake8's ``max-line-length`` (``.flake8``, ``setup.cfg``, ``tox.ini``). Another tool's file that
cannot be read is passed over: it is not einlint's to judge."""

from __future__ import annotations

import configparser
import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# Black's and Ruff's default, for a project that configures none.
DEFAULT_LINE_LENGTH = 88
# Values outside this range are typos, not line lengths.
PLAUSIBLE = range(20, 1001)


class LineLengths:
    """Memoised per directory: a run over a tree reads each candidate file once."""

    def __init__(self) -> None:
        self._by_directory: dict[str, tuple[int, str] | None] = {}

    def for_directory(self, directory: str) -> tuple[int, str]:
        """The line length for files in ``directory`` and the file that set it ("default" if none)."""
        found = self._configured(os.path.abspath(directory))
        return found if found is not None else (DEFAULT_LINE_LENGTH, "default")

    def _configured(self, directory: str) -> tuple[int, str] | None:
        if directory in self._by_directory:
            return self._by_directory[directory]
        found = _in_directory(directory)
        parent = os.path.dirname(directory)
        if found is None and parent != directory:
            found = self._configured(parent)
        self._by_directory[directory] = found
        return found


def _in_directory(directory: str) -> tuple[int, str] | None:
    for name, keys in ((".ruff.toml", ("line-length",)), ("ruff.toml", ("line-length",)), ("pyproject.toml", ("tool", "ruff", "line-length"))):
        value = _toml_value(os.path.join(directory, name), keys)
        if value is not None:
            return value
    black = _toml_value(os.path.join(directory, "pyproject.toml"), ("tool", "black", "line-length"))
    if black is not None:
        return black
    for name in (".flake8", "setup.cfg", "tox.ini"):
        value = _flake8_value(os.path.join(directory, name))
        if value is not None:
            return value
    return None


def _toml_value(path: str, keys: tuple[str, ...]) -> tuple[int, str] | None:
    if not os.path.isfile(path):
        return None
    try:
        with open(path, "rb") as handle:
            value: object = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value in PLAUSIBLE:
        return value, path
    return None


def _flake8_value(path: str) -> tuple[int, str] | None:
    if not os.path.isfile(path):
        return None
    parser = configparser.RawConfigParser()
    try:
        parser.read(path, encoding="utf-8")
        text = parser.get("flake8", "max-line-length", fallback=None) or parser.get("flake8", "max_line_length", fallback=None)
    except (OSError, configparser.Error, UnicodeDecodeError):
        return None
    if text is None or not text.strip().isdigit() or int(text) not in PLAUSIBLE:
        return None
    return int(text), path

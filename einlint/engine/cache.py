"""Per-file results keyed by file content, absolute path, settings and einlint version, so that a run
over an unchanged tree reads one index file instead of linting again.

Findings are stored without their path and given back with the path as this run spells it: the same
file named ``src/util.py`` or ``proj/src/util.py`` is one entry, printed as given each time."""

from __future__ import annotations

import hashlib
import json
import dataclasses
import os
import tempfile
from pathlib import Path

from einlint import __version__
from einlint.diagnostics import Diagnostic, diagnostic_from_dict, diagnostic_to_dict


# Changes whenever the stored form of a finding does (2: a fix carries its verification target), so that
# entries written by an earlier form are never read.
CACHE_FORMAT = 2


def default_cache_dir() -> Path:
    configured = os.environ.get("EINLINT_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "einlint"


def content_key(path: str, data: bytes, settings_key: str) -> str:
    digest = hashlib.blake2b(data, digest_size=16)
    digest.update(b"\0" + os.path.abspath(path).encode("utf-8", "surrogateescape"))
    digest.update(b"\0" + settings_key.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


class ResultCache:
    def __init__(self, directory: Path, code_key: str) -> None:
        tag = hashlib.blake2b(f"{__version__}\0{CACHE_FORMAT}\0{code_key}".encode(), digest_size=8).hexdigest()
        self.index_path = directory / f"results-{tag}.json"
        self._entries: dict[str, list[dict]] = {}
        self._dirty = False
        try:
            with open(self.index_path, encoding="utf-8") as handle:
                loaded = json.load(handle)
            if isinstance(loaded, dict):
                self._entries = loaded
        except (OSError, ValueError):
            pass  # a missing or damaged cache is an empty one

    def get(self, key: str, path: str) -> list[Diagnostic] | None:
        """The findings stored under ``key``, reported at ``path`` as this run spells it."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        try:
            return [dataclasses.replace(diagnostic_from_dict(item), path=path) for item in entry]
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, diagnostics: list[Diagnostic]) -> None:
        self._entries[key] = [{**diagnostic_to_dict(d), "path": ""} for d in diagnostics]
        self._dirty = True

    def save(self) -> None:
        if not self._dirty:
            return
        try:
            self.index_path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.index_path.parent, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(self._entries, handle, separators=(",", ":"))
            os.replace(temporary, self.index_path)
        except OSError:
            pass  # caching is an optimisation; a read-only home must not fail the run

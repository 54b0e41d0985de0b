"""Verdicts on disk, so that verifying the same fix again is instant.

The key is everything a verdict depends on: the canonical original and rewritten expressions (operand
names and torch aliases normalised away), the shapes and dtypes tried, whether and how long it was
timed, the torch version and the device. One small JSON file per key under
``$EINLINT_CACHE_DIR/verify`` (by default ``~/.cache/einlint/verify``)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from einlint.engine.cache import default_cache_dir

# Part of every key: a change in what the verifier checks makes old verdicts stale.
VERIFIER_VERSION = 1


def verdict_key(
    original_code: str, rewritten_code: str, cases: list[dict], dtypes: tuple[str, ...], torch_version: str, device: str, timing: str
) -> str:
    material = json.dumps(
        [VERIFIER_VERSION, original_code, rewritten_code, cases, list(dtypes), torch_version, device, timing],
        sort_keys=True, separators=(",", ":"),
    )  # fmt: skip
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()


class VerdictCache:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or default_cache_dir()) / "verify"

    def _path(self, key: str) -> Path:
        return self.directory / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None  # missing or damaged: verify again
        return data if isinstance(data, dict) else None

    def put(self, key: str, verdict: dict) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                json.dump(verdict, handle, separators=(",", ":"))
            os.replace(temporary, self._path(key))
        except OSError:
            pass  # the cache is an optimisation; a read-only home must not fail verification

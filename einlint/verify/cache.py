"""Verdicts on disk, so that verifying the same fix again is instant.

The key is everything a verdict depends on: the canonical original and rewritten expressions (operand
names and torch aliases normalised away), the shapes and dtypes tried, whether and how long it was
timed, the torch version and the device. One small JSON file per key under
``$EINLINT_CACHE_DIR/verify`` (by default ``~/.cache/einlint/verify``).

Each file holds its key and a checksum of the verdict with it; an entry whose checksum does not match
(edited, truncated, or copied under another key) is ignored and verified again. The checksum detects
changes, it does not authenticate: whoever can write the cache folder can also recompute it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

from einlint.engine.cache import default_cache_dir

# Part of every key: a change in what the verifier checks makes old verdicts stale.
VERIFIER_VERSION = 2


def verdict_key(original_code: str, rewritten_code: str, cases: list[dict], dtypes: tuple[str, ...], torch_version: str, device: str, timing: str) -> str:
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
        """The verdict stored under ``key``; None when there is none or it fails its checksum."""
        try:
            with open(self._path(key), encoding="utf-8") as handle:
                entry = json.load(handle)
        except (OSError, ValueError, RecursionError):
            return None  # missing or damaged: verify again
        if not isinstance(entry, dict) or not isinstance(entry.get("verdict"), dict):
            return None
        if entry.get("key") != key or entry.get("checksum") != checksum(key, entry["verdict"]):
            return None
        return entry["verdict"]

    def put(self, key: str, verdict: dict) -> None:
        """Store (or replace) the verdict under ``key``, atomically."""
        entry = {"key": key, "checksum": checksum(key, verdict), "verdict": verdict}
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            try:
                with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                    json.dump(entry, handle, separators=(",", ":"))
                os.replace(temporary, self._path(key))
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except (OSError, TypeError, ValueError):
            pass  # the cache is an optimisation; a read-only home must not fail verification


def checksum(key: str, verdict: dict) -> str:
    material = json.dumps([key, verdict], sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.blake2b(material.encode(), digest_size=16).hexdigest()

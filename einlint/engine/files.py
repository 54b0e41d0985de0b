"""Find the Python files under the paths a user names."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass

from einlint.config import Settings


@dataclass(frozen=True)
class PathProblem:
    path: str
    reason: str


def discover(paths: list[str], settings: Settings) -> Iterator[str | PathProblem]:
    """Every ``*.py`` file under ``paths`` (a file named explicitly is taken whatever its suffix),
    skipping excluded directories; symlinked directories are not followed, so a link loop ends."""
    for path in paths:
        if os.path.isfile(path):
            yield path
            continue
        if not os.path.exists(path):
            yield PathProblem(path, "no such file or directory")
            continue
        if not os.path.isdir(path):
            yield PathProblem(path, "not a regular file or directory")
            continue
        problems: list[PathProblem] = []

        def on_error(error: OSError, problems: list[PathProblem] = problems) -> None:
            problems.append(PathProblem(error.filename or path, f"cannot list directory: {error.strerror or error}"))

        for directory, subdirectories, filenames in os.walk(path, onerror=on_error):
            subdirectories[:] = sorted(d for d in subdirectories if not settings.excluded(os.path.join(directory, d)))
            for filename in sorted(filenames):
                if filename.endswith(".py"):
                    full = os.path.join(directory, filename)
                    if settings.excluded(full):
                        continue
                    # Reading a named pipe would block forever; a dangling link cannot be read either.
                    yield full if os.path.isfile(full) else PathProblem(full, _not_a_file(full))
            yield from problems
            problems.clear()
        yield from problems


def _not_a_file(path: str) -> str:
    try:
        os.stat(path)
    except OSError as error:
        if error.errno == errno.ENOENT and os.path.islink(path):
            return "broken symbolic link"
        return f"cannot read: {error.strerror or error}"
    return "not a regular file"

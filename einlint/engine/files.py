"""Find the files under the paths a user names: Python sources and Jupyter notebooks, skipping what the
configuration excludes, what ``.gitignore`` ignores, virtual environments and installed packages."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from dataclasses import dataclass

from einlint.config import Configuration, Settings
from einlint.engine.gitignore import GitIgnore, find_work_tree

SOURCE_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class PathProblem:
    path: str
    reason: str


def _is_virtualenv(directory: str) -> bool:
    return os.path.isfile(os.path.join(directory, "pyvenv.cfg"))


class _Skipper:
    def __init__(self, configuration: Configuration) -> None:
        self.configuration = configuration
        self.gitignore = GitIgnore()

    def skipped(self, path: str, is_directory: bool, settings: Settings) -> bool:
        if settings.excluded(path):
            return True
        if is_directory and _is_virtualenv(path):
            return True
        return settings.respect_gitignore and self.gitignore.ignored(path, is_directory)

    def skipped_with_parents(self, path: str) -> bool:
        """``--force-exclude`` for a path named on the command line: the path itself or any directory
        above it (up to its configuration's directory, work tree or the current directory) excluded."""
        absolute = os.path.abspath(path)
        settings = self.configuration.for_path(absolute)
        stops = {str(settings.root.absolute()), os.getcwd(), find_work_tree(absolute) or os.sep}
        current, is_directory = absolute, os.path.isdir(absolute)
        while True:
            if self.skipped(current, is_directory, self.configuration.for_directory(os.path.dirname(current))):
                return True
            parent = os.path.dirname(current)
            if current in stops or parent == current:
                return False
            current, is_directory = parent, True


def discover(paths: list[str], configuration: Configuration | Settings) -> Iterator[str | PathProblem]:
    """Every ``*.py`` and ``*.ipynb`` file under ``paths``, skipping excluded and ignored directories;
    a file named explicitly is taken whatever its suffix (unless ``force-exclude`` applies), and
    symlinked directories are not followed, so a link loop ends."""
    if isinstance(configuration, Settings):
        configuration = Configuration(fixed_settings=configuration)
    skipper = _Skipper(configuration)
    for path in paths:
        if os.path.isfile(path):
            if configuration.for_path(path).force_exclude and skipper.skipped_with_parents(path):
                continue
            yield path
            continue
        if not os.path.lexists(path):
            yield PathProblem(path, "no such file or directory")
            continue
        if not os.path.isdir(path):
            yield PathProblem(path, _not_a_file(path))
            continue
        if configuration.for_path(path).force_exclude and skipper.skipped_with_parents(path):
            continue
        yield from _walk(path, configuration, skipper)


def is_force_excluded(path: str, configuration: Configuration) -> bool:
    """Whether ``--force-exclude`` drops ``path`` (a name that need not exist: stdin's filename)."""
    return _Skipper(configuration).skipped_with_parents(path)


def _walk(path: str, configuration: Configuration, skipper: _Skipper) -> Iterator[str | PathProblem]:
    problems: list[PathProblem] = []

    def on_error(error: OSError, problems: list[PathProblem] = problems) -> None:
        problems.append(PathProblem(error.filename or path, f"cannot list directory: {error.strerror or error}"))

    for directory, subdirectories, filenames in os.walk(path, onerror=on_error):
        settings = configuration.for_directory(os.path.abspath(directory))
        subdirectories[:] = sorted(d for d in subdirectories if not skipper.skipped(os.path.join(directory, d), True, settings))
        for filename in sorted(filenames):
            if filename.endswith(SOURCE_SUFFIXES):
                full = os.path.join(directory, filename)
                if skipper.skipped(full, False, settings):
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

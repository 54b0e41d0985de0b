"""``.gitignore`` patterns, read and matched by einlint itself (no ``git`` process per directory, so a
walk over a large tree stays fast, and it works where git is not installed).

Implemented: the ``.gitignore`` of every directory from the root of the git work tree (the nearest
directory above holding ``.git``) down, and ``.git/info/exclude``; blank lines and ``#`` comments,
``!`` negation, ``\\`` escapes, a trailing ``/`` for directories only, a pattern with an inner or
leading ``/`` anchored to its file's directory, ``*``, ``?``, ``[...]`` and ``**``. A deeper file's
patterns take precedence, and the last matching line of a file wins, as in git. Not read: the global
``core.excludesFile``. Outside a git work tree nothing is ignored, as git would do.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class IgnorePattern:
    regex: re.Pattern[str]
    negated: bool
    directory_only: bool
    anchored: bool  # matched against the path relative to its file's directory, else against the name


def _glob_to_regex(glob: str) -> str:
    parts: list[str] = []
    index = 0
    while index < len(glob):
        char = glob[index]
        if glob.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
            continue
        if glob.startswith("**", index):
            parts.append(".*")
            index += 2
            continue
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif char == "\\" and index + 1 < len(glob):
            index += 1
            parts.append(re.escape(glob[index]))
        elif char == "[":
            end = glob.find("]", index + 2 if glob[index + 1 : index + 2] in ("!", "^") else index + 1)
            if end == -1:
                parts.append(re.escape(char))
            else:
                body = glob[index + 1 : end]
                if body.startswith("!"):
                    body = "^" + body[1:]
                parts.append("[" + body.replace("\\", "\\\\") + "]")
                index = end
        else:
            parts.append(re.escape(char))
        index += 1
    return "".join(parts)


def parse_line(line: str) -> IgnorePattern | None:
    line = line.rstrip("\n").rstrip("\r")
    # Trailing spaces are dropped unless escaped with a backslash.
    while line.endswith(" ") and not line.endswith("\\ "):
        line = line[:-1]
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    elif line.startswith("\\#") or line.startswith("\\!"):
        line = line[1:]
    directory_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    return IgnorePattern(re.compile(_glob_to_regex(line) + r"\Z", re.DOTALL), negated, directory_only, anchored)


def parse_file(path: str) -> tuple[IgnorePattern, ...]:
    try:
        with open(path, encoding="utf-8", errors="surrogateescape") as handle:
            lines = handle.readlines()
    except OSError:
        return ()
    return tuple(pattern for pattern in map(parse_line, lines) if pattern is not None)


def find_work_tree(path: str) -> str | None:
    directory = os.path.abspath(path)
    if not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    while True:
        if os.path.exists(os.path.join(directory, ".git")):
            return directory
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


class GitIgnore:
    """Answers whether a path is ignored by the ``.gitignore`` files of its git work tree."""

    def __init__(self) -> None:
        self._patterns: dict[str, tuple[IgnorePattern, ...]] = {}
        self._work_trees: dict[str, str | None] = {}

    def _work_tree_of(self, directory: str) -> str | None:
        if directory not in self._work_trees:
            self._work_trees[directory] = find_work_tree(directory)
        return self._work_trees[directory]

    def _patterns_of(self, directory: str, work_tree: str) -> tuple[IgnorePattern, ...]:
        if directory not in self._patterns:
            patterns = parse_file(os.path.join(directory, ".gitignore"))
            if directory == work_tree:
                patterns = parse_file(os.path.join(directory, ".git", "info", "exclude")) + patterns
            self._patterns[directory] = patterns
        return self._patterns[directory]

    def ignored(self, path: str, is_directory: bool) -> bool:
        absolute = os.path.abspath(path)
        parent = os.path.dirname(absolute)
        work_tree = self._work_tree_of(parent)
        if work_tree is None:
            return False
        # The deepest .gitignore with a matching line decides; within a file, the last matching line.
        directory = parent
        while True:
            patterns = self._patterns_of(directory, work_tree)
            if patterns:
                relative = Path(absolute).relative_to(directory).as_posix()
                name = os.path.basename(absolute)
                for pattern in reversed(patterns):
                    if pattern.directory_only and not is_directory:
                        continue
                    if pattern.regex.match(relative if pattern.anchored else name):
                        return not pattern.negated
            if directory == work_tree:
                return False
            directory = os.path.dirname(directory)

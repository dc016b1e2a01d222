"""YAML loading that remembers where each key came from, so errors can name a line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from hpo._errors import ConfigError

KeyPath = tuple[str | int, ...]


def load_yaml(path: Path) -> tuple[Any, dict[KeyPath, int]]:
    """Parse ``path``; return the data and a map from key path to 1-based line number."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {source}") from None
    except IsADirectoryError:
        raise ConfigError(f"{source} is a directory: give the path of a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {source}: {exc}") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ConfigError(f"YAML syntax error: {problem}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"YAML error: {exc}", source=source) from None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError) as exc:
        # PyYAML's constructors raise these for values they cannot build: an empty `!!float`,
        # `!!int x`, `!!bool`, a date that does not exist (2001-02-30).
        raise ConfigError(
            f"YAML value that cannot be read ({type(exc).__name__}: {exc})", source=source
        ) from None
    lines: dict[KeyPath, int] = {}
    if node is not None:
        _walk(node, (), lines, set())
    return data, lines


def _walk(node: yaml.Node, path: KeyPath, lines: dict[KeyPath, int], seen: set[int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    # An alias is the anchored node object again: walking it twice makes "billion laughs"
    # (9 levels of 9 aliases, 500 bytes) take 9**9 steps. Its lines are the anchor's anyway.
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            # Named before indexing: mypy (wrongly) reads lines[(*path, key)] as 3.11-only syntax.
            key_path = (*path, key_node.value)
            lines[key_path] = key_node.start_mark.line + 1
            _walk(value_node, key_path, lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, (*path, i), lines, seen)


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, or of its nearest ancestor that has one."""
    for end in range(len(path), -1, -1):
        found = lines.get(tuple(path[:end]))
        if found is not None:
            return found
    return None

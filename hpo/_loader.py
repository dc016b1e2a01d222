"""Load an objective function from ``"pkg.mod:func"`` or ``"path/to/file.py:func"``.

Every way this can go wrong ends in one :class:`~hpo._errors.ObjectiveError` that names what
was asked for, what is wrong and where (the file and line of an error inside the user's module),
because the person reading it is looking at a config file, not at hpo's code.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any

from hpo._errors import ObjectiveError

__all__ = ["load_callable"]


def load_callable(spec: str, base_dir: Path) -> Callable[..., Any]:
    """Resolve ``spec`` (``module:attr`` or ``file.py:attr``, relative to ``base_dir``)."""
    target, colon, attr = spec.rpartition(":")
    if not colon or not target or not attr:
        raise ObjectiveError(
            f"objective {spec!r} must name a module or file and a function, "
            "like 'train:objective' or 'src/train.py:objective'"
        )
    if target.endswith(".py") or "/" in target or os.sep in target:
        path = Path(target)
        module = _load_file(spec, path if path.is_absolute() else base_dir / path)
    else:
        module = _import_module(spec, target, base_dir)
    obj: Any = module
    for i, part in enumerate(attr.split(".")):
        if not hasattr(obj, part):
            owner = ".".join([target, *attr.split(".")[:i]])
            raise ObjectiveError(
                f"objective {spec!r}: {owner!r} has no attribute {part!r}{_hint(obj, part)}"
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ObjectiveError(
            f"objective {spec!r} is a {type(obj).__name__}, not a function (or other callable)"
        )
    return obj


def _hint(obj: object, name: str) -> str:
    public = [n for n in dir(obj) if not n.startswith("_")]
    close = difflib.get_close_matches(name, public, n=3, cutoff=0.6)
    if close:
        return "; did you mean " + " or ".join(map(repr, close)) + "?"
    functions = [n for n in public if callable(getattr(obj, n, None))][:8]
    return f" (it has: {', '.join(functions)})" if functions else ""


def _where(tb: TracebackType | None) -> str:
    """``file:line`` of the innermost frame that is not import machinery."""
    found = ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith("<frozen"):
            found = f"{filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _import_error(spec: str, what: str, exc: BaseException) -> ObjectiveError:
    if isinstance(exc, SyntaxError):
        return ObjectiveError(
            f"objective {spec!r}: syntax error in {exc.filename} line {exc.lineno}: {exc.msg}"
        )
    where = _where(exc.__traceback__)
    return ObjectiveError(
        f"objective {spec!r}: importing {what} failed with {type(exc).__name__}: {exc}"
        + (f" (at {where})" if where else "")
    )


def _import_module(spec: str, name: str, base_dir: Path) -> ModuleType:
    if str(base_dir) not in sys.path:
        # the config's folder first, so 'train:objective' finds the train.py beside it
        sys.path.insert(0, str(base_dir))
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and (name == exc.name or name.startswith(exc.name + ".")):
            raise ObjectiveError(
                f"objective {spec!r}: no module named {exc.name!r} (looked in {base_dir} "
                "and on sys.path)"
            ) from None
        raise _import_error(spec, f"module {name!r}", exc) from None
    except Exception as exc:  # whatever the user's module raises at import time
        raise _import_error(spec, f"module {name!r}", exc) from None


def _load_file(spec: str, path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise ObjectiveError(f"objective {spec!r}: file {path} not found")
    name = path.stem
    existing = sys.modules.get(name)
    if existing is not None:
        if getattr(existing, "__file__", None) == str(path):
            return existing
        # the file's stem is taken by another module: load it under a name of its own
        name = f"_hpo_objective_{hashlib.sha1(str(path).encode()).hexdigest()[:10]}"
        if name in sys.modules:
            return sys.modules[name]
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # so the file can import its neighbours
    module_spec = importlib.util.spec_from_file_location(name, path)
    if module_spec is None or module_spec.loader is None:
        raise ObjectiveError(f"objective {spec!r}: {path} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[name] = module  # registered first, as import does, for pickling and dataclasses
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _import_error(spec, str(path), exc) from None
    return module

"""The report protocol between hpo and a command objective, in any language.

hpo starts the command with a few environment variables (see the ``*_ENV`` constants). The
command appends one JSON object per line to the file named by ``$HPO_REPORT_FILE``::

    {"step": 3, "loss": 0.21, "acc": 0.93}

``step`` is an optional non-negative integer; every other key is a metric name whose value is
a number, or ``null`` / ``"nan"`` / ``"inf"`` / ``"-inf"`` for a non-finite value. A line
``{"artifact": "path", "name": "optional"}`` (a string under ``artifact``) logs a file or
folder as an artifact instead: it is not a metric. A line is
written with a single ``write`` call so that a reader never sees half of it; the reader keeps a
partial trailing line until its newline arrives. docs/protocol.md is the user-facing page.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple, SupportsFloat, SupportsIndex, TypeGuard

__all__ = [
    "BUDGET_ENV",
    "CHECKPOINT_DIR_ENV",
    "PARAMS_ENV",
    "REPORT_FILE_ENV",
    "SEED_ENV",
    "STOP_FILE_ENV",
    "TRIAL_NUMBER_ENV",
    "ArtifactLine",
    "ProtocolError",
    "ReportLine",
    "ReportReader",
    "check_report",
    "format_artifact",
    "format_report",
    "parse_line",
    "parse_report",
    "write_artifact",
    "write_report",
]

REPORT_FILE_ENV = "HPO_REPORT_FILE"
TRIAL_NUMBER_ENV = "HPO_TRIAL_NUMBER"
SEED_ENV = "HPO_TRIAL_SEED"
BUDGET_ENV = "HPO_TRIAL_BUDGET"
PARAMS_ENV = "HPO_PARAMS"
#: hpo creates this file when the trial should stop early; the command checks for it.
STOP_FILE_ENV = "HPO_STOP_FILE"
#: a directory kept across the trial's runs, for checkpoints (see ``Trial.checkpoint_dir``)
CHECKPOINT_DIR_ENV = "HPO_CHECKPOINT_DIR"

_NON_FINITE = {"nan": math.nan, "inf": math.inf, "+inf": math.inf, "-inf": -math.inf}
_NON_FINITE.update({"infinity": math.inf, "+infinity": math.inf, "-infinity": -math.inf})
_SHOWN = 120  # characters of a bad line quoted in an error


class ProtocolError(ValueError):
    """A report line that does not follow the protocol. ``line_number`` is 1-based."""

    def __init__(self, message: str, line_number: int | None = None, line: str = "") -> None:
        self.line_number = line_number
        self.line = line
        self.before: list[ReportLine] = []
        if line_number is not None:
            shown = line if len(line) <= _SHOWN else line[:_SHOWN] + "..."
            message = f"malformed report line {line_number}: {shown!r}: {message}"
        super().__init__(message)


class ArtifactLine(NamedTuple):
    """An artifact line: the path (relative to the command's working directory, or absolute)
    and the name to record it under (None: the file or folder's own name)."""

    path: str
    name: str | None


class ReportLine(NamedTuple):
    """One parsed line: its 1-based line number in the file, its step and its metrics, or
    (metrics empty) the artifact it logs."""

    line_number: int
    step: int | None
    metrics: dict[str, float]
    artifact: ArtifactLine | None = None


def _is_number(value: object) -> TypeGuard[SupportsFloat]:
    # numpy scalars register with numbers.Real, but float() on them is all we need and
    # importing numbers/numpy here is not: accept anything float() takes except bool/str.
    return not isinstance(value, (bool, str, bytes)) and hasattr(value, "__float__")


def check_report(
    step: object, metrics: Mapping[str, object]
) -> tuple[int | None, dict[str, float]]:
    """Validate the arguments of a report; return them as ``(step, {name: float})``.

    Raises ``TypeError`` for a value of the wrong type and ``ValueError`` for a negative step
    or no metrics, with a message meant for the person who wrote the objective.
    """
    index: int | None = None
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, SupportsIndex):
            raise TypeError(f"report step must be an int, not {type(step).__name__} {step!r}")
        index = step.__index__()
        if index < 0:
            raise ValueError(f"report step must be >= 0, got {index}")
    if not metrics:
        raise ValueError("report() needs at least one metric, e.g. report(step=1, loss=0.5)")
    out: dict[str, float] = {}
    for name, value in metrics.items():
        if not _is_number(value):
            raise TypeError(
                f"metric {name!r} must be a number, not {type(value).__name__} {value!r:.60}"
            )
        out[name] = float(value)
    return index, out


def _encode(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def format_report(step: int | None, metrics: Mapping[str, float]) -> str:
    """One protocol line, newline included. Non-finite values are written as strings, since
    strict JSON has no NaN or Infinity."""
    obj: dict[str, Any] = {} if step is None else {"step": step}
    for name, value in metrics.items():
        if name == "step":
            raise ValueError("'step' is reserved for the step number; name the metric otherwise")
        obj[name] = _encode(float(value))
    return json.dumps(obj, separators=(", ", ": ")) + "\n"


def write_report(
    path: str | os.PathLike[str], step: int | None, metrics: Mapping[str, float]
) -> None:
    """Append one report line to ``path``.

    The line goes out in one ``write`` on a file opened for appending (O_APPEND), so a reader
    polling the file sees either all of it or none of it, and concurrent writers don't interleave.
    """
    data = format_report(step, metrics).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def format_artifact(path: str, name: str | None = None) -> str:
    """One artifact line, newline included."""
    obj = {"artifact": path} if name is None else {"artifact": path, "name": name}
    return json.dumps(obj, separators=(", ", ": ")) + "\n"


def write_artifact(report_file: str | os.PathLike[str], path: str, name: str | None) -> None:
    """Append an artifact line to ``report_file`` (in one write, like :func:`write_report`)."""
    fd = os.open(report_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, format_artifact(path, name).encode())
    finally:
        os.close(fd)


def _decode(name: str, value: object) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        try:
            return _NON_FINITE[value.strip().lower()]
        except KeyError:
            pass
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ValueError(
        f'metric {name!r} must be a number (or null, "nan", "inf", "-inf"), not {value!r:.40}'
    )


def _load(line: str) -> Any:
    try:
        return json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc.msg})") from None


def parse_report(line: str) -> tuple[int | None, dict[str, float]]:
    """Parse one protocol line into ``(step, metrics)``; raise ``ValueError`` if malformed."""
    return _report(_load(line))


def _report(obj: Any) -> tuple[int | None, dict[str, float]]:
    if not isinstance(obj, dict):
        raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    step = obj.pop("step", None)
    if step is not None:
        if isinstance(step, float) and step.is_integer():
            step = int(step)
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise ValueError(f"'step' must be a non-negative integer, not {step!r}")
    return step, {str(name): _decode(name, value) for name, value in obj.items()}


def parse_line(line: str) -> tuple[int | None, dict[str, float], ArtifactLine | None]:
    """Parse one line of the report file: ``(step, metrics, None)`` for a report,
    ``(None, {}, ArtifactLine)`` for an artifact line; ``ValueError`` if malformed."""
    obj = _load(line)  # once: a command may write many lines a second
    if isinstance(obj, dict) and isinstance(obj.get("artifact"), str):
        name = obj.get("name")
        extra = sorted(set(obj) - {"artifact", "name"})
        if extra:
            raise ValueError(
                f"an artifact line holds only 'artifact' and 'name', not {', '.join(extra)}: "
                "report metrics on a line of their own"
            )
        if name is not None and not isinstance(name, str):
            raise ValueError(f"an artifact's 'name' must be a string, not {name!r:.40}")
        if not obj["artifact"]:
            raise ValueError("'artifact' must name a file or folder, not an empty string")
        return None, {}, ArtifactLine(obj["artifact"], name)
    step, metrics = _report(obj)
    return step, metrics, None


class ReportReader:
    """Reads the complete lines appended to a report file since the last read.

    The file may not exist yet (nothing to read) and may end in a partial line, which is kept
    until its newline arrives. Blank lines are skipped but counted, so line numbers in errors
    match what an editor shows.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._file: Any = None
        self._partial = b""
        self._line_number = 0

    def read_lines(self, *, final: bool = False) -> list[tuple[int, str]]:
        """New complete lines as ``(line_number, text)``, blank lines left out. With ``final``
        (the writer has exited) a trailing line without its newline counts as complete."""
        if self._file is None:
            try:
                self._file = open(self.path, "rb")  # noqa: SIM115 -- kept open between reads
            except FileNotFoundError:
                return []
        data = self._partial + self._file.read()
        if final and data and not data.endswith(b"\n"):
            data += b"\n"
        end = data.rfind(b"\n")
        if end < 0:
            self._partial = data
            return []
        self._partial = data[end + 1 :]
        lines = []
        for raw in data[:end].split(b"\n"):
            self._line_number += 1
            text = raw.decode("utf-8", errors="replace").strip()
            if text:
                lines.append((self._line_number, text))
        return lines

    def read(self, *, final: bool = False) -> list[ReportLine]:
        """New complete lines, parsed. Raises :class:`ProtocolError` at the first bad line;
        its ``before`` holds the good lines read before it."""
        out: list[ReportLine] = []
        for number, text in self.read_lines(final=final):
            try:
                step, metrics, artifact = parse_line(text)
            except ValueError as exc:
                error = ProtocolError(str(exc), number, text)
                error.before = out
                raise error from None
            out.append(ReportLine(number, step, metrics, artifact))
        return out

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> ReportReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

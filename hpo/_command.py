"""Any program as the objective: ``python train.py --lr {lr}``, ``./train.sh``, ``Rscript fit.R``.

The command runs as a child process -- never through a shell, so a param value is always one
literal argument -- in a session of its own, so that on a timeout the whole process group
(the command and anything it started) can be killed. It reports metrics through the protocol
in ``hpo._protocol`` (docs/protocol.md); its stdout and stderr are captured, and only their
tails are kept, for the final-line fallback and for the record of a failure.

Early stopping: when the sweep asks the trial to stop (the stop registry of ``hpo._trial``),
the watch loop creates the file named by ``$HPO_STOP_FILE``; a command that has not exited
``stop_grace`` seconds later is killed, and the trial ends with the metrics it last reported.
The trial's checkpoint directory, when it has one, is created before the command starts and
exported as ``$HPO_CHECKPOINT_DIR`` (the engine removes it again if the run leaves it empty).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any, ClassVar

from hpo._checkpoints import make_folder
from hpo._errors import ObjectiveError
from hpo._objective import Objective, TrialFailure, TrialTimeout, normalise_result
from hpo._protocol import (
    BUDGET_ENV,
    CHECKPOINT_DIR_ENV,
    PARAMS_ENV,
    REPORT_FILE_ENV,
    SEED_ENV,
    STOP_FILE_ENV,
    TRIAL_NUMBER_ENV,
    ProtocolError,
    ReportLine,
    ReportReader,
    parse_report,
)
from hpo._trial import artifact_report, stop_requested
from hpo.executors._base import Report, TrialTask

__all__ = ["DEFAULT_STOP_GRACE_S", "CommandObjective", "set_child_hook"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][\w.\-]*)\}")
_PLAIN = re.compile(r"[\w@%+=:,./{}\-]+")
_POLL_S = 0.03  # how often the report file is read while the command runs
_TAIL_BYTES = 64 * 1024
_TAIL_LINES = 50
#: seconds a command asked to stop early may take to exit before it is killed
DEFAULT_STOP_GRACE_S = 10.0
_NO_METRICS = (
    "command reported no metrics: write JSON lines to $HPO_REPORT_FILE "
    "or print the result as the last line"
)

# Called with the pid (= process group id) of each command child as soon as it starts. A local
# executor's worker sets it to tell the driver, which kills that group too when it kills the
# worker (the child's own session puts it beyond the worker's process group).
_child_hook: Callable[[int], None] | None = None


def set_child_hook(hook: Callable[[int], None] | None) -> None:
    """Register the callback told the process group of every command child started here."""
    global _child_hook
    _child_hook = hook


def format_value(value: object) -> str:
    """A param value as one command-line argument: floats at full precision (``repr``)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return str(value)
    if isinstance(value, Integral):
        return str(int(value))
    return repr(float(value))


def _quote(token: str) -> str:
    # shlex.quote, but placeholders stay readable: {lr} needs no quotes to be understood
    return token if token and _PLAIN.fullmatch(token) else shlex.quote(token)


def _json_default(value: object) -> Any:
    item = getattr(value, "item", None)  # numpy scalars
    return item() if callable(item) else str(value)


class _Tail:
    """The last bytes of a stream, without holding all of it."""

    __slots__ = ("data",)

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, chunk: bytes) -> None:
        self.data += chunk
        if len(self.data) > 2 * _TAIL_BYTES:
            del self.data[: len(self.data) - _TAIL_BYTES]

    def lines(self, n: int) -> list[str]:
        text = self.data.decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if line.strip()][-n:]


class CommandObjective(Objective):
    """Run a command per trial; read its metrics from ``$HPO_REPORT_FILE`` or its last line.

    ``argv`` is a list of arguments or a string split like a shell would (``shlex``), but no
    shell runs it. ``{name}`` in any argument is replaced by that param's value; a command with
    no placeholder at all gets ``--name=value`` appended for every param of the trial.
    ``cwd`` is where it runs (default: the current directory); ``env`` adds variables.
    ``task.timeout`` is enforced here: the command's process group is killed when it expires.
    ``stop_grace``: seconds a command asked to stop early (``$HPO_STOP_FILE`` created) may take
    to exit before its process group is killed; the trial then keeps its last reported metrics.
    """

    handles_timeout: ClassVar[bool] = True

    def __init__(
        self,
        argv: str | Sequence[str],
        metric: str,
        cwd: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        *,
        stop_grace: float = DEFAULT_STOP_GRACE_S,
    ) -> None:
        if (
            isinstance(stop_grace, bool)
            or not isinstance(stop_grace, Real)
            or not math.isfinite(stop_grace)
            or stop_grace < 0
        ):
            raise ObjectiveError(
                f"stop_grace must be a number of seconds >= 0, got {stop_grace!r}; it is how "
                f"long a command asked to stop early may take to exit (default "
                f"{DEFAULT_STOP_GRACE_S:g})"
            )
        self.stop_grace: float = float(stop_grace)
        try:
            tokens = shlex.split(argv) if isinstance(argv, str) else [str(a) for a in argv]
        except ValueError as exc:  # unbalanced quotes
            raise ObjectiveError(
                f"command {argv!r} cannot be split into arguments: {exc}"
            ) from None
        if not tokens:
            raise ObjectiveError("command is empty")
        self.argv: tuple[str, ...] = tuple(tokens)
        self.metric = metric
        self.cwd: Path | None = Path(cwd) if cwd is not None else None
        self.env: dict[str, str] = {str(k): str(v) for k, v in (env or {}).items()}
        self._templated: list[int] = [i for i, t in enumerate(tokens) if _PLACEHOLDER.search(t)]

    def placeholders(self) -> list[str]:
        """The param names the command's ``{name}`` placeholders refer to, in order."""
        names: list[str] = []
        for i in self._templated:
            names.extend(n for n in _PLACEHOLDER.findall(self.argv[i]) if n not in names)
        return names

    def check(self, param_names: Collection[str]) -> None:
        known = list(param_names)
        for name in self.placeholders():
            if name not in known:
                import difflib

                close = difflib.get_close_matches(name, known, n=1)
                hint = f"; did you mean {{{close[0]}}}?" if close else ""
                raise ObjectiveError(
                    f"command placeholder {{{name}}} names no search-space parameter "
                    f"(parameters: {', '.join(known) or 'none'}){hint}"
                )
        program = self.argv[0]
        if 0 in self._templated:
            return
        if os.sep not in program and "/" not in program:
            search = self.env.get("PATH", os.environ.get("PATH"))
            if shutil.which(program, path=search) is None:
                raise ObjectiveError(f"command {program!r} not found on PATH")
            return
        path = Path(program)
        if not path.is_absolute():
            path = (self.cwd or Path.cwd()) / path
        if not path.is_file():
            raise ObjectiveError(f"command {program!r} not found (looked for {path})")
        if not os.access(path, os.X_OK):
            raise ObjectiveError(
                f"command {program!r} is not executable; chmod +x it, or run it through its "
                f"interpreter (e.g. 'bash {program}')"
            )

    def describe(self) -> str:
        return "command " + " ".join(_quote(token) for token in self.argv)

    def command_line(self, params: Mapping[str, Any]) -> list[str]:
        """The argument list for a trial with these params."""
        if not self._templated:
            return [*self.argv, *(f"--{k}={format_value(v)}" for k, v in params.items())]
        argv = list(self.argv)

        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in params:
                raise TrialFailure(
                    f"command placeholder {{{name}}} has no value in this trial "
                    "(the parameter is not in the space, or inactive here)"
                )
            return format_value(params[name])

        for i in self._templated:
            argv[i] = _PLACEHOLDER.sub(fill, argv[i])
        return argv

    def run(self, task: TrialTask, emit: Callable[[Report], None]) -> dict[str, float]:
        argv = self.command_line(task.params)
        env = {**os.environ, **self.env}
        env[TRIAL_NUMBER_ENV] = str(task.number)
        env[SEED_ENV] = str(task.seed)
        env[PARAMS_ENV] = json.dumps(dict(task.params), default=_json_default)
        # one inherited from an enclosing trial would mislead: set each, or remove it
        if task.budget is not None:
            env[BUDGET_ENV] = format_value(task.budget)
        else:
            env.pop(BUDGET_ENV, None)
        if task.checkpoint_dir is not None:
            env[CHECKPOINT_DIR_ENV] = _checkpoint_dir(task.checkpoint_dir)
        else:
            env.pop(CHECKPOINT_DIR_ENV, None)
        # the report file and the stop file of this run, in a folder of its own
        folder = tempfile.mkdtemp(prefix=f"hpo-trial-{task.number}-")
        try:
            report_path = os.path.join(folder, "reports.jsonl")
            open(report_path, "xb").close()  # the protocol promises it exists
            env[REPORT_FILE_ENV] = report_path
            env[STOP_FILE_ENV] = os.path.join(folder, "stop")
            return _Run(self, argv, env, task, emit).execute()
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def _checkpoint_dir(path: str) -> str:
    """``path`` made absolute (the command runs in its own ``cwd``) and created."""
    absolute = os.path.abspath(path)
    try:
        make_folder(absolute)
    except OSError as exc:
        raise TrialFailure(
            f"the trial's checkpoint directory {absolute} could not be created: "
            f"{exc.strerror or exc}"
        ) from None
    return absolute


class _Run:
    """One execution of a command: the child, its pipes, its reports."""

    def __init__(
        self,
        objective: CommandObjective,
        argv: list[str],
        env: dict[str, str],
        task: TrialTask,
        emit: Callable[[Report], None],
    ) -> None:
        self.objective = objective
        self.argv = argv
        self.env = env
        self.task = task
        self.emit = emit
        self.reader = ReportReader(env[REPORT_FILE_ENV])
        self.latest: dict[str, float] = {}
        self.stdout = _Tail()
        self.stderr = _Tail()
        self.stop_by: float | None = None  # time.monotonic() the command must be gone by
        self.killed_after_stop = False

    def execute(self) -> dict[str, float]:
        try:
            proc = subprocess.Popen(
                self.argv,
                cwd=self.objective.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except FileNotFoundError:
            where = f" (in {self.objective.cwd})" if self.objective.cwd else ""
            raise TrialFailure(f"command {self.argv[0]!r} not found{where}") from None
        except OSError as exc:
            raise TrialFailure(f"command {self.argv[0]!r} could not start: {exc}") from None
        if _child_hook is not None:
            _child_hook(proc.pid)
        try:
            self._watch(proc)
        finally:
            _kill_group(proc.pid)  # leftovers it started, or the command itself on an error
            proc.wait()
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
            self.reader.close()
        if self.killed_after_stop:
            return self._stopped_result()
        return self._result(proc.returncode)

    def _watch(self, proc: subprocess.Popen[bytes]) -> None:
        timeout = self.task.timeout
        deadline = None if timeout is None else time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            for stream, tail in ((proc.stdout, self.stdout), (proc.stderr, self.stderr)):
                if stream is not None:
                    os.set_blocking(stream.fileno(), False)
                    selector.register(stream, selectors.EVENT_READ, tail)
            while True:
                wait = _POLL_S if deadline is None else min(_POLL_S, deadline - time.monotonic())
                if selector.get_map():
                    for key, _ in selector.select(max(wait, 0.0)):
                        self._read_pipe(selector, key)
                else:  # both pipes closed, the command still running: sleep on its exit
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        proc.wait(max(wait, 0.0))
                self._read_reports(final=False)
                if _exited(proc):
                    break
                if timeout is not None and deadline is not None and time.monotonic() >= deadline:
                    _kill_group(proc.pid)
                    raise TrialTimeout(f"trial exceeded its timeout of {float(timeout)} s")
                if self._stop_overdue():
                    _kill_group(proc.pid)
                    self.killed_after_stop = True
                    break
            # what the command wrote just before it exited; don't wait on pipes that a
            # background grandchild may hold open
            for key in list(selector.get_map().values()):
                self._read_pipe(selector, key)
        # a command killed after a stop may have left half a line: not a protocol error
        self._read_reports(final=not self.killed_after_stop)

    def _stop_overdue(self) -> bool:
        """Create the stop file once the trial is asked to stop; True when the command has
        had its ``stop_grace`` since then and is still running."""
        if self.stop_by is None:
            if not stop_requested(self.task.number):
                return False
            with contextlib.suppress(FileExistsError):
                open(self.env[STOP_FILE_ENV], "xb").close()
            self.stop_by = time.monotonic() + self.objective.stop_grace
        return time.monotonic() >= self.stop_by

    def _stopped_result(self) -> dict[str, float]:
        """The result of a command killed for not exiting once asked to stop: what it last
        reported, as the value the sweep keeps for a trial stopped early."""
        metric = self.objective.metric
        if metric not in self.latest:
            detail = "\n".join(self.stderr.lines(_TAIL_LINES)) or None
            raise TrialFailure(
                f"command was asked to stop early and was killed after stop_grace "
                f"({self.objective.stop_grace:g} s) without having reported {metric!r}; report "
                f"it as training goes, or exit when $HPO_STOP_FILE appears",
                detail,
            )
        return normalise_result(dict(self.latest), metric, who="command reported")

    def _read_pipe(self, selector: selectors.BaseSelector, key: selectors.SelectorKey) -> None:
        try:
            chunk = os.read(key.fd, 65536)
        except BlockingIOError:
            return
        if chunk:
            key.data.add(chunk)
        else:
            selector.unregister(key.fileobj)

    def _read_reports(self, *, final: bool) -> None:
        try:
            lines = self.reader.read(final=final)
        except ProtocolError as exc:
            self._emit(exc.before)
            raise TrialFailure(f"{exc} (in $HPO_REPORT_FILE)") from None
        self._emit(lines)

    def _emit(self, lines: list[ReportLine]) -> None:
        for line in lines:
            if line.artifact is not None:  # copied in here; the driver records it
                path, name = line.artifact
                self.emit(
                    artifact_report(
                        self.task.number,
                        self.task.artifact_dir,
                        path,
                        name,
                        base=self.objective.cwd,
                    )
                )
                continue
            self.latest.update(line.metrics)
            self.emit(Report(self.task.number, line.step, line.metrics, time.time()))

    def _result(self, status: int | None) -> dict[str, float]:
        if status:
            detail = "\n".join(self.stderr.lines(_TAIL_LINES)) or None
            if status < 0:
                try:
                    name = signal.Signals(-status).name
                except ValueError:
                    name = str(-status)
                raise TrialFailure(f"command killed by signal {name}", detail)
            raise TrialFailure(f"command exited with status {status}", detail)
        metrics = dict(self.latest)
        if self.objective.metric not in metrics:
            metrics.update(self._stdout_metrics(required=not metrics))
        return normalise_result(metrics, self.objective.metric, who="command reported")

    def _stdout_metrics(self, *, required: bool) -> dict[str, float]:
        lines = self.stdout.lines(1)
        if not lines:
            if required:
                raise TrialFailure(_NO_METRICS)
            return {}
        last = lines[0].strip()
        try:
            return {self.objective.metric: float(last)}
        except ValueError:
            pass
        try:
            _, metrics = parse_report(last)
            return metrics
        except ValueError:
            if required:
                raise TrialFailure(f"{_NO_METRICS} (last line: {last[:80]!r})") from None
            return {}


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the child has exited, without reaping it: its pid, and so its process group id,
    stays ours until the group has been killed, so a kill can never hit a stranger."""
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:  # already reaped
        return True
    except AttributeError:  # no waitid on this platform
        return proc.poll() is not None


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)

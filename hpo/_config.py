"""Sweep configuration: YAML or a dict -> a validated :class:`SweepConfig`.

The format is close to the W&B sweep config (``method``, ``metric: {name, goal}``,
``parameters``) with hpo's own keys for where and how trials run. Every problem comes out as
one :class:`ConfigError` naming the file, the line and the key path.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    model_validator,
)

from hpo._errors import ConfigError, HPOError, ObjectiveError, SearchSpaceError, StrategyError
from hpo._memory import parse_memory
from hpo._yaml import KeyPath, line_of, load_yaml
from hpo.executors import ExecutorKind
from search_spaces._common import short_repr
from trackers._states import Goal

MemorySize = Annotated[int | None, BeforeValidator(parse_memory)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MetricConfig(_Model):
    """The metric the sweep optimises. ``metric: loss`` is short for ``{name: loss}``."""

    name: str = Field(min_length=1)
    goal: Goal = Goal.MINIMIZE

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class ObjectiveConfig(_Model):
    """What a trial runs: ``function: module:function`` or ``command: program args...``.
    A bare string is short for ``{function: ...}``."""

    function: str | None = None
    command: str | list[str] | None = None
    cwd: str | None = None
    env: dict[str, str] = Field(default_factory=dict)
    # seconds a command may run on after hpo asked it to stop early, before it is killed
    # (None: the command objective's default, 10 s)
    stop_grace: float | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"function": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _one_kind(self) -> ObjectiveConfig:
        if (self.function is None) == (self.command is None):
            raise ValueError(
                "give exactly one of 'function' (e.g. train:objective) or 'command' "
                "(e.g. python train.py --lr {lr})"
            )
        if self.function is not None and (self.cwd or self.env or self.stop_grace is not None):
            raise ValueError("'cwd', 'env' and 'stop_grace' apply to 'command' objectives only")
        return self


class StrategyConfig(BaseModel):
    """``strategy: random`` or ``strategy: {name: random, sampler: sobol}``: options beside the
    name go to the strategy, which checks them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExecutorConfig(BaseModel):
    """``executor: local`` or ``executor: {type: local, ...options}``: options beside the type
    go to the executor, which checks them."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: ExecutorKind = "local"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"type": data} if isinstance(data, str) else data

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class SweepConfig(_Model):
    """A whole sweep, validated. Build one with :func:`load_config` or :func:`parse_config`."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = None
    objective: ObjectiveConfig
    metric: MetricConfig
    parameters: dict[str, Any]
    strategy: StrategyConfig = StrategyConfig(name="random")
    trials: PositiveInt | None = None
    workers: PositiveInt = 1
    executor: ExecutorConfig = ExecutorConfig(type="local")
    timeout: PositiveFloat | None = None
    # bytes a trial may allocate (local executor): a number of MiB or a size with its unit,
    # decimal (2GB) or binary (2GiB); hpo._memory holds the rule
    memory_limit: MemorySize = None
    retries: NonNegativeInt = 0
    rerun_interrupted: bool = True
    # numpy takes no negative seed; the store's BIGINT (SQLite INTEGER) holds 63 bits.
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    store: str | None = None
    tags: list[str] = Field(default_factory=list)
    # W&B's key: an early-stopping rule on reports ({type: median} or {type: hyperband, ...});
    # checked by hpo._stopping.make_rule when the sweep is built
    early_terminate: dict[str, Any] | Literal["median", "hyperband"] | None = None
    # where trials' checkpoint directories go (default: beside a SQLite store's file)
    checkpoints: str | None = Field(default=None, min_length=1)
    # where logged artifacts' files go (default: $HPO_ARTIFACTS, else beside a SQLite store)
    artifacts: str | None = Field(default=None, min_length=1)
    # input data (paths or globs relative to the config's folder), hashed into the environment
    inputs: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    # environment variables recorded by name (never all of them: secrets live there)
    env_vars: list[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]] = Field(
        default_factory=list
    )

    @model_validator(mode="after")
    def _inline_runs_one(self) -> SweepConfig:
        if self.executor.type == "inline" and self.workers != 1:
            raise ValueError(
                f"the inline executor runs one trial at a time, but workers is {self.workers}: "
                "use 'executor: local' for parallel trials"
            )
        return self

    @model_validator(mode="before")
    @classmethod
    def _method_alias(cls, data: Any) -> Any:
        # W&B calls the strategy "method"; accept it, but not both.
        if isinstance(data, Mapping) and "method" in data:
            if "strategy" in data:
                raise ValueError("give 'strategy' or its W&B alias 'method', not both")
            data = {("strategy" if k == "method" else k): v for k, v in data.items()}
        return data


_KNOWN_KEYS: dict[KeyPath, list[str]] = {
    (): [*SweepConfig.model_fields, "method"],
    ("executor",): ["type"],
    ("metric",): list(MetricConfig.model_fields),
    ("objective",): list(ObjectiveConfig.model_fields),
}


def load_config(path: str | Path) -> tuple[SweepConfig, dict[KeyPath, int]]:
    """Read and validate a YAML sweep config; returns it with its key -> line map."""
    path = Path(path)
    data, lines = load_yaml(path)
    return parse_config(data, source=str(path), lines=lines), lines


def parse_config(
    data: Any, *, source: str = "<dict>", lines: Mapping[KeyPath, int] | None = None
) -> SweepConfig:
    """Validate ``data`` (a mapping, as from YAML) into a :class:`SweepConfig`."""
    lines = dict(lines or {})
    if not isinstance(data, Mapping):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise ConfigError(
            f"a sweep config must be a mapping of keys (objective, metric, parameters, ...), "
            f"but the file is {kind}",
            source=source,
            line=1,
        )
    try:
        return SweepConfig.model_validate(dict(data))
    except ValidationError as exc:
        raise _config_error(exc, source, lines) from None


def _config_error(exc: ValidationError, source: str, lines: dict[KeyPath, int]) -> ConfigError:
    # A misspelt key also makes the real one "missing": the unknown key is the useful report.
    errors = sorted(exc.errors(include_url=False), key=lambda e: e["type"] != "extra_forbidden")
    first = errors[0]
    # Pydantic puts a model validator's own failures at the model's path; drop its tags.
    path: KeyPath = tuple(p for p in first["loc"] if p not in ("function-after", "function-before"))
    kind = first["type"]
    if kind == "extra_forbidden":
        key = path[-1]
        known = _KNOWN_KEYS.get(path[:-1], [])
        hint = difflib.get_close_matches(str(key), known, n=1)
        message = f"unknown key {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        if known:
            message += f"; allowed keys: {', '.join(sorted(known))}"
    elif kind == "missing":
        message = f"required key {path[-1]!r} is missing"
        path = path[:-1]
    else:
        message = first["msg"].removeprefix("Value error, ")
        if "input" in first and kind not in ("value_error", "assertion_error"):
            message += f" (got {short_repr(first['input'])})"
    if len(errors) > 1:
        message += f" [and {len(errors) - 1} more problem(s)]"
    return ConfigError(message, source=source, line=line_of(lines, path), path=path)


def locate(
    error: HPOError, prefix: KeyPath, source: str, lines: Mapping[KeyPath, int]
) -> ConfigError:
    """Re-raise a space, strategy or objective error found while building a sweep from its
    config as a ConfigError pointing at the config's line."""
    path = (*prefix, *getattr(error, "path", ()))
    message = getattr(error, "message", None) or str(error)
    return ConfigError(message, source=source, line=line_of(dict(lines), path), path=path)


__all__ = [
    "ConfigError",
    "ExecutorConfig",
    "ExecutorKind",
    "MetricConfig",
    "ObjectiveConfig",
    "ObjectiveError",
    "SearchSpaceError",
    "StrategyConfig",
    "StrategyError",
    "SweepConfig",
    "load_config",
    "locate",
    "parse_config",
    "parse_memory",
]

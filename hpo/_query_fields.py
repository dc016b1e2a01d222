"""The fields a query can name: of trials (``hpo report``, ``hpo.select``) and of sweeps
(``hpo ls``), and how a name resolves to one.

Trial fields: ``params.NAME``, ``metrics.NAME`` (final metrics), a bare param or metric name,
the sweep metric by its name (= ``value``), ``value``, ``state`` (or ``status``), ``number``,
``id``, ``duration``, ``queued``/``started``/``ended`` (times), ``budget``, ``seed``, ``host``,
``error``, ``rerun_of``, ``step`` (the last reported) and ``tags`` (the sweep's). Sweep
fields: :data:`SWEEP_FIELDS`.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any

from hpo._errors import QueryError
from hpo._query_ast import Name, render_name
from hpo._query_values import FieldSpec, Kind
from hpo.reports._tables import sweep_state
from search_spaces import SearchSpace
from trackers import TrialRecord, TrialState

Fail = Callable[[str, int], QueryError]

_STATES = tuple(s.value for s in TrialState)
_STATE_ALIASES = {"complete": "completed", "done": "completed", "timeout": "timed_out"}


def _state(name: str) -> FieldSpec:
    return FieldSpec(
        name,
        Kind.CHOICE,
        lambda t: t.state.value,
        choices=_STATES,
        aliases=_STATE_ALIASES,
        bare_values=True,
    )


def _attr(name: str, kind: Kind, attr: str | None = None) -> FieldSpec:
    return FieldSpec(name, kind, attrgetter(attr or name))


TRIAL_FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        _attr("id", Kind.NUMBER),
        _attr("number", Kind.NUMBER),
        _state("state"),
        _state("status"),
        _attr("value", Kind.NUMBER),
        _attr("duration", Kind.DURATION),
        _attr("queued", Kind.TIME, "queued_at"),
        _attr("started", Kind.TIME, "started_at"),
        _attr("ended", Kind.TIME, "ended_at"),
        _attr("budget", Kind.NUMBER),
        _attr("seed", Kind.NUMBER),
        _attr("host", Kind.TEXT),
        _attr("error", Kind.TEXT),
        _attr("rerun_of", Kind.NUMBER),
        # The last step reported (budgeted sweeps record it); getattr: records made before it.
        FieldSpec("step", Kind.NUMBER, lambda t: getattr(t, "step", None)),
    )
}


def _count(state: TrialState) -> FieldSpec:
    return FieldSpec(f"trials.{state.value}", Kind.NUMBER, lambda s: s.counts.get(state, 0))


def config_tags(config: Mapping[str, Any]) -> list[str]:
    """A sweep's tags, from its recorded config (``tags:``); [] when it has none."""
    tags = config.get("tags")
    return [str(t) for t in tags] if isinstance(tags, list) else []


#: What ``hpo ls --filter`` can ask about a sweep (records are ``SweepSummary``).
SWEEP_FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec("id", Kind.NUMBER, lambda s: s.sweep.id),
        FieldSpec("name", Kind.TEXT, lambda s: s.sweep.name),
        FieldSpec(
            "state",
            Kind.CHOICE,
            lambda s: sweep_state(s.sweep),
            choices=("running", "completed", "interrupted", "failed", "crashed"),
            bare_values=True,
        ),
        FieldSpec("strategy", Kind.TEXT, lambda s: s.sweep.strategy, bare_values=True),
        FieldSpec("metric", Kind.TEXT, lambda s: s.sweep.metric, bare_values=True),
        FieldSpec(
            "goal",
            Kind.CHOICE,
            lambda s: s.sweep.goal.value,
            choices=("minimize", "maximize"),
            aliases={"min": "minimize", "max": "maximize"},
            bare_values=True,
        ),
        FieldSpec("best", Kind.NUMBER, attrgetter("best_value")),
        FieldSpec("trials", Kind.NUMBER, attrgetter("total")),
        *(_count(state) for state in TrialState),
        FieldSpec("budget", Kind.NUMBER, lambda s: s.sweep.budget),
        FieldSpec("seed", Kind.NUMBER, lambda s: s.sweep.seed),
        FieldSpec("executor", Kind.TEXT, lambda s: s.sweep.executor, bare_values=True),
        FieldSpec("objective", Kind.TEXT, lambda s: s.sweep.objective),
        FieldSpec("source", Kind.TEXT, lambda s: s.sweep.source),
        FieldSpec("created", Kind.TIME, lambda s: s.sweep.created_at),
        FieldSpec("updated", Kind.TIME, lambda s: s.sweep.updated_at),
        FieldSpec("tags", Kind.TAGS, lambda s: config_tags(s.sweep.config), bare_values=True),
    )
}


class SweepSchema:
    """Sweep fields (records are ``SweepSummary``): a closed set, so any other name is an
    error."""

    def builtin(self, name: Name) -> FieldSpec | None:
        return SWEEP_FIELDS.get(".".join(name.parts))

    def field(self, name: Name, fail: Fail) -> FieldSpec:
        found = self.builtin(name)
        if found is None:
            text = ".".join(name.parts)
            hint = difflib.get_close_matches(text, SWEEP_FIELDS, n=1)
            extra = f" (did you mean {hint[0]}?)" if hint else ""
            known = ", ".join(f for f in SWEEP_FIELDS if not f.startswith("trials."))
            raise fail(f"sweeps have no field {text!r}{extra}; fields: {known}", name.pos)
        return found


class TrialSchema:
    """Trial fields: the built-ins, params and metrics. ``metric`` (the sweep's) is a name for
    ``value``; ``tags`` are the sweep's. A bare name must be a param or a metric that some trial
    has (or the space declares), unless nothing is known to check it against."""

    def __init__(
        self,
        trials: Sequence[TrialRecord],
        *,
        metric: str | None = None,
        tags: Iterable[str] = (),
        space: SearchSpace | Mapping[str, Any] | None = None,
    ) -> None:
        self.trials = trials
        self.metric = metric
        self.tags = list(tags)
        self.declared = space_choices(space)
        self._known: tuple[set[str], set[str]] | None = None

    def known(self) -> tuple[set[str], set[str]]:
        """Every param and metric name of the trials (and the space): read once, when a bare
        name needs it."""
        if self._known is None:
            params, metrics = set(self.declared), set[str]()
            for t in self.trials:
                params.update(t.params)
                metrics.update(t.metrics)
            if self.metric:
                metrics.add(self.metric)
            self._known = params, metrics
        return self._known

    def builtin(self, name: Name) -> FieldSpec | None:
        text = ".".join(name.parts)
        if text == "tags":
            tags = self.tags
            return FieldSpec("tags", Kind.TAGS, lambda t: tags, bare_values=True)
        return TRIAL_FIELDS.get(text)

    def field(self, name: Name, fail: Fail) -> FieldSpec:
        parts = name.parts
        if parts[0] in ("params", "metrics"):
            if len(parts) == 1:
                raise fail(f"write {parts[0]}.NAME, e.g. {parts[0]}.lr", name.pos)
            return self._entry(parts[0], ".".join(parts[1:]))
        found = self.builtin(name)
        if found is not None:
            return found
        text = ".".join(parts)
        params, metrics = self.known()
        if text in params and (text in metrics):
            raise fail(
                f"{text!r} is both a param and a metric: write params.{render_name(parts)} "
                f"or metrics.{render_name(parts)}",
                name.pos,
            )
        if text == self.metric:
            return FieldSpec(text, Kind.NUMBER, attrgetter("value"))
        if text in params or text in metrics or not (params or metrics):
            return self._entry("params" if text in params or not metrics else "metrics", text)
        raise fail(_unknown(text, params, metrics), name.pos)

    def _entry(self, namespace: str, key: str) -> FieldSpec:
        if namespace == "params":
            # A categorical param's choices catch a mistyped value (opt == adma).
            choices = self.declared.get(key) or ()
            return FieldSpec(
                f"params.{key}", Kind.ANY, lambda t: t.params.get(key), choices=choices
            )
        return FieldSpec(f"metrics.{key}", Kind.ANY, lambda t: t.metrics.get(key))


def _unknown(text: str, params: set[str], metrics: set[str]) -> str:
    builtins = [*TRIAL_FIELDS, "tags"]
    hint = difflib.get_close_matches(text, [*builtins, *sorted(params), *sorted(metrics)], n=1)
    if hint:
        return f"no field, param or metric {text!r} (did you mean {_name(hint[0])}?)"

    def some(names: Iterable[str]) -> str:
        shown = sorted(names)
        return ", ".join(shown[:8]) + (", ..." if len(shown) > 8 else "") if shown else "none"

    return (
        f"no field, param or metric {text!r}; params: {some(params)}; metrics: "
        f"{some(metrics)}; fields: {', '.join(builtins)}"
    )


def _name(text: str) -> str:
    return render_name(tuple(text.split(".")))


def space_choices(space: SearchSpace | Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    """The params a space declares, each with its choices when it is a categorical of text
    (an empty tuple otherwise). Takes a SearchSpace or its JSON form, as the store keeps it;
    anything unreadable declares nothing."""
    data = space.to_json() if isinstance(space, SearchSpace) else space
    params = data.get("parameters") if isinstance(data, Mapping) else None
    out: dict[str, tuple[str, ...]] = {}
    for p in params if isinstance(params, list) else []:
        if isinstance(p, Mapping) and "name" in p:
            choices = p.get("choices")
            text = isinstance(choices, list) and all(isinstance(c, str) for c in choices)
            out[str(p["name"])] = tuple(choices) if text and isinstance(choices, list) else ()
    return out

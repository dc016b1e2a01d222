"""The query language, fuzzed (hypothesis).

1. Any text at all (random, made of the language's pieces, or a valid filter with a piece
   inserted or deleted), as a filter or a sort, gives a selection or a :class:`QueryError`
   whose position lies inside the text and whose message shows it with a caret: never another
   exception.
2. Any syntax tree renders to text that parses back to the same tree.
3. Any well-typed filter over the trial fields evaluates consistently: its rendering selects the
   same trials, ``not``/``and``/``or`` select the complement, intersection and union.
4. Any sort is a permutation that orders the present values and puts missing ones last.

Records are read back from a real SQLite store, written as the engine writes them, with params
of every JSON type, missing (conditional) params, NaN and infinite metrics, and failed and
running trials.
"""

from __future__ import annotations

import datetime as dt
import math
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpo
from hpo._errors import QueryError
from hpo._query_ast import (
    And,
    Compare,
    ListValue,
    Lit,
    Literal,
    Name,
    Node,
    Not,
    Op,
    Or,
    Truthy,
    render,
)
from hpo._query_fields import TRIAL_FIELDS
from hpo._query_parse import parse
from trackers import Goal, Store, TrialRecord, TrialState, WriteBatch

# Per property: about a second each here, inside the default test run. A longer hunt:
# HPO_FUZZ_EXAMPLES=20000 pytest tests/hpo/test_fuzz_query.py
EXAMPLES = int(os.environ.get("HPO_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,  # no timed assertions: a slow example is not a failure
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no .hypothesis/ directory left in the repository
)
TAGS = ["prod", "nightly"]
EPOCH = dt.datetime(2024, 5, 1, 12, 0, 0).timestamp()  # records lie far from any `ago` edge


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> list[TrialRecord]:
    path = tmp_path_factory.mktemp("fuzz-query") / "hpo.db"
    with Store(path) as store:
        sweep_id = store.create_sweep(
            name="fuzz", metric="loss", goal=Goal.MINIMIZE, strategy="random",
            strategy_options={}, space={}, config={"tags": TAGS}, objective="none",
            executor="inline",
        )  # fmt: skip
        batch = WriteBatch(sweep_id)
        for i in range(24):
            params: dict[str, Any] = {"lr": 10 ** -(i % 5), "opt": ["sgd", "adam", "é x"][i % 3]}
            if i % 3 == 0:
                params["momentum"] = i / 30  # conditional: only some trials have it
            params["flag"] = i % 2 == 0
            params["n"] = i % 4 if i % 7 else None
            batch.trial_started(i, params, seed=i, host=f"node{i % 2}", at=EPOCH + i)
        store.write(batch)
        for i in range(24):
            at = EPOCH + 100 + i
            if i % 8 == 7:
                continue  # still running
            if i % 5 == 4:
                batch.trial_finished(
                    i, TrialState.FAILED, value=None, metrics={}, started_at=EPOCH + i,
                    ended_at=at, error=f"RuntimeError: trial {i} diverged",
                )  # fmt: skip
                continue
            loss = [0.5, math.nan, 0.25, math.inf, 0.125, -0.0][i % 6] + i
            metrics = {"loss": loss, "acc": 1 / (1 + i)}
            batch.trial_finished(
                i, TrialState.COMPLETED, value=loss, metrics=metrics, started_at=EPOCH + i,
                ended_at=at,
            )  # fmt: skip
        store.write(batch)
        return store.trials(sweep_id)


def select(trials: list[TrialRecord], text: str | None, sort: str | None = None) -> list[int]:
    chosen = hpo.select(trials, text, sort, metric="loss", tags=TAGS)
    return [t.number for t in chosen]


def check_error(exc: QueryError, text: str, what: str) -> None:
    assert exc.expression == text and exc.what == what
    assert exc.position is not None and 0 <= exc.position <= len(text)
    first, shown, caret = str(exc).split("\n")
    assert first.startswith(f"bad {what}: ") and first.endswith(f" at position {exc.position}")
    assert shown.startswith("  ") and caret.strip() == "^"


# --- 1. arbitrary text ----------------------------------------------------------------------

FRAGMENTS = [
    *"abcxyz _.()[]<>=!~&|,'\"`-+0123456789e:TZ\\\n\t",
    "and ", "or ", "not ", "in ", "contains ", "AND", "||", "&&", "!=", "==", "<=", "!~",
    "null", "true", "inf", "nan", "ago", "5m", "1.5h", "300ms", "2026-11-01", "2026-13-45",
    "2026-11-01T14:30", "1e-3", "1e", ".5", "state", "status", "completed", "failed", "lr",
    "params.", "metrics.", "params.lr", "metrics.acc", "tags", "error", "started", "duration",
    "value", "loss", "number", "opt", "sgd", "[", "]", "(", ")", "`weird name`", "'prod'",
    "\\u00e9", "\\U0001F600", "é", "名前", "\x00", "\u2028", "((((((((", "not not not ",
]  # fmt: skip
query_like = st.lists(st.sampled_from(FRAGMENTS), max_size=24).map("".join)


# --- 2. any tree round-trips through its text -----------------------------------------------

numbers = st.one_of(
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True, allow_infinity=True),
)
durations = st.one_of(
    st.integers(-(10**9), 10**9), st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False)
)
dates = st.datetimes(dt.datetime(1971, 1, 2), dt.datetime(2099, 12, 31)).flatmap(
    lambda d: st.sampled_from(
        [d.strftime("%Y-%m-%d"), d.strftime("%Y-%m-%dT%H:%M"), d.strftime("%Y-%m-%dT%H:%M:%S")]
    )
)
literals = st.one_of(
    numbers.map(lambda v: Literal(Lit.NUMBER, v)),
    st.text(max_size=12).map(lambda v: Literal(Lit.STRING, v)),
    st.booleans().map(lambda v: Literal(Lit.BOOL, v)),
    st.just(Literal(Lit.NULL, None)),
    durations.map(lambda v: Literal(Lit.DURATION, v)),
    durations.map(lambda v: Literal(Lit.AGO, v)),
    dates.map(lambda v: Literal(Lit.DATE, v)),
)
names = st.lists(st.text(min_size=1, max_size=8), min_size=1, max_size=3).map(
    lambda parts: Name(tuple(parts))
)
values = st.one_of(names, literals)
MATCHING = [Op.MATCH, Op.NOT_MATCH]
any_compare = st.one_of(
    st.builds(
        Compare,
        st.sampled_from([op for op in Op if op not in MATCHING]),
        values,
        st.one_of(values, st.lists(values, max_size=4).map(lambda v: ListValue(tuple(v)))),
    ),
    # The parser checks that a pattern is a valid regular expression in quotes.
    st.builds(
        Compare,
        st.sampled_from(MATCHING),
        values,
        st.sampled_from(["a+", "^x$", ""]).map(lambda p: Literal(Lit.STRING, p)),
    ),
)


def combine(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    """``not``, and n-ary ``and``/``or`` kept flat, as the parser builds them."""

    def flat(cls: type[And] | type[Or], items: list[Node]) -> Node:
        out: list[Node] = []
        for item in items:
            out.extend(item.items if isinstance(item, cls) else (item,))
        return cls(tuple(out))

    many = st.lists(children, min_size=2, max_size=4)
    return st.one_of(
        children.map(Not),
        many.map(lambda items: flat(And, items)),
        many.map(lambda items: flat(Or, items)),
    )


def trees(leaves: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.recursive(leaves, combine, max_leaves=8)


@FUZZ
@given(node=trees(st.one_of(any_compare, values.map(Truthy))))
def test_any_tree_round_trips_through_its_text(node: Node) -> None:
    text = render(node)
    assert parse(text) == node, text


# --- 3. well-typed filters evaluate consistently --------------------------------------------

ANY_FIELDS = ["lr", "params.lr", "opt", "flag", "params.n", "acc", "metrics.acc", "momentum"]
ANY_FIELDS += ["params.missing", "metrics.missing", "metrics.loss"]
STATES = [s.value for s in TrialState]
PATTERNS = ["^a", "d$", "[0-9]", "ed", "x|y", "(?i)SGD", ""]


def field(text: str) -> Name:
    return Name(tuple(text.split(".")))


def lit(kind: Lit, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Literal]:
    return strategy.map(lambda v: Literal(kind, v))


near_data = st.sampled_from([0, 1, 2, 3, 5, 12, -1, 0.1, 0.01, 0.5, 1e-3, 0.04, 10.5, 1e-4])
small_numbers = st.one_of(near_data, near_data, st.floats(allow_nan=True, allow_infinity=True))
texts = st.one_of(st.sampled_from(["sgd", "adam", "é x", "node1", "prod", "", "trial"]), st.text())
number_lit = lit(Lit.NUMBER, small_numbers)
text_lit = lit(Lit.STRING, texts)
pattern_lit = lit(Lit.STRING, st.sampled_from(PATTERNS))
time_lit = st.one_of(
    lit(Lit.NUMBER, st.floats(EPOCH - 1000, EPOCH + 1000)),
    lit(Lit.DATE, st.sampled_from(["2024-05-01", "2024-05-01T12:01", "2030-01-01", "1999-12-31"])),
    lit(Lit.AGO, st.sampled_from([0, 3600, 86400 * 365 * 100])),
)
any_lit = st.one_of(number_lit, text_lit, lit(Lit.BOOL, st.booleans()), time_lit)
ORDER = [Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE]


def compare(
    names: list[str], ops: list[Op], right: st.SearchStrategy[Any]
) -> st.SearchStrategy[Compare]:
    return st.builds(Compare, st.sampled_from(ops), st.sampled_from(names).map(field), right)


def in_list(names: list[str], items: st.SearchStrategy[Any]) -> st.SearchStrategy[Compare]:
    return compare(
        names, [Op.IN, Op.NOT_IN], st.lists(items, max_size=4).map(lambda v: ListValue(tuple(v)))
    )


null = st.just(Literal(Lit.NULL, None))
typed_compare = st.one_of(
    compare(ANY_FIELDS, ORDER, any_lit),
    compare(ANY_FIELDS, [Op.EQ, Op.NE], null),
    compare(ANY_FIELDS, ORDER, st.sampled_from(ANY_FIELDS).map(field)),
    compare(ANY_FIELDS, [Op.CONTAINS, Op.NOT_CONTAINS], any_lit),
    compare(ANY_FIELDS, [Op.IN, Op.NOT_IN], text_lit),
    compare(ANY_FIELDS, [Op.MATCH, Op.NOT_MATCH], pattern_lit),
    in_list(ANY_FIELDS, any_lit),
    st.builds(Compare, st.sampled_from(ORDER), any_lit, st.sampled_from(ANY_FIELDS).map(field)),
    compare(["number", "value", "loss", "seed", "id", "rerun_of"], ORDER, number_lit),
    in_list(["number", "seed"], number_lit),
    compare(["state", "status"], [Op.EQ, Op.NE], st.sampled_from(STATES).map(field)),
    in_list(["state"], st.sampled_from(STATES).map(lambda s: Literal(Lit.STRING, s))),
    compare(["state"], [Op.MATCH, Op.NOT_MATCH], pattern_lit),
    compare(["error", "host"], ORDER, text_lit),
    compare(["error", "host"], [Op.CONTAINS, Op.NOT_CONTAINS], text_lit),
    compare(["error", "host"], [Op.MATCH, Op.NOT_MATCH], pattern_lit),
    compare(["error", "rerun_of"], [Op.EQ, Op.NE], null),
    compare(["started", "ended", "queued"], ORDER, time_lit),
    compare(["duration"], ORDER, st.one_of(number_lit, lit(Lit.DURATION, st.integers(0, 200)))),
    compare(["tags"], [Op.CONTAINS, Op.NOT_CONTAINS, Op.MATCH], pattern_lit),
    st.builds(Compare, st.sampled_from([Op.IN, Op.NOT_IN]), text_lit, st.just(field("tags"))),
)
typed_leaf = st.one_of(
    typed_compare,  # thrice: comparisons split the trials more often than truth tests do
    typed_compare,
    typed_compare,
    st.sampled_from([*ANY_FIELDS, *TRIAL_FIELDS, "tags"]).map(lambda f: Truthy(field(f))),
    any_lit.map(Truthy),
)
typed_trees = trees(typed_leaf)


@FUZZ
@given(a=typed_trees, b=typed_trees)
def test_typed_filters_evaluate_consistently(trials: list[TrialRecord], a: Node, b: Node) -> None:
    order = [t.number for t in trials]
    sa, sb = select(trials, render(a)), select(trials, render(b))
    assert select(trials, render(parse(render(a)))) == sa
    assert select(trials, render(Not(a))) == [n for n in order if n not in sa]
    assert select(trials, render(And((a, b)))) == [n for n in sa if n in sb]
    assert select(trials, render(Or((a, b)))) == [n for n in order if n in sa or n in sb]


# --- 4. sorting -----------------------------------------------------------------------------

SORTABLE = [*ANY_FIELDS, "number", "value", "state", "error", "host", "started", "duration"]
sort_keys = st.lists(
    st.tuples(st.sampled_from(SORTABLE), st.booleans()), min_size=1, max_size=3
).map(lambda keys: ", ".join(("-" if desc else "") + name for name, desc in keys))


def _key(t: TrialRecord, name: str) -> Any:
    if name.startswith(("params.", "metrics.")):
        space, _, key = name.partition(".")
        return (t.params if space == "params" else t.metrics).get(key)
    attr = {"state": "state", "started": "started_at", "loss": "value"}.get(name, name)
    if name in ("lr", "opt", "flag", "momentum"):
        return t.params.get(name)
    if name == "acc":
        return t.metrics.get(name)
    value = getattr(t, attr)
    return value.value if isinstance(value, TrialState) else value


@FUZZ
@given(sort=sort_keys)
def test_sorting_orders_present_values_and_puts_missing_last(
    trials: list[TrialRecord], sort: str
) -> None:
    chosen = hpo.select(trials, sort=sort, metric="loss", tags=TAGS)
    assert sorted(t.number for t in chosen) == [t.number for t in trials]
    first = sort.split(",")[0].strip()
    name, descending = first.lstrip("-"), first.startswith("-")
    keys = [_key(t, name) for t in chosen]
    present = [k for k in keys if k is not None and k == k]
    assert keys[: len(present)] == present  # the missing ones (None, NaN) come last
    if all(isinstance(k, (int, float)) and not isinstance(k, bool) for k in present) or all(
        isinstance(k, str) for k in present
    ):
        assert present == sorted(present, reverse=descending)
    again = hpo.select(chosen, sort=sort, metric="loss", tags=TAGS)
    assert again == chosen  # sorting what is sorted changes nothing


# --- 1. arbitrary text (last: it starts from the trees above) -------------------------------


def _mutate(text: str, at: int, insert: str, delete: int) -> str:
    at = at % (len(text) + 1)
    return text[:at] + insert + text[at + delete :]


near_valid = st.builds(
    _mutate, typed_trees.map(render), st.integers(0, 500), st.sampled_from(["", *FRAGMENTS]),
    st.integers(0, 3),
)  # fmt: skip
any_text = st.one_of(st.text(max_size=60), query_like, near_valid)


@FUZZ
@given(text=any_text)
def test_any_filter_text_selects_or_fails_clearly(trials: list[TrialRecord], text: str) -> None:
    try:
        chosen = select(trials, text)
    except QueryError as exc:
        check_error(exc, text, "filter")
        return
    numbers = [t.number for t in trials]
    assert [n for n in numbers if n in chosen] == chosen  # a subset, in the given order
    node = parse(text)
    assert parse(render(node)) == node  # what parsed once renders and parses the same
    assert select(trials, render(node)) == chosen


@FUZZ
@given(text=any_text)
def test_any_sort_text_sorts_or_fails_clearly(trials: list[TrialRecord], text: str) -> None:
    try:
        chosen = select(trials, None, text)
    except QueryError as exc:
        check_error(exc, text, "sort")
        return
    assert sorted(chosen) == [t.number for t in trials]

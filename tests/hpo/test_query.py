"""The query language: parsing (precedence, every operator, errors with positions), evaluation
over real trial records read back from a real SQLite store, sorting, ``hpo.select`` and
``SweepResult.select``, and ``--filter/--sort/--top`` of ``hpo ls`` and ``hpo report``.

The store is made once per module by running real sweeps: one from a config file through
the ``hpo`` command (it has tags), one from Python.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_in_process as cli

import hpo
from hpo._errors import HPOError, QueryError
from hpo._query_ast import And, Compare, ListValue, Lit, Literal, Name, Not, Op, Or, Truthy
from hpo._query_parse import MAX_DEPTH, parse, parse_sort
from trackers import Store, TrialRecord, TrialState

ROOT = Path(__file__).resolve().parents[2]

OBJECTIVE = """\
def train(lr, opt, layers, momentum=None):
    if lr > 0.08:
        raise RuntimeError("diverged: loss is nan")
    loss = (lr - 0.01) ** 2 + 0.01 * layers + 0.001 * (momentum or 0.0)
    return {"loss": loss, "acc": 1.0 - loss}
"""
CONFIG = """\
name: tiny
objective: obj.py:train
metric: {name: loss, goal: minimize}
parameters:
  lr: {min: 0.001, max: 0.1}
  opt: {values: [sgd, adam]}
  momentum: {min: 0.0, max: 0.9, when: {opt: sgd}}
  layers: {values: [1, 2, 3]}
strategy: random
trials: 30
executor: inline
seed: 3
tags: [prod, nightly]
"""


@dataclasses.dataclass
class Recorded:
    db: str
    trials: list[TrialRecord]  # of sweep "tiny", by number
    space: dict[str, Any]  # its space as recorded
    other: hpo.SweepResult  # sweep "other", run from Python


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Recorded:
    where = tmp_path_factory.mktemp("query")
    (where / "obj.py").write_text(OBJECTIVE)
    (where / "sweep.yaml").write_text(CONFIG)
    db = str(where / "hpo.db")
    code, _, err = cli("sweep", str(where / "sweep.yaml"), "--store", db)
    assert code == 0, err

    def other(x: float) -> dict[str, float]:
        return {"acc": 1 - (x - 0.3) ** 2}

    result = hpo.sweep(
        other, {"x": {"min": 0.0, "max": 1.0}}, metric="acc", goal="maximize", trials=6,
        seed=1, store=db, name="other",
    )  # fmt: skip
    with Store(db) as st:
        tiny = st.get_sweep("tiny")
        trials = st.trials(tiny.id)
    states = {t.state for t in trials}
    assert states == {TrialState.COMPLETED, TrialState.FAILED}  # the cases below need both
    assert {t.params["opt"] for t in trials} == {"sgd", "adam"}
    return Recorded(db=db, trials=trials, space=dict(tiny.space), other=result)


# --- parsing ------------------------------------------------------------------------------


def n(*parts: str) -> Name:
    return Name(parts)


def num(v: float) -> Literal:
    return Literal(Lit.NUMBER, v)


def test_precedence_or_and_not() -> None:
    a, b, c = (Truthy(n(x)) for x in "abc")
    assert parse("a or b and c") == Or((a, And((b, c))))
    assert parse("(a or b) and c") == And((Or((a, b)), c))
    assert parse("not a and b") == And((Not(a), b))
    assert parse("not (a and b)") == Not(And((a, b)))
    assert parse("a || b && !c") == Or((a, And((b, Not(c)))))
    assert parse("a AND b OR NOT c") == Or((And((a, b)), Not(c)))
    # `not` covers a whole comparison, and chains stay flat however they are grouped.
    assert parse("not x == 1") == Not(Compare(Op.EQ, n("x"), num(1)))
    assert parse("a and (b and c)") == And((a, b, c))


@pytest.mark.parametrize(
    ("text", "op"),
    [
        ("x == 1", Op.EQ),
        ("x = 1", Op.EQ),
        ("x != 1", Op.NE),
        ("x < 1", Op.LT),
        ("x <= 1", Op.LE),
        ("x > 1", Op.GT),
        ("x >= 1", Op.GE),
        ("x ~ '1'", Op.MATCH),
        ("x !~ '1'", Op.NOT_MATCH),
        ("x in [1]", Op.IN),
        ("x not in [1]", Op.NOT_IN),
        ("x contains 1", Op.CONTAINS),
        ("x not contains 1", Op.NOT_CONTAINS),
        ("x IN [1]", Op.IN),
    ],
)
def test_every_operator(text: str, op: Op) -> None:
    node = parse(text)
    assert isinstance(node, Compare) and node.op is op and node.left == n("x")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e-3", num(0.001)),
        (".5", num(0.5)),
        ("-3", num(-3)),
        ("+2.5", num(2.5)),
        ("inf", num(math.inf)),
        ("-inf", num(-math.inf)),
        ("nan", num(math.nan)),
        ("5m", Literal(Lit.DURATION, 300)),
        ("1.5h", Literal(Lit.DURATION, 5400.0)),
        ("300ms", Literal(Lit.DURATION, 0.3)),
        ("2d ago", Literal(Lit.AGO, 172800)),
        ("2026-11-01", Literal(Lit.DATE, "2026-11-01")),
        ("2026-11-01T14:30", Literal(Lit.DATE, "2026-11-01T14:30")),
        ('"a\\"b\\n"', Literal(Lit.STRING, 'a"b\n')),
        ("'\\d+'", Literal(Lit.STRING, "\\d+")),  # unknown escapes keep their backslash
        ("true", Literal(Lit.BOOL, True)),
        ("False", Literal(Lit.BOOL, False)),
        ("null", Literal(Lit.NULL, None)),
        ("none", Literal(Lit.NULL, None)),
        ("params.lr", n("params", "lr")),
        ("`my-param`", n("my-param")),
        ("metrics.`val.loss`", n("metrics", "val.loss")),
        ("`in`", n("in")),
    ],
)
def test_values(text: str, value: Any) -> None:
    node = parse(f"x == {text}")
    assert isinstance(node, Compare) and node.right == value
    assert type(node.right) is type(value)
    if isinstance(value, Literal):
        assert type(node.right.value) is type(value.value)  # type: ignore[union-attr]


def test_lists_and_empty_text() -> None:
    node = parse("state in [failed, 'timed_out', 3,]")
    assert isinstance(node, Compare) and isinstance(node.right, ListValue)
    assert node.right.items == (n("failed"), Literal(Lit.STRING, "timed_out"), num(3))
    assert parse("x in []") == Compare(Op.IN, n("x"), ListValue(()))
    assert parse("") is None and parse("   \n") is None


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("lr > 0.1 and", 12, "expected a condition after 'and'"),
        ("lr >", 4, "expected a value after '>'"),
        ("(lr > 1", 7, "expected ')' to close the '(' at position 0"),
        ("lr > 1)", 6, "unmatched ')'"),
        ("a < b < c", 6, "comparisons cannot be chained"),
        ("lr 0.1", 3, "expected a comparison"),
        ("x == 'abc", 5, "unterminated string"),
        ("x & y", 2, "write 'and' or '&&'"),
        ("x in [1, [2]]", 9, "lists cannot be nested"),
        ("started > 5x", 11, "unknown unit 'x'"),
        ("x > 1e", 4, "incomplete exponent"),
        ("x > 2026-13-01", 4, "not a valid date"),
        ("x ~ 1", 4, "regular expression in quotes"),
        ("x ~ 'a('", 6, "bad regular expression"),
        ("x > - y", 6, "expected a number after '-'"),
        ("x not y", 6, "expected 'in' or 'contains' after 'not'"),
        ("x == 5 ago", 7, "'ago' follows a duration"),
        ("`` == 1", 0, "empty name"),
        ("not", 3, "expected a condition after 'not'"),
        (")", 0, "expected a condition"),
        ("x == 1 y", 7, "expected 'and', 'or' or the end"),
        ("x == 1e999999s", 5, "out of range"),
    ],
)
def test_errors_name_the_position(text: str, position: int, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(text)
    exc = caught.value
    assert (exc.position, exc.expression, exc.what) == (position, text, "filter")
    assert message in exc.message
    first, shown, caret = str(exc).split("\n")
    assert first == f"bad filter: {exc.message} at position {position}"
    assert shown == f"  {text}"
    assert caret == "  " + " " * position + "^"


def test_error_display_stays_aligned() -> None:
    # A long expression is cut to a window around the error, marked with "…" where cut.
    long = "a == 1 and " * 15 + "b >> 1 and " + "c == 1 and " * 15 + "d"
    with pytest.raises(QueryError) as caught:
        parse(long)
    assert caught.value.position == long.index(">>") + 1
    _, shown, caret = str(caught.value).split("\n")
    assert len(shown) < 80 and shown.startswith("  …") and shown.endswith("…")
    column = caret.index("^")
    assert shown[column - 1 : column + 1] == ">>"
    # Newlines and tabs show as spaces; wide characters take two columns.
    with pytest.raises(QueryError) as caught:
        parse("x == 1\n\tand y ==")
    _, shown, caret = str(caught.value).split("\n")
    assert shown == "  x == 1  and y =="
    assert caret.index("^") == len(shown)
    with pytest.raises(QueryError) as caught:
        parse("名前 == 1 )")
    _, shown, caret = str(caught.value).split("\n")
    assert caret == "  " + " " * (caught.value.position + 2) + "^"


def test_depth_is_bounded_not_a_recursion_error() -> None:
    assert parse("(" * MAX_DEPTH + "x" + ")" * MAX_DEPTH) == Truthy(n("x"))
    with pytest.raises(QueryError, match="nested more than"):
        parse("(" * 10_000 + "x" + ")" * 10_000)
    with pytest.raises(QueryError, match="nested more than"):
        parse("not " * 10_000 + "x")
    long_chain = " or ".join(f"x == {i}" for i in range(5_000))  # flat: no depth at all
    node = parse(long_chain)
    assert isinstance(node, Or) and len(node.items) == 5_000


def test_query_error_is_an_hpo_error_and_a_value_error() -> None:
    with pytest.raises(QueryError) as caught:
        parse("x >")
    assert isinstance(caught.value, HPOError) and isinstance(caught.value, ValueError)
    assert hpo.QueryError is QueryError


def test_sort_keys() -> None:
    keys = parse_sort("-metrics.acc, number,+`my key`")
    assert [(k.name.parts, k.descending) for k in keys] == [
        (("metrics", "acc"), True),
        (("number",), False),
        (("my key",), False),
    ]
    assert parse_sort("  ") == []
    for text, position in [("-", 1), ("a b", 2), ("a,", 2), ("a, 3", 3)]:
        with pytest.raises(QueryError) as caught:
            parse_sort(text)
        assert caught.value.position == position and str(caught.value).startswith("bad sort: ")


# --- evaluation over recorded trials ------------------------------------------------------


def _p(t: TrialRecord, k: str) -> Any:
    return t.params.get(k)


def _acc(t: TrialRecord) -> float:
    return t.metrics.get("acc", 0.0)


CASES: list[tuple[str, Callable[[TrialRecord], bool]]] = [
    ("lr < 0.05", lambda t: _p(t, "lr") < 0.05),
    ("lr < 0.05 and state == completed", lambda t: _p(t, "lr") < 0.05 and t.value is not None),
    ("state in [failed, timed_out]", lambda t: t.state is TrialState.FAILED),
    ("status != completed", lambda t: t.state is not TrialState.COMPLETED),
    ("state == 'Completed'", lambda t: t.state is TrialState.COMPLETED),
    ("state == done", lambda t: t.state is TrialState.COMPLETED),  # an alias
    ("opt == sgd", lambda t: _p(t, "opt") == "sgd"),  # a bare word that is no field: text
    ("params.opt in [adam]", lambda t: _p(t, "opt") == "adam"),
    ("momentum > 0.5", lambda t: _p(t, "momentum") is not None and _p(t, "momentum") > 0.5),
    ("not momentum > 0.5", lambda t: not (_p(t, "momentum") or 0) > 0.5),
    ("momentum <= 0.5", lambda t: _p(t, "momentum") is not None and _p(t, "momentum") <= 0.5),
    ("momentum == null", lambda t: "momentum" not in t.params),
    ("momentum != null", lambda t: "momentum" in t.params),
    ("params.nothing == 1", lambda t: False),
    ("params.nothing != 1", lambda t: False),  # missing: even != is false
    ("loss < 0.02", lambda t: t.value is not None and t.value < 0.02),  # the sweep's metric
    ("value < 0.02", lambda t: t.value is not None and t.value < 0.02),
    ("metrics.acc >= 0.98 or layers == 3", lambda t: _acc(t) >= 0.98 or _p(t, "layers") == 3),
    ("acc > 0.97 && !(opt == 'adam')", lambda t: _acc(t) > 0.97 and _p(t, "opt") != "adam"),
    ("layers == 2.0", lambda t: _p(t, "layers") == 2),
    ("layers in [1, 3] and layers not in [3]", lambda t: _p(t, "layers") == 1),
    ("error ~ '^RuntimeError: div'", lambda t: (t.error or "").startswith("RuntimeError: div")),
    ("error !~ 'diverged'", lambda t: t.error is not None and "diverged" not in t.error),
    ("error contains 'nan'", lambda t: t.error is not None and "nan" in t.error),
    ("error", lambda t: bool(t.error)),
    ("not error", lambda t: not t.error),
    ("number in [0, 2, 4] or number >= 28", lambda t: t.number in (0, 2, 4) or t.number >= 28),
    ("ended >= started and duration >= 0", lambda t: t.ended_at >= t.started_at),  # type: ignore[operator]
    ("started > 1d ago and started < 1d ago", lambda t: False),
    ("started > 2000-01-01 and ended < '2999-01-01'", lambda t: True),
    ("duration < 1h", lambda t: True),
    ("duration > 5m", lambda t: False),
    ("'prod' in tags and layers <= 2", lambda t: _p(t, "layers") <= 2),
    ("tags contains nightly", lambda t: True),
    ("'dev' in tags or tags ~ '^dev'", lambda t: False),
    ("value == nan", lambda t: False),
    ("seed != null and host != null and rerun_of == null", lambda t: True),
    ("'sg' in opt", lambda t: _p(t, "opt") == "sgd"),  # text in text: a substring
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_filters_select_what_python_would(
    recorded: Recorded, text: str, expected: Callable[[TrialRecord], bool]
) -> None:
    got = hpo.select(recorded.trials, text, metric="loss", tags=["prod", "nightly"])
    assert [t.number for t in got] == [t.number for t in recorded.trials if expected(t)]


def test_the_sweep_metric_and_nan(recorded: Recorded) -> None:
    # NaN equals NaN (to find NaN losses) and orders with nothing.
    done = [t for t in recorded.trials if t.value is not None]
    broken = dataclasses.replace(done[0], value=math.nan, metrics={"loss": math.nan})
    trials = [broken, *done[1:]]
    assert hpo.select(trials, "value == nan") == [broken]
    assert hpo.select(trials, "metrics.loss == nan", metric="loss") == [broken]
    assert broken not in hpo.select(trials, "value < inf or value >= -inf")
    assert broken in hpo.select(trials, "value != 1")


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("lrr < 1", 0, "no field, param or metric 'lrr' (did you mean lr?)"),
        ("xyz < 1", 0, "params: layers, lr, momentum, opt; metrics: acc, loss; fields: id,"),
        ("stat == completed", 0, "did you mean state?"),
        ("state == compleeted", 9, "did you mean completed?"),
        ("state > 1", 6, "compare it with ==, != or in"),
        ("host == 3", 8, "'host' is text: put the value in quotes"),
        ("number == 'x'", 10, "'number' is a number"),
        ("started > 5m", 10, "a moment like 2h ago"),
        ("started > 'yesterday'", 10, "'started' is a time"),
        ("duration > 2026-01-01", 11, "'duration' is a duration"),
        ("tags == 'x'", 5, "'tags' is a list"),
        ("number ~ '1'", 7, "works on text"),
        ("lr < null", 3, "null can only be compared with == or !="),
        ("[1] == lr", 0, "a list goes after 'in'"),
        ("lr in 3", 6, "takes a list"),
        ("lr in [a.b]", 7, "a list holds values"),
        ("[1, 2]", 0, "a list alone is not a condition"),
        ("params < 1", 0, "write params.NAME"),
    ],
)
def test_field_errors_name_the_position(
    recorded: Recorded, text: str, position: int, message: str
) -> None:
    with pytest.raises(QueryError) as caught:
        hpo.select(recorded.trials, text, metric="loss")
    assert caught.value.position == position
    assert message in caught.value.message


def test_a_name_both_param_and_metric_must_be_qualified(recorded: Recorded) -> None:
    trials = [dataclasses.replace(t, metrics={**t.metrics, "lr": 1.0}) for t in recorded.trials]
    with pytest.raises(QueryError, match=r"both a param and a metric: write params\.lr or"):
        hpo.select(trials, "lr < 0.05")
    assert len(hpo.select(trials, "metrics.lr == 1")) == len(trials)
    # Built-in names win over params of the same name; params.NAME reaches the param.
    seeded = [dataclasses.replace(t, params={**t.params, "seed": -1}) for t in recorded.trials]
    assert hpo.select(seeded, "seed == -1") == []
    assert len(hpo.select(seeded, "params.seed == -1")) == len(seeded)


def test_nothing_to_check_names_against() -> None:
    # No trials and no declared params: a bare name cannot be told from a typo, so it is a param.
    assert hpo.select([], "anything > 1") == []
    space = hpo.SearchSpace.from_dict({"lr": {"min": 0.1, "max": 1.0}})
    with pytest.raises(QueryError, match="did you mean lr"):
        hpo.select([], "lrr > 1", space=space)


def test_the_space_catches_a_mistyped_categorical_value(recorded: Recorded) -> None:
    trials, space = recorded.trials, recorded.space
    for text, position in [
        ("opt == adma", 7),
        ("params.opt != 'SGD'", 14),
        ("opt in [sgd, 'adma']", 13),
        ("'adma' == opt", 0),
    ]:
        with pytest.raises(QueryError) as caught:
            hpo.select(trials, text, space=space)
        assert caught.value.position == position, text
        assert "params.opt has no value" in caught.value.message
        assert "; it is one of sgd, adam" in caught.value.message
    with pytest.raises(QueryError, match=r"did you mean adam\?"):
        hpo.select(trials, "opt == adma", space=space)
    # Without the space, or where text need not be a choice, nothing is checked.
    assert hpo.select(trials, "opt == adma") == []
    assert hpo.select(trials, "'ad' in opt", space=space) == hpo.select(trials, "opt == adam")
    assert hpo.select(trials, "opt < 'b'", space=space) == hpo.select(trials, "opt == adam")


def test_sort_and_top(recorded: Recorded) -> None:
    trials = recorded.trials
    got = hpo.select(trials, sort="-metrics.acc,number")
    have = [t for t in trials if "acc" in t.metrics]
    expected = sorted(have, key=lambda t: (-t.metrics["acc"], t.number))
    expected += [t for t in trials if "acc" not in t.metrics]
    assert [t.number for t in got] == [t.number for t in expected]
    # Missing values go last in both directions; ties keep the incoming order.
    for sort in ("momentum", "-momentum"):
        ordered = hpo.select(trials, sort=sort)
        flags = ["momentum" in t.params for t in ordered]
        assert flags == sorted(flags, reverse=True)
        values = [t.params["momentum"] for t in ordered if "momentum" in t.params]
        assert values == sorted(values, reverse=sort.startswith("-"))
    by_list = hpo.select(trials, sort=["opt", "-lr"])
    assert [(t.params["opt"], -t.params["lr"]) for t in by_list] == sorted(
        (t.params["opt"], -t.params["lr"]) for t in trials
    )
    top = hpo.select(trials, "state == completed", sort="value", top=3)
    assert [t.value for t in top] == sorted(t.value for t in trials if t.value is not None)[:3]
    for bad in (0, -1, True, 2.5):
        with pytest.raises(QueryError, match="top must be a whole number"):
            hpo.select(trials, top=bad)  # type: ignore[arg-type]
    with pytest.raises(QueryError, match="did you mean number") as caught:
        hpo.select(trials, sort="-value, numbr")
    assert caught.value.position == 8 and caught.value.what == "sort"


def test_sweep_result_select(recorded: Recorded) -> None:
    result = recorded.other
    ranked = result.ranked()
    assert result.select() == ranked
    assert result.select("x > 0.2", top=2) == [t for t in ranked if t.params["x"] > 0.2][:2]
    assert result.select("acc > 0.9") == result.select("value > 0.9")  # the metric by name
    assert result.select(sort="-x") == sorted(ranked, key=lambda t: -t.params["x"])


# --- the command line ---------------------------------------------------------------------


def test_report_filter_table_and_json(recorded: Recorded) -> None:
    db = recorded.db
    expected = hpo.select(recorded.trials, "opt == sgd and lr < 0.05", metric="loss")
    code, out, _ = cli("report", "tiny", "--store", db, "--filter", "opt == sgd and lr < 0.05")
    assert code == 0
    assert f"{len(expected)} of {len(recorded.trials)} trials match" in out
    code, out, _ = cli(
        "report", "tiny", "--store", db, "--filter", "opt == sgd and lr < 0.05", "--format", "json"
    )
    assert code == 0
    ranked = [t.number for t in sorted(expected, key=lambda t: (t.value is None, t.value or 0))]
    assert [r["number"] for r in json.loads(out)] == ranked  # the sweep's ranking by default
    code, out, _ = cli("report", "tiny", "--store", db, "--filter", "lr > 1")
    assert code == 0 and out.strip() == "0 of 30 trials match"  # no empty table
    code, out, _ = cli("report", "tiny", "--store", db, "--filter", "opt == adma")
    assert code == 2  # the recorded space knows opt's choices


def test_report_sort_and_top(recorded: Recorded) -> None:
    code, out, _ = cli(
        "report", "tiny", "--store", recorded.db, "--format", "json", "--sort", "-lr", "--top", "4"
    )
    assert code == 0
    lrs = sorted((t.params["lr"] for t in recorded.trials), reverse=True)[:4]
    assert [r["params"]["lr"] for r in json.loads(out)] == lrs
    code, out, _ = cli(
        "report", "tiny", "--store", recorded.db, "--filter", "state == completed", "--top", "2"
    )
    done = sum(t.state is TrialState.COMPLETED for t in recorded.trials)
    assert code == 0
    assert f"{done} of 30 trials match; 2 shown: --top N or --all for more" in out


def test_report_bad_filter_is_one_clear_error(recorded: Recorded) -> None:
    code, out, err = cli("report", "tiny", "--store", recorded.db, "--filter", "lr > 0.1 and")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "error: bad filter: expected a condition after 'and' at position 12",
        "  lr > 0.1 and",
        "              ^",
    ]
    code, _, err = cli("report", "tiny", "--store", recorded.db, "--sort", "-nope")
    assert code == 2 and "bad sort: no field, param or metric 'nope'" in err
    code, _, err = cli(
        "report", "tiny", "--store", recorded.db, "--filter", "x", "--html", "out.html"
    )
    assert code == 2 and "not what --html writes" in err


def test_ls_filter_sort_top(recorded: Recorded) -> None:
    db = recorded.db

    def names(*args: str) -> list[str]:
        code, out, err = cli("ls", "--store", db, "--format", "json", *args)
        assert code == 0, err
        return [s["name"] for s in json.loads(out)]

    assert names() == ["other", "tiny"]  # newest first
    assert names("--filter", "'prod' in tags") == ["tiny"]
    assert names("--filter", "goal == max") == ["other"]
    assert names("--filter", "metric == loss and trials.failed > 0 and best < 1") == ["tiny"]
    assert names("--filter", "state in [completed, crashed] and created > 1h ago") == [
        "other",
        "tiny",
    ]
    assert names("--sort", "name") == ["other", "tiny"]
    assert names("--sort", "-trials", "--top", "1") == ["tiny"]
    assert names("--filter", "strategy == grid") == []
    code, out, _ = cli("ls", "--store", db, "--filter", "name ~ '^ti'")
    assert code == 0 and "tiny" in out and "1 of 2 sweeps match" in out
    code, _, err = cli("ls", "--store", db, "--filter", "stat == completed")
    assert code == 2 and "sweeps have no field 'stat' (did you mean state?)" in err
    assert re.search(r"\n  stat == completed\n  \^", err)


def test_the_real_command_exits_2_without_a_traceback(recorded: Recorded) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "hpo.cli", "report", "tiny", "--store", recorded.db,
         "--filter", "state == compleeted or"],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.startswith("error: bad filter: expected a condition after 'or'")
    assert textwrap.dedent(run.stderr).count("^") == 1

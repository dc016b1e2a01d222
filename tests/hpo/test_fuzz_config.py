"""Bad input, tried systematically: every malformed config, store or objective gives hpo's
clear error (an ``HPOError``; in the CLI one ``error:`` line and exit status 2), never a
traceback, and writes nothing to the store.

Property tests (hypothesis) feed the config loader arbitrary text and structurally mutated
configs; a sample of the failure classes then goes through the real ``hpo`` command, beside
broken stores (malformed URL, closed PostgreSQL port, corrupt / read-only SQLite file) and a
full disk (SQLite's ``max_page_count``). Each bug these tests found has a test of its own
below (YAML values PyYAML cannot build, alias bombs, huge values in messages, seeds out of
range, read-only URIs).
"""

from __future__ import annotations

import contextlib
import copy
import json
import math
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_runner import cli_env
from cli_runner import run_hpo as hpo_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event

import hpo
from hpo._build import plan_from_config
from hpo._config import load_config, parse_config
from hpo._errors import ConfigError, HPOError
from hpo._yaml import load_yaml
from trackers import Store, StoreError, TrialState

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_RUN = 500  # examples per property (about 2 s each here): well inside the time budget
FUZZ = settings(
    max_examples=EXAMPLES_RUN,
    deadline=None,  # no timed assertions: a slow example is not a failure
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,  # no .hypothesis/ directory left in the repository
)

OBJECTIVE_SRC = '''\
"""Takes any parameters, so that only the mutation under test can make the config bad."""


def f(**params):
    return 0.0
'''

VALID_YAML = """\
name: fuzz
objective: fuzz_objective:f
metric:
  name: loss
  goal: minimize
parameters:
  x: {min: -1.0, max: 1.0}
  lr: {min: 1.0e-4, max: 0.1, distribution: log_uniform_values}
  layers: {min: 1, max: 4}
  opt: {values: [sgd, adam]}
  momentum: {min: 0.0, max: 0.9, when: {opt: sgd}}
  units: {min: 10, max: 100, q: 10}
strategy: {name: random, sampler: sobol}
trials: 5
workers: 1
executor: inline
seed: 3
"""
VALID: dict[str, Any] = yaml.safe_load(VALID_YAML)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with the objective module that every fuzzed config names; module-scoped
    because hypothesis runs many examples per test function."""
    d = tmp_path_factory.mktemp("fuzz")
    (d / "fuzz_objective.py").write_text(OBJECTIVE_SRC)
    return d


def test_the_unmutated_config_is_valid(fuzz_dir: Path) -> None:
    """The properties below start from VALID: it must build, or they test nothing."""
    plan = plan_from_config(parse_config(VALID), environment=False, base_dir=fuzz_dir)
    assert plan.trials == 5 and plan.metric == "loss"
    (fuzz_dir / "sweep.yaml").write_text(VALID_YAML)
    cfg, lines = load_config(fuzz_dir / "sweep.yaml")
    assert cfg.name == "fuzz" and lines[("parameters", "opt")] == 10


# --- property 1: any text at all -> a config or a ConfigError ---------------------------------

# If PyYAML ever constructed a python/* tag, this directory would appear.
SENTINEL_NAME = "yaml-constructed-a-python-object"

FRAGMENTS = [
    "key: [",
    "{",
    "}",
    "[",
    "]",
    "\t",
    "  ",
    "\n",
    "- ",
    ": ",
    "? ",
    ",",
    "&anchor ",
    "*anchor",
    "*alias",
    "<<: *anchor\n",
    "!!python/object:os.system {}",
    "!!python/object/apply:os.mkdir [{sentinel}]",
    "!!python/name:os.system",
    "!!binary aGVsbG8=",
    "!!float",
    "!!int x",
    "!!bool",
    "!!timestamp x",
    "2001-02-30",
    "!!str",
    "!custom",
    "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n",
    "---\n",
    "...\n",
    '"',
    "'",
    "#",
    "|\n",
    ">-\n",
    ".nan",
    "-.inf",
    "~",
    "null",
    "yes",
    "0x1F",
    "1e999",
    "2001-12-14",
    "\x00",
    "\ufeff",
    "\u2028",
    "☃",
    "x" * 5_000,  # very long lines
    "objective: fuzz_objective:f\n",
    "metric: loss\n",
    "parameters:\n",
    "  x: {min: 0, max: 1}\n",
    "  y: {values: []}\n",
    "trials: 3\n",
    "strategy: grid\n",
]


def _yamlish(sentinel: Path) -> st.SearchStrategy[str]:
    frags = [f.replace("{sentinel}", repr(str(sentinel))) for f in FRAGMENTS]
    pieces = st.one_of(st.sampled_from(frags), st.text(max_size=8))
    soup = st.lists(pieces, max_size=40).map("".join)

    # The valid config with fragments spliced in at random places gets deeper than soup alone.
    @st.composite
    def spliced(draw: st.DrawFn) -> str:
        text = VALID_YAML
        for _ in range(draw(st.integers(1, 4))):
            at = draw(st.integers(0, len(text)))
            text = text[:at] + draw(pieces) + text[at:]
        return text

    return st.one_of(st.text(), soup, spliced())


def _load_any(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        # surrogateescape: st.text() may produce lone surrogates, which UTF-8 cannot encode.
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
    # ConfigError is the one allowed failure; anything else propagates and fails the property.
    with contextlib.suppress(ConfigError):
        load_config(path)


BAD_YAML_VALUES = ["!!float", "!!int", "!!int x", "!!bool", "!!timestamp x", "2001-02-30"]


@pytest.mark.parametrize("value", BAD_YAML_VALUES)
def test_yaml_values_that_cannot_be_built(value: str, tmp_path: Path) -> None:
    path = tmp_path / "sweep.yaml"
    path.write_text(f"{VALID_YAML}description: {value}\n")
    with pytest.raises(ConfigError, match=r"sweep\.yaml"):
        load_config(path)


@FUZZ
@given(data=st.data())
def test_any_text_is_a_config_or_a_config_error(fuzz_dir: Path, data: st.DataObject) -> None:
    sentinel = fuzz_dir / SENTINEL_NAME
    content = data.draw(st.one_of(_yamlish(sentinel), st.binary(max_size=200)), label="file")
    _load_any(fuzz_dir / "fuzzed.yaml", content)
    assert not sentinel.exists(), "a !!python tag was constructed: YAML must load safely"


def test_python_tags_are_never_constructed(fuzz_dir: Path) -> None:
    sentinel = fuzz_dir / SENTINEL_NAME
    path = fuzz_dir / "tagged.yaml"
    path.write_text(
        f"{VALID_YAML}description: !!python/object/apply:os.mkdir [{str(sentinel)!r}]\n"
    )
    with pytest.raises(ConfigError, match=r"tagged\.yaml:18: YAML syntax error: could not "):
        load_config(path)
    assert not sentinel.exists()


# --- property 2: a valid config, mutated -> a plan or an HPOError ------------------------------

WEIRD = st.one_of(
    st.none(),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.integers(min_value=2**63, max_value=2**80),
    st.integers(max_value=-1),
    st.integers(),
    st.just(math.nan),
    st.just(math.inf),
    st.floats(),
    st.just(""),
    st.text(max_size=20),
    st.just("☃日本"),
)
# Every mutation of a parameter spec that the search-space parser must turn into an error.
PARAM_CORRUPTIONS: list[dict[str, Any]] = [
    {"min": 2.0, "max": 1.0},
    {"min": 0.0, "max": 1.0, "distribution": "log_uniform_values"},
    {"min": -1.0, "max": 1.0, "log": True},
    {"min": 0.0, "max": 1.0, "distribution": "no_such_distribution"},
    {"min": 0.0, "max": 1.0, "distribution": "normal", "mu": 0, "sigma": 1},
    {"values": []},
    {"values": [1, 1, 2]},
    {"values": [[1], {"a": 1}]},
    {"values": ["a", "b"], "probabilities": [0.9, 0.9]},
    {"min": 0.0, "max": 1.0, "q": 0},
    {"min": 0.0, "max": 1.0, "q": -0.5},
    {"min": 0.0, "max": 1.0, "q": "ten"},
    {"min": 0.0, "max": 1.0, "q": 5.0},
    {"min": 0.0, "max": 1.0, "grid_points": 0},
    {"min": 0.0, "max": 1.0, "when": {"no_such_param": 1}},
    {"min": 0.0, "max": 1.0, "when": "opt"},
    {"min": 0.0, "max": 1.0, "when": {"opt": []}},
    {"min": 0.0, "max": 1.0, "when": {"opt": "no_such_value"}},
    {"min": math.nan, "max": 1.0},
    {"min": -math.inf, "max": math.inf},
    {"min": 1, "max": 1},
    {"value": None},
    {},
    {"min": 0.0},
    {"mystery": 1},
]
STRATEGY_CORRUPTIONS: list[Any] = [
    "no_such_strategy",
    "",
    {"name": "random", "sampler": "nope"},
    {"name": "random", "unknown_option": 1},
    {"name": "grid", "points": -1},
    {"name": "grid", "points": "many"},
    {"name": "grid"},
    {"sampler": "sobol"},
    ["random"],
    None,
]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path inside ``node`` (mappings and lists), parents before children."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _parent(cfg: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        cfg = cfg[key]
    return cfg


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    cfg = copy.deepcopy(VALID)
    for _ in range(draw(st.integers(1, 4), label="mutations")):
        kind = draw(
            st.sampled_from(
                ["drop", "add", "replace", "param", "cycle", "strategy", "executor", "top"]
            )
        )
        paths = list(_paths(cfg))
        if kind in ("drop", "add", "replace") and not paths:
            continue
        if kind == "drop":
            path = draw(st.sampled_from(paths))
            parent = _parent(cfg, path)
            del parent[path[-1]]
        elif kind == "add":
            mappings = [()] + [p for p in paths if isinstance(_parent(cfg, (*p, 0)), dict)]
            where = draw(st.sampled_from(mappings))
            target = cfg
            for key in where:
                target = target[key]
            target[draw(st.text(min_size=1, max_size=10))] = draw(WEIRD)
        elif kind == "replace":
            path = draw(st.sampled_from(paths))
            _parent(cfg, path)[path[-1]] = draw(WEIRD)
        elif kind == "param":
            params = cfg.get("parameters")
            if isinstance(params, dict):
                name = draw(st.sampled_from([*params, "new_param"]))
                params[name] = copy.deepcopy(draw(st.sampled_from(PARAM_CORRUPTIONS)))
        elif kind == "cycle":
            params = cfg.get("parameters")
            if isinstance(params, dict):
                params["a"] = {"values": [1, 2], "when": {"b": 1}}
                params["b"] = {"values": [1, 2], "when": {"a": 1}}
        elif kind == "strategy":
            cfg[draw(st.sampled_from(["strategy", "method"]))] = copy.deepcopy(
                draw(st.sampled_from(STRATEGY_CORRUPTIONS))
            )
        elif kind == "executor":
            cfg["executor"] = draw(
                st.sampled_from(
                    ["ray", "nowhere", {"type": "local", "gpus": 1}, {"type": None}, "inline"]
                )
            )
            cfg["workers"] = draw(st.sampled_from([1, 2, 0, -3, 1.5, "two"]))
        else:  # top-level keys with wrong types or values
            key = draw(
                st.sampled_from(
                    ["trials", "workers", "timeout", "seed", "name", "store", "tags", "metric"]
                )
            )
            cfg[key] = draw(WEIRD)
    return cfg


@FUZZ
@given(cfg=mutated_configs())
def test_mutated_configs_build_or_raise_hpo_errors(fuzz_dir: Path, cfg: dict[str, Any]) -> None:
    # ConfigError, SearchSpaceError, StrategyError, ObjectiveError...: all clear messages.
    with contextlib.suppress(HPOError):
        plan_from_config(parse_config(cfg), environment=False, base_dir=fuzz_dir)


def test_negative_seed_is_a_config_error(fuzz_dir: Path) -> None:
    with pytest.raises(ConfigError, match="seed"):
        plan_from_config(parse_config({**VALID, "seed": -1}), environment=False, base_dir=fuzz_dir)


# --- inputs that expand: the YAML "billion laughs" and huge values in messages -----------------


def _laughs(depth: int) -> str:
    """``depth`` levels of 9 aliases each: a few hundred bytes that expand to 9**depth."""
    lines = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, depth):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bombs_are_read_in_time_linear_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(_laughs(4))  # small enough to finish either way
    _, lines = load_yaml(path)
    # Linear: one entry per node written in the file (here 4 keys + 9 + 3*9 items + roots).
    assert len(lines) < 100


@pytest.mark.parametrize("case", ["long-name", "aliased-trials", "aliased-values", "aliased-min"])
def test_error_messages_stay_short_for_huge_values(case: str, fuzz_dir: Path) -> None:
    nested = yaml.safe_load(_laughs(4))["l3"]  # 9**4 items behind 4 levels of sharing
    cfg = {
        "long-name": {**VALID, "name": "x" * 100_000},
        "aliased-trials": {**VALID, "trials": nested},
        "aliased-values": {**VALID, "parameters": {"x": {"values": nested}}},
        "aliased-min": {**VALID, "parameters": {"x": {"min": nested, "max": 1.0}}},
    }[case]
    with pytest.raises(ConfigError) as info:
        plan_from_config(parse_config(cfg), environment=False, base_dir=fuzz_dir)
    assert len(str(info.value)) < 500


# --- the real command, on a sample of the failure classes -------------------------------------

CLI_CASES: dict[str, tuple[str, str]] = {
    # name: (config text, a fragment the error line must contain)
    "yaml-syntax": ("objective: [fuzz_objective:f\n", "YAML syntax error"),
    "python-tag": (
        VALID_YAML + "description: !!python/object/apply:os.system ['echo pwned']\n",
        "could not determine a constructor for the tag",
    ),
    "undefined-alias": (VALID_YAML + "tags: *nothing\n", "found undefined alias 'nothing'"),
    "not-a-mapping": ("- just\n- a list\n", "must be a mapping"),
    "empty-file": ("", "the file is empty"),
    "unknown-key": (VALID_YAML + "trails: 5\n", "unknown key 'trails' (did you mean 'trials'?)"),
    "missing-metric": (
        VALID_YAML.replace("metric:\n  name: loss\n  goal: minimize\n", ""),
        "required key 'metric' is missing",
    ),
    "wrong-type": (
        VALID_YAML.replace("trials: 5", "trials: many"),
        "trials: Input should be a valid integer",
    ),
    "min-gt-max": (
        VALID_YAML.replace("x: {min: -1.0, max: 1.0}", "x: {min: 2.0, max: 1.0}"),
        "parameters.x.min: min (2.0) must be less than max (1.0)",
    ),
    "when-cycle": (
        VALID_YAML.replace(
            "  opt: {values: [sgd, adam]}\n",
            "  opt: {values: [sgd, adam], when: {momentum: 0.5}}\n",
        ),
        "parameters",
    ),
    "unknown-strategy": (
        VALID_YAML.replace("{name: random, sampler: sobol}", "bayesian_magic"),
        "strategy",
    ),
    "bad-sampler": (
        VALID_YAML.replace("sampler: sobol", "sampler: nope"),
        "option 'sampler' of strategy 'random' must be one of",
    ),
    "missing-module": (
        VALID_YAML.replace("fuzz_objective:f", "no_such_module:f"),
        "no module named 'no_such_module'",
    ),
    "missing-command": (
        VALID_YAML.replace(
            "objective: fuzz_objective:f", "objective: {command: 'no-such-program-xyz {x}'}"
        ),
        "no-such-program-xyz",
    ),
    "inline-workers": (VALID_YAML.replace("workers: 1", "workers: 3"), "inline executor"),
}


def assert_clear_error(run: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, one ``error:`` line holding every fragment, no traceback; returns the line."""
    assert run.returncode == 2, (run.returncode, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    errors = [line for line in run.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, run.stderr
    for fragment in fragments:
        assert fragment in errors[0], run.stderr
    return errors[0]


@pytest.fixture(scope="module")
def cli_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[subprocess.CompletedProcess[str], Path]]:
    """Every CLI_CASES config through `hpo sweep bad.yaml`, each in its own directory, all
    started at once: they are independent, and side by side they cost a fraction of the
    time (most of each run is Python starting up)."""
    started = {}
    for case, (text, _) in CLI_CASES.items():
        d = tmp_path_factory.mktemp(f"cli-{case}")
        (d / "fuzz_objective.py").write_text(OBJECTIVE_SRC)
        (d / "bad.yaml").write_text(text)
        started[case] = (
            subprocess.Popen(
                [sys.executable, "-m", "hpo.cli", "sweep", "bad.yaml", "--no-progress"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                cwd=d,
                env=cli_env(),
            ),
            d,
        )
    runs = {}
    for case, (proc, d) in started.items():
        out, err = proc.communicate(timeout=300)
        runs[case] = (subprocess.CompletedProcess(proc.args, proc.returncode, out, err), d)
    return runs


@pytest.mark.parametrize("case", sorted(CLI_CASES))
def test_cli_rejects_malformed_configs(
    case: str, cli_runs: dict[str, tuple[subprocess.CompletedProcess[str], Path]]
) -> None:
    run, d = cli_runs[case]
    assert_clear_error(run, "bad.yaml", CLI_CASES[case][1])
    assert not (d / "hpo.db").exists()  # validation happens before the store opens


def test_cli_rejects_a_seed_beyond_64_bits(tmp_path: Path) -> None:
    (tmp_path / "fuzz_objective.py").write_text(OBJECTIVE_SRC)
    (tmp_path / "bad.yaml").write_text(VALID_YAML.replace("seed: 3", "seed: 100000000000000000000"))
    run = hpo_cli("sweep", "bad.yaml", "--no-progress", cwd=tmp_path)
    assert_clear_error(run, "bad.yaml", "seed")
    assert not (tmp_path / "hpo.db").exists()


# --- broken stores, through the real command ---------------------------------------------------


@pytest.fixture
def good_config(tmp_path: Path) -> Path:
    """A valid config (3 trials, inline) with its objective, in tmp_path."""
    (tmp_path / "fuzz_objective.py").write_text(OBJECTIVE_SRC)
    path = tmp_path / "sweep.yaml"
    path.write_text(VALID_YAML.replace("trials: 5", "trials: 3"))
    return path


def test_cli_malformed_store_url(good_config: Path, tmp_path: Path) -> None:
    run = hpo_cli("sweep", "sweep.yaml", "--store", "nosuch://::", "--no-progress", cwd=tmp_path)
    assert_clear_error(run, "store URL 'nosuch://::' is not a valid database URL")
    run = hpo_cli("ls", "--store", "mysql+nodriver://u:pw@h/db", cwd=tmp_path)
    line = assert_clear_error(run, "cannot use store URL", "u:***@h/db")
    assert "pw@" not in line
    assert not list(tmp_path.glob("*.db"))


def test_cli_unreachable_postgres(good_config: Path, tmp_path: Path, postgres_url: str) -> None:
    """A closed port on 127.0.0.1: refused at once, reported with the URL (password hidden)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://hpo:hunter2@127.0.0.1:{port}/hpo"
    run = hpo_cli("sweep", "sweep.yaml", "--store", url, "--no-progress", cwd=tmp_path)
    line = assert_clear_error(run, f"store postgresql+psycopg://hpo:***@127.0.0.1:{port}/hpo")
    assert "Connection refused" in run.stderr and "hunter2" not in run.stderr
    assert line  # psycopg's message has a second, indented "Is the server running" line
    assert not list(tmp_path.glob("*.db"))


def test_cli_corrupt_sqlite_file(good_config: Path, tmp_path: Path) -> None:
    corrupt = tmp_path / "corrupt.db"
    payload = bytes(range(256)) * 64  # 16 KiB of bytes that are not a SQLite header
    corrupt.write_bytes(payload)
    run = hpo_cli("sweep", "sweep.yaml", "--store", str(corrupt), "--no-progress", cwd=tmp_path)
    assert_clear_error(run, f"store sqlite:///{corrupt}", "file is not a database")
    run = hpo_cli("ls", "--store", str(corrupt), cwd=tmp_path)
    assert_clear_error(run, "file is not a database")
    assert corrupt.read_bytes() == payload  # hpo never overwrote the user's file


@pytest.fixture
def recorded_store(good_config: Path, tmp_path: Path) -> Path:
    """A SQLite store holding one finished sweep of 3 trials, made by the real command."""
    db = tmp_path / "ro.db"
    run = hpo_cli("sweep", "sweep.yaml", "--store", str(db), "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    return db


def test_cli_read_only_sqlite_store_refuses_writes(recorded_store: Path, tmp_path: Path) -> None:
    """As root, file permissions don't stop writes: SQLite's own read-only mode does."""
    ro_url = f"sqlite:///file:{recorded_store}?mode=ro&uri=true"
    # A new name, so that the run has to write a new sweep.
    run = hpo_cli(
        "sweep", "sweep.yaml", "--store", ro_url, "--name", "other", "--no-progress", cwd=tmp_path
    )
    assert_clear_error(run, "attempt to write a readonly database")
    with Store(recorded_store) as st:  # the store keeps exactly what it had
        (summary,) = st.list_sweeps()
        assert summary.counts == {TrialState.COMPLETED: 3}


def test_cli_reads_a_read_only_sqlite_store(recorded_store: Path, tmp_path: Path) -> None:
    ro_url = f"sqlite:///file:{recorded_store}?mode=ro&uri=true"
    ls = hpo_cli("ls", "--store", ro_url, "--format", "json", cwd=tmp_path)
    assert ls.returncode == 0, ls.stderr
    assert [s["name"] for s in json.loads(ls.stdout)] == ["fuzz"]


def test_cli_objective_printing_garbage_on_the_metric_channel(tmp_path: Path) -> None:
    """A command objective that writes junk to $HPO_REPORT_FILE: its trials fail with a
    reason, the sweep ends normally (exit 1: nothing completed), nothing escapes."""
    (tmp_path / "junk.py").write_text(
        textwrap.dedent(
            """\
            import os, sys
            with open(os.environ["HPO_REPORT_FILE"], "ab") as f:
                f.write(b"\\x00\\xff not json {{{\\n")
                f.write(b'{"loss": "NaN-ish", "step": [1]}\\n')
                f.write(b"\\n" * 3 + b"]" * 1000 + b"\\n")
            print("loss=1.0 ??? {", flush=True)
            """
        )
    )
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: junk
            objective: {{command: ['{sys.executable}', junk.py]}}
            metric: loss
            parameters:
              x: {{min: 0.0, max: 1.0}}
            trials: 2
            executor: inline
            """
        )
    )
    run = hpo_cli("sweep", "sweep.yaml", "--no-progress", cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    assert "2 trials: 2 failed" in run.stdout
    with Store(tmp_path / "hpo.db") as st:
        trials = st.trials(st.get_sweep("junk").id)
    assert [t.state for t in trials] == [TrialState.FAILED, TrialState.FAILED]
    assert all(t.error for t in trials)


def test_cli_command_that_does_not_exist(tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            """\
            objective: {command: 'definitely-not-a-program --x {x}'}
            metric: loss
            parameters:
              x: {min: 0.0, max: 1.0}
            trials: 2
            """
        )
    )
    run = hpo_cli("sweep", "sweep.yaml", "--no-progress", cwd=tmp_path)
    assert_clear_error(run, "sweep.yaml", "definitely-not-a-program")
    assert not (tmp_path / "hpo.db").exists()


# --- a full disk, simulated with SQLite's max_page_count (in-process: no config switch) --------


def _chatty(x: float, trial: hpo.Trial) -> float:
    # Large metric series: each trial writes 200 points, so the small database fills up.
    for step in range(200):
        trial.report(step=step, loss=x + step, noise=float(step) * 1e-3)
    return x


def test_full_disk_is_a_store_error_and_keeps_what_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside any git tree: the page budget below must not depend on how dirty the
    # developer's checkout is (its diff and untracked files are stored as blobs).
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "full.db"
    Store(db).close()  # the schema first, without the limit
    pages = sqlite3.connect(db).execute("PRAGMA page_count").fetchone()[0]
    store = Store(db)

    @event.listens_for(store._engine, "connect")
    def _small_disk(dbapi_conn: Any, _record: Any) -> None:
        # The schema plus room for a few trials' series: then SQLITE_FULL.
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 40}")

    store._engine.dispose()  # so every connection from now on gets the limit
    with pytest.raises(StoreError) as info:
        hpo.sweep(
            _chatty,
            {"x": {"min": 0.0, "max": 1.0}},
            metric="loss",
            trials=200,
            seed=1,
            store=store,
            name="full",
        )
    assert "full" in str(info.value)  # "database or disk is full"
    assert f"store sqlite:///{db}" in str(info.value)
    store.close()
    with Store(db) as st:  # reopened without the limit: what was committed is all there
        sweep = st.get_sweep("full")
        done = st.trials(sweep.id, states=[TrialState.COMPLETED])
        assert 0 < len(done) < 200
        for t in done:
            series = st.metric_series(t.id)
            assert len(series["loss"]) == 200 and len(series["noise"]) == 200

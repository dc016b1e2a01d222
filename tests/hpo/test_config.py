"""Loading sweep configs: valid forms and every kind of bad input, located by line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hpo._config import load_config, parse_config, parse_memory
from hpo._errors import ConfigError
from hpo._memory import format_memory
from trackers import Goal

VALID = """\
name: demo
objective: objective:f
metric:
  name: loss
  goal: minimize
parameters:
  x: {min: -1.0, max: 1.0}
  opt: {values: [sgd, adam]}
strategy: random
trials: 5
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def error_of(tmp_path: Path, text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    return info.value


def test_valid_config_and_line_map(tmp_path: Path) -> None:
    cfg, lines = load_config(write(tmp_path, VALID))
    assert cfg.name == "demo"
    assert cfg.objective.function == "objective:f"
    assert cfg.metric.goal is Goal.MINIMIZE
    assert cfg.strategy.name == "random"
    assert cfg.executor.type == "local" and cfg.workers == 1
    assert cfg.executor.options == {}
    assert lines[("parameters", "opt")] == 8


def test_shorthands_and_wandb_alias() -> None:
    cfg = parse_config(
        {
            "objective": {"command": "python train.py {x}"},
            "metric": "acc",
            "method": {"name": "random", "sampler": "sobol"},
            "parameters": {"x": [1, 2]},
            "trials": 3,
        }
    )
    assert cfg.metric.name == "acc" and cfg.metric.goal is Goal.MINIMIZE
    assert cfg.strategy.name == "random" and cfg.strategy.options == {"sampler": "sobol"}
    assert cfg.objective.command == "python train.py {x}"


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_yaml_syntax_error_has_the_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "name: x\nparameters:\n  x: {min: 1, max: 2\nmetric: loss\n")
    assert err.line is not None and err.line >= 3
    assert "YAML syntax error" in str(err)
    assert str(err).startswith(str(tmp_path / "sweep.yaml"))


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = error_of(tmp_path, VALID.replace("trials: 5", "trails: 5"))
    assert err.path == ("trails",) and err.line == 10
    assert "unknown key 'trails' (did you mean 'trials'?)" in str(err)


def test_unknown_nested_key(tmp_path: Path) -> None:
    err = error_of(tmp_path, VALID.replace("  goal: minimize", "  gaol: minimize"))
    assert err.path == ("metric", "gaol") and err.line == 5
    assert "did you mean 'goal'" in str(err)


def test_missing_required_key(tmp_path: Path) -> None:
    err = error_of(tmp_path, VALID.replace("metric:\n  name: loss\n  goal: minimize\n", ""))
    assert "required key 'metric' is missing" in str(err)


def test_bad_goal_value(tmp_path: Path) -> None:
    err = error_of(tmp_path, VALID.replace("goal: minimize", "goal: minimise"))
    assert err.path == ("metric", "goal") and err.line == 5
    assert "'minimise'" in str(err)


def test_bad_workers_type(tmp_path: Path) -> None:
    err = error_of(tmp_path, VALID + "workers: zero\n")
    assert err.path == ("workers",) and err.line == 11


def test_method_and_strategy_together_is_an_error() -> None:
    with pytest.raises(ConfigError, match="not both"):
        parse_config({"method": "grid", "strategy": "random"})


def test_objective_needs_one_kind() -> None:
    with pytest.raises(ConfigError, match="exactly one of 'function'") as info:
        parse_config(
            {"objective": {"function": "a:b", "command": "x"}, "metric": "m", "parameters": {}}
        )
    assert info.value.path == ("objective",)


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_config_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    err = error_of(tmp_path, text)
    assert "must be a mapping" in str(err)


def test_misspelt_required_key_reports_the_misspelling(tmp_path: Path) -> None:
    err = error_of(tmp_path, VALID.replace("parameters:", "paramters:"))
    assert err.path == ("paramters",) and err.line == 6
    assert "unknown key 'paramters' (did you mean 'parameters'?)" in str(err)


def test_executor_forms_and_inline_with_workers(tmp_path: Path) -> None:
    cfg = parse_config(
        {
            "objective": "m:f",
            "metric": "loss",
            "parameters": {},
            "executor": {"type": "local", "start_method": "spawn"},
        }
    )
    assert cfg.executor.type == "local" and cfg.executor.options == {"start_method": "spawn"}
    err = error_of(tmp_path, VALID + "executor: inline\nworkers: 2\n")
    assert "inline executor runs one trial at a time, but workers is 2" in str(err)


def test_inputs_and_env_vars_are_lists_and_env_var_names_are_checked(tmp_path: Path) -> None:
    cfg, _ = load_config(write(tmp_path, VALID + "inputs: [data/*.csv]\nenv_vars: [SEED_DIR]\n"))
    assert cfg.inputs == ["data/*.csv"] and cfg.env_vars == ["SEED_DIR"]
    err = error_of(tmp_path, VALID + "env_vars: [OK, 'A=B']\n")
    assert err.path == ("env_vars", 1) and err.line == 11 and "'A=B'" in str(err)


@pytest.mark.parametrize(
    ("value", "nbytes", "shown"),
    [
        ("2GB", 2 * 10**9, "2 GB"),  # decimal units are decimal...
        ("2048MB", 2048 * 10**6, "2048 MB"),
        ("1.5 gb", 1_500_000_000, "1.5 GB"),
        ("500kB", 500_000_000 // 1000, None),  # under 1 MiB: refused below
        ("2GiB", 2 * 2**30, "2 GiB"),  # ...binary units binary...
        ("1536MiB", 1536 * 2**20, "1.5 GiB"),
        ("0.5 GiB", 2**29, "512 MiB"),
        ("3TiB", 3 * 2**40, "3 TiB"),
        (2048, 2 * 2**30, "2 GiB"),  # ...and a bare number, YAML's or a string, MiB
        ("2048", 2 * 2**30, "2 GiB"),
        (1.5, 3 * 2**19, "1.5 MiB"),
        ("16384000000 B", 16_384_000_000, "15625 MiB"),
        ("2G", 2 * 10**9, "2 GB"),  # one letter: decimal, as recorded sweeps were read
        ("512m", 512 * 10**6, "512 MB"),
    ],
)
def test_memory_units_mean_what_they_say(value: object, nbytes: int, shown: str | None) -> None:
    if shown is None:
        with pytest.raises(ValueError, match="under the smallest limit, 1 MiB"):
            parse_memory(value)
        return
    assert parse_memory(value) == nbytes
    assert format_memory(nbytes) == shown
    assert parse_memory(shown) == nbytes  # what a message shows reads back as the same limit


def test_format_memory_never_rounds() -> None:
    assert format_memory(2**20 + 1) == "1048577 bytes"
    assert format_memory(2_000_000_001) == "2000000001 bytes"
    assert format_memory(2_100_000_000) == "2.1 GB"


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("2Gi", "write GiB"),
        ("2gbit", ""),
        ("lots", ""),
        ("-2GB", ""),
        ("[2, GB]", ""),
    ],
)
def test_a_bad_memory_limit_names_the_key_and_the_accepted_forms(
    tmp_path: Path, value: str, hint: str
) -> None:
    err = error_of(tmp_path, VALID + f"memory_limit: {value}\n")
    assert err.path == ("memory_limit",) and err.line == 11
    assert "decimal kB, MB, GB, TB" in str(err) and "binary KiB, MiB, GiB, TiB" in str(err)
    assert "a number of MiB" in str(err)
    assert hint in str(err)


def test_memory_limit_in_a_config_is_bytes(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, VALID + "memory_limit: 2GB\n"))[0].memory_limit == 2 * 10**9
    assert (
        load_config(write(tmp_path, VALID + "memory_limit: 2 GiB\n"))[0].memory_limit == 2 * 2**30
    )
    assert (
        load_config(write(tmp_path, VALID + "memory_limit: 512\n"))[0].memory_limit == 512 * 2**20
    )

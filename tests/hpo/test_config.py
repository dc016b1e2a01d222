"""Loading sweep configs: valid forms and every kind of bad input, located by line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hpo._config import load_config, parse_config
from hpo._errors import ConfigError
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

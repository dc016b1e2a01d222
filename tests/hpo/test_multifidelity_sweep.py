"""Multi-fidelity sweeps end to end: real executors, real SQLite stores, checkpoints that carry
a trial across its legs, resume mid-bracket, a command that obeys the stop file, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from mf_objectives import train

import hpo
from hpo.cli import main as cli_main
from hpo.strategies import hyperband_schedule
from trackers import Store, TrialState

SPACE = {"x": {"min": 0.0, "max": 1.0}}
R9 = {"min_budget": 1, "max_budget": 9, "eta": 3}
# R = 9, eta = 3: brackets (9,1)(3,3)(1,9); (5,3)(1,9); (3,9): 17 configurations
SCHEDULE = hyperband_schedule(1, 9, 3)
HELPERS = str(Path(__file__).resolve().parent)
ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "epochs.log"
    path.touch()
    monkeypatch.setenv("MF_LOG", str(path))
    monkeypatch.delenv("MF_CRASH", raising=False)
    monkeypatch.delenv("MF_SLEEP", raising=False)
    return path


def epochs(log: Path) -> list[tuple[int, int]]:
    return [
        (int(a), int(b)) for a, b in (line.split() for line in log.read_text().split("\n") if line)
    ]


def legs_per_budget() -> Counter[float]:
    out: Counter[float] = Counter()
    for bracket in SCHEDULE:
        for n, budget in bracket:
            out[budget] += n
    return out


def hyperband_sweep(tmp_path: Path, name: str, **kwargs: object) -> hpo.SweepResult:
    return hpo.sweep(
        train,
        SPACE,
        metric="loss",
        strategy="hyperband",
        strategy_options=R9,
        seed=3,
        store=tmp_path / "hpo.db",
        checkpoints=tmp_path / "ckpt",
        name=name,
        **kwargs,  # type: ignore[arg-type]
    )


def test_hyperband_continues_trials_from_their_checkpoints(tmp_path: Path, log: Path) -> None:
    result = hyperband_sweep(tmp_path, "hb")
    trials = {t.number: t for t in result.trials}
    assert len(trials) == 9 + 5 + 3
    counts = Counter(t.state for t in trials.values())
    assert counts == {TrialState.COMPLETED: 1 + 1 + 3, TrialState.PRUNED: 12}
    assert all(t.budget == 9 for t in trials.values() if t.state is TrialState.COMPLETED)
    assert all(t.budget < 9 for t in trials.values() if t.state is TrialState.PRUNED)
    # each trial trained each epoch once: the sum of its budget increments, not of its budgets
    trained = epochs(log)
    assert len(trained) == len(set(trained)) == sum(int(t.budget) for t in trials.values())
    assert sum(int(b) * n for b, n in legs_per_budget().items()) > len(trained)
    # the best is a full-budget trial
    assert result.best is not None and result.best.budget == 9
    assert result.best.state is TrialState.COMPLETED
    with Store(tmp_path / "hpo.db") as store:
        legs = store.legs(result.sweep_id)  # type: ignore[arg-type]
        assert Counter(leg["budget"] for leg in legs) == legs_per_budget()
        # a promoted trial's series is continuous across its legs: 1..9, each step once
        winner = store.get_trial(f"hb:{result.best.number}")
        steps = [p.step for p in store.metric_series(winner.id)["loss"]]  # type: ignore[arg-type]
        assert steps == list(range(1, 10))
        assert winner.step == 9
        events = list(store.events(result.sweep_id))  # type: ignore[arg-type]
    paused_then = {e["trial"] for e in events if e["kind"] == "trial_paused"}
    assert {n for n, t in trials.items() if t.state is TrialState.PRUNED} <= paused_then
    # checkpoints: kept for finished trials, deleted for pruned ones
    folders = {p.name for p in (tmp_path / "ckpt").glob("*/trial-*")}
    completed = {n for n, t in trials.items() if t.state is TrialState.COMPLETED}
    assert folders == {f"trial-{n}" for n in completed}


def test_asha_keeps_two_local_workers_busy(
    tmp_path: Path, log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MF_SLEEP", "0.02")
    result = hpo.sweep(
        train,
        SPACE,
        metric="loss",
        strategy="asha",
        strategy_options=R9,
        trials=12,
        workers=2,
        executor="local",
        seed=5,
        store=tmp_path / "hpo.db",
        name="asha",
    )
    states = Counter(t.state for t in result.trials)
    assert set(states) <= {TrialState.COMPLETED, TrialState.PRUNED}
    assert states[TrialState.COMPLETED] >= 1 and len(result.trials) == 12
    assert result.best is not None and result.best.budget == 9
    with Store(tmp_path / "hpo.db") as store:
        events = list(store.events(result.sweep_id))  # type: ignore[arg-type]
    starts = {"trial_started", "trial_continued"}
    ends = {"trial_paused", "trial_finished"}
    last_new = max(i for i, e in enumerate(events) if e["kind"] == "trial_started")
    # In log order: before every group of leg ends while new trials were still wanted, both
    # workers were running a leg (the engine fills every free slot in the turn a leg ends).
    running: set[int] = set()
    most = 0
    for i, event in enumerate(events):
        kind = event["kind"]
        if kind in starts:
            assert event["trial"] not in running
            running.add(event["trial"])
            most = max(most, len(running))
        elif kind in ends:
            if i < last_new and events[i - 1]["kind"] in starts:
                assert len(running) == 2, f"a worker waited before event {i}: {event}"
            running.discard(event["trial"])
    assert most == 2
    # paused trials went on or were pruned; the budgets of legs are rungs of the ladder
    legs = [e for e in events if e["kind"] in ends]
    assert {e["data"]["budget"] for e in legs} <= {1.0, 3.0, 9.0}
    assert any(e["kind"] == "trial_continued" for e in events)
    by_trial = Counter(trial for trial, _ in epochs(log))
    assert all(by_trial[t.number] == t.budget for t in result.trials)


def test_best_is_a_full_budget_trial_even_when_a_small_budget_scored_better(tmp_path: Path) -> None:
    def inverted(x: float, trial: object) -> float:
        # smaller budgets look better here: a best across budgets would pick a 1-epoch leg
        return x - 10.0 / trial.budget  # type: ignore[attr-defined]

    result = hpo.sweep(
        inverted, SPACE, strategy="hyperband", strategy_options=R9, seed=1, track=False
    )
    assert result.best is not None
    assert result.best.budget == 9 and result.best.state is TrialState.COMPLETED


@pytest.mark.parametrize(
    ("crash", "how"),
    [("4:1:interrupt", "ctrl-c"), ("1:3:kill", "killed")],  # mid rung 0; a promotion's leg
)
def test_resume_mid_bracket_continues_the_same_brackets(
    tmp_path: Path, log: Path, monkeypatch: pytest.MonkeyPatch, crash: str, how: str
) -> None:
    reference = hyperband_sweep(tmp_path, "reference")
    reference_epochs = len(epochs(log))
    log.write_text("")
    monkeypatch.setenv("MF_CRASH", crash)
    number, budget = int(crash.split(":")[0]), float(crash.split(":")[1])
    if how == "ctrl-c":
        first = hyperband_sweep(tmp_path, "crashy")
        assert first.interrupted
    else:
        # the inline executor runs the trial in the driver: SIGKILL kills the sweep itself
        code = textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {HELPERS!r})
            import hpo
            from mf_objectives import train
            hpo.sweep(train, {SPACE!r}, metric="loss", strategy="hyperband",
                      strategy_options={R9!r}, seed=3, store={str(tmp_path / "hpo.db")!r},
                      checkpoints={str(tmp_path / "ckpt")!r}, name="crashy")
            """
        )
        run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, timeout=120, env=os.environ)
        assert run.returncode == -9
    with Store(tmp_path / "hpo.db") as store:
        left = {t.number: t for t in store.trials(store.get_sweep("crashy").id)}
    assert left[number].state in (TrialState.INTERRUPTED, TrialState.RUNNING)
    assert left[number].budget == budget
    resumed = hyperband_sweep(tmp_path, "crashy", resume=True)
    assert not resumed.interrupted
    got = {t.number: t for t in resumed.trials}
    want = {t.number: t for t in reference.trials}
    # the same configurations under the same numbers: none reused, the leg rerun in place
    assert {n: dict(t.params) for n, t in got.items()} == {
        n: dict(t.params) for n, t in want.items()
    }
    assert {n: t.state for n, t in got.items()} == {n: t.state for n, t in want.items()}
    assert {n: t.budget for n, t in got.items()} == {n: t.budget for n, t in want.items()}
    assert all(t.rerun_of is None for t in got.values())
    # the interrupted leg ran again on its trial; no other epoch was trained twice
    trained = epochs(log)
    assert (number, int(budget)) in trained
    assert len(trained) == len(set(trained)) == reference_epochs


STOP_SCRIPT = """\
import json, os, sys, time
x, out = float(sys.argv[1]), sys.argv[2]
why, step = "finished", 0
for step in range(1, 101):
    with open(os.environ["HPO_REPORT_FILE"], "a") as f:
        f.write(json.dumps({"step": step, "loss": x + 1.0 / step}) + "\\n")
    time.sleep(0.01)
    if os.path.exists(os.environ["HPO_STOP_FILE"]):
        why = "stopped"
        break
with open(os.path.join(out, f"{x}.json"), "w") as f:
    json.dump({"why": why, "step": step}, f)
"""


def cli(*args: str) -> int:
    try:
        cli_main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_command_obeys_the_stop_file_and_ends_pruned_at_its_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "stopper.py").write_text(STOP_SCRIPT)
    out = tmp_path / "out"
    out.mkdir()
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: stopper
            objective:
              command: [{sys.executable!r}, stopper.py, "{{x}}", {str(out)!r}]
              stop_grace: 60
            metric: loss
            parameters:
              x: {{values: [0.1, 0.5, 0.9]}}
            strategy: grid
            executor: inline
            early_terminate: {{type: hyperband, milestones: [3], eta: 3}}
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    assert cli("sweep", "sweep.yaml", "--store", "hpo.db") == 0
    with Store(tmp_path / "hpo.db") as store:
        trials = {t.params["x"]: t for t in store.trials(store.get_sweep("stopper").id)}
    assert trials[0.1].state is TrialState.COMPLETED and trials[0.1].step == 100
    for x in (0.5, 0.9):
        t = trials[x]
        seen = json.loads((out / f"{x}.json").read_text())
        assert seen["why"] == "stopped"  # it noticed $HPO_STOP_FILE and exited by itself
        assert t.state is TrialState.PRUNED
        assert t.step == seen["step"] >= 3
        assert t.value == pytest.approx(x + 1.0 / seen["step"])
        assert t.error is not None and "milestone 3" in t.error
    capsys.readouterr()
    assert cli("report", "stopper", "--store", "hpo.db", "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert Counter(r["status"] for r in rows) == {"completed": 1, "pruned": 2}


def test_report_and_show_list_pruned_trials(
    tmp_path: Path, log: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = hyperband_sweep(tmp_path, "shown")
    db = str(tmp_path / "hpo.db")
    capsys.readouterr()
    assert cli("report", "shown", "--store", db, "--format", "json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert Counter(r["status"] for r in rows) == {"completed": 5, "pruned": 12}
    assert {r["budget"] for r in rows if r["status"] == "pruned"} <= {1.0, 3.0}
    assert cli("report", "shown", "--store", db) == 0
    table = capsys.readouterr().out
    assert "pruned" in table
    pruned = next(t for t in result.trials if t.state is TrialState.PRUNED)
    assert cli("show", f"shown:{pruned.number}", "--store", db, "--format", "json") == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "pruned" and shown["budget"] == pruned.budget
    assert [p["step"] for p in shown["series"]["loss"]] == list(range(1, int(pruned.budget) + 1))
    assert cli("show", f"shown:{pruned.number}", "--store", db) == 0
    assert "pruned" in capsys.readouterr().out

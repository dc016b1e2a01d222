"""Checkpoint folders of real sweeps: a trial that saves nothing leaves no folder behind, one
that saves something keeps it at ``<root>/<sweep>-<id>/trial-N``, and an emptied root goes too
unless the user made it."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from checkpoint_objectives import keep_even
from cli_runner import run_in_process

import hpo
from trackers import TrialState

# a command that records whether $HPO_CHECKPOINT_DIR existed when it started, then saves
# nothing in it
SEES_FOLDER = """\
import json, os, sys
folder = os.environ["HPO_CHECKPOINT_DIR"]
with open(sys.argv[2], "a") as out:
    out.write(json.dumps({"folder": folder, "isdir": os.path.isdir(folder)}) + "\\n")
with open(os.environ["HPO_REPORT_FILE"], "a") as f:
    f.write(json.dumps({"loss": float(sys.argv[1])}) + "\\n")
"""


def all_paths(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*"))


def test_command_sweep_on_local_workers_leaves_no_empty_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "sees.py").write_text(SEES_FOLDER)
    seen = tmp_path / "seen.jsonl"
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: plain
            objective:
              command: [{sys.executable!r}, sees.py, "{{x}}", {str(seen)!r}]
            metric: loss
            parameters:
              x: {{values: [0.1, 0.2, 0.3, 0.4]}}
            strategy: grid
            executor: local
            workers: 2
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = run_in_process("sweep", "sweep.yaml", "--store", "hpo.db")
    assert code == 0, err
    assert "4 completed" in out
    runs = [json.loads(line) for line in seen.read_text().splitlines()]
    # every run was given a folder that existed when it started, in the sweep's own folder
    assert len(runs) == 4 and all(r["isdir"] for r in runs)
    assert {Path(r["folder"]).parent.name for r in runs} == {"plain-1"}
    # ...and nothing is left of them, nor of the sweep's folder and the default root
    assert not (tmp_path / "hpo-checkpoints").exists()
    assert [p.name for p in tmp_path.iterdir() if p.is_dir()] == []


def test_python_sweep_keeps_only_the_folders_with_something_in_them(tmp_path: Path) -> None:
    result = hpo.sweep(
        keep_even,
        {"x": {"values": [0.1, 0.2, 0.3, 0.4, 0.5]}},
        metric="value",
        strategy="grid",
        executor="local",
        workers=2,
        store=tmp_path / "hpo.db",
        name="keeps",
    )
    assert [t.state for t in result.trials] == [TrialState.COMPLETED] * 5
    sweep_folder = tmp_path / "hpo-checkpoints" / f"keeps-{result.sweep_id}"
    # kept where it always was: the odd trials' empty folders are gone
    assert all_paths(sweep_folder) == sorted(
        [sweep_folder / f"trial-{n}" for n in (0, 2, 4)]
        + [sweep_folder / f"trial-{n}" / "state.txt" for n in (0, 2, 4)]
    )
    params = {t.number: t.params["x"] for t in result.trials}
    for n in (0, 2, 4):
        assert (sweep_folder / f"trial-{n}" / "state.txt").read_text() == f"{params[n]}\n"


def test_a_configured_root_is_removed_only_if_the_sweep_made_it(tmp_path: Path) -> None:
    made_by_user = tmp_path / "mine"
    made_by_user.mkdir()
    missing = tmp_path / "new" / "ckpt"
    for root, name in ((made_by_user, "a"), (missing, "b")):
        result = hpo.sweep(
            lambda x, trial: trial.checkpoint_dir and x,  # creates the folder, saves nothing
            {"x": {"values": [1.0, 2.0]}},
            strategy="grid",
            store=tmp_path / "hpo.db",
            checkpoints=root,
            name=name,
        )
        assert [t.state for t in result.trials] == [TrialState.COMPLETED] * 2
    assert made_by_user.is_dir() and list(made_by_user.iterdir()) == []
    assert not missing.exists()
    assert (tmp_path / "new").is_dir()  # only the root itself, never what is above it

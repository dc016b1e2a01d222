"""``hpo export`` / ``hpo import``, run as real subprocesses against real SQLite files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_hpo as hpo

ROOT = Path(__file__).resolve().parents[2]
OBJECTIVE = """\
import math


def train(lr, layers, trial, dropout=0.0):
    for step in range(4):
        trial.report(step=step, loss=lr * (4 - step), spike=math.nan if step == 2 else step)
    if layers == 3:
        raise ValueError("three layers diverge")
    return {"loss": lr * layers + dropout, "worst": -math.inf}
"""
CONFIG = """\
name: shared
objective: train.py:train
metric: {name: loss, goal: minimize}
strategy: random
trials: 12
seed: 5
parameters:
  lr: {min: 0.001, max: 0.1, log: true}
  layers: {values: [1, 2, 3]}
  dropout: {min: 0.0, max: 0.5, when: {layers: [2, 3]}}
"""


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a.db holding the sweep ``shared`` (some trials failed)."""
    where = tmp_path_factory.mktemp("cli-transfer")
    (where / "train.py").write_text(OBJECTIVE)
    (where / "sweep.yaml").write_text(CONFIG)
    run = hpo("sweep", "sweep.yaml", "--store", "a.db", cwd=where)
    assert run.returncode == 0, run.stderr
    return where


def report(store: str, name: str, cwd: Path) -> list[dict[str, Any]]:
    run = hpo("report", name, "--store", store, "--format", "json", cwd=cwd)
    assert run.returncode == 0, run.stderr
    rows = json.loads(run.stdout)
    for row in rows:
        del row["id"], row["sweep_id"]
    return rows


def test_export_then_import_gives_the_same_report(swept: Path) -> None:
    exp = hpo("export", "shared", "--store", "a.db", cwd=swept)
    assert exp.returncode == 0, exp.stderr
    assert "exported sweep 'shared': 12 trials, 96 metric points" in exp.stdout
    assert (swept / "shared.hpo.json.gz").exists()  # the default name

    imp = hpo("import", "shared.hpo.json.gz", "--store", "b.db", cwd=swept)
    assert imp.returncode == 0, imp.stderr
    assert "imported sweep 'shared' (id 1)" in imp.stdout and "(1 new)" in imp.stdout
    original = report("a.db", "shared", swept)
    assert report("b.db", "shared", swept) == original
    assert {r["status"] for r in original} == {"completed", "failed"}
    assert any(r["metrics"].get("worst") == "-inf" for r in original)

    show = hpo("show", "shared:0", "--store", "b.db", "--format", "json", cwd=swept)
    assert json.loads(show.stdout)["series"]["spike"][2]["value"] != 0  # NaN came back as NaN

    again = hpo("import", "shared.hpo.json.gz", "--store", "b.db", cwd=swept)
    assert again.returncode == 0 and "imported sweep 'shared-2'" in again.stdout
    named = hpo("import", "shared.hpo.json.gz", "--store", "b.db", "--name", "shared", cwd=swept)
    assert named.returncode == 2
    assert "already has a sweep named 'shared'" in named.stderr and "--name" in named.stderr


def test_stdout_and_stdin(swept: Path) -> None:
    exp = hpo("export", "shared", "--store", "a.db", "-o", "-", cwd=swept)
    assert exp.returncode == 0, exp.stderr
    doc = json.loads(exp.stdout)  # plain JSON, and nothing else on stdout
    assert doc["format"] == "hpo-sweep" and len(doc["trials"]) == 12
    assert "exported sweep 'shared'" in exp.stderr
    imp = hpo("import", "-", "--store", "c.db", "--name", "mine", cwd=swept, stdin=exp.stdout)
    assert imp.returncode == 0, imp.stderr
    assert report("c.db", "mine", swept) == report("a.db", "shared", swept)


def _bad_files(where: Path) -> dict[str, bytes]:
    good = json.loads(hpo("export", "shared", "--store", "a.db", "-o", "-", cwd=where).stdout)
    newer = dict(good, version=99)
    broken = json.loads(json.dumps(good))
    del broken["trials"][4]["params"]
    return {
        "text.json": b"hello",
        "other.json": json.dumps({"format": "wandb"}).encode(),
        "newer.json.gz": gzip.compress(json.dumps(newer).encode()),
        "broken.json": json.dumps(broken).encode(),
        "cut.json.gz": gzip.compress(json.dumps(good).encode())[:200],
    }


def test_bad_files_exit_2_with_one_line(swept: Path, tmp_path: Path) -> None:
    expected = {
        "text.json": "is not JSON",
        "other.json": "not an hpo sweep file",
        "newer.json.gz": "upgrade hpo",
        "broken.json": "missing key trials[4].params",
        "cut.json.gz": "damaged gzip",
    }
    for name, content in _bad_files(swept).items():
        (tmp_path / name).write_bytes(content)
        store = f"{name}.db"
        run = hpo("import", str(tmp_path / name), "--store", store, cwd=tmp_path)
        assert run.returncode == 2, (name, run.stderr)
        assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
        assert name in run.stderr and expected[name] in run.stderr, run.stderr
        if name != "broken.json":  # refused on reading: no store is created for it
            assert not (tmp_path / store).exists(), name
    # refused while inserting, in one transaction: the store has nothing half-imported
    ls = hpo("ls", "--store", "broken.json.db", cwd=tmp_path)
    assert "no sweeps" in ls.stdout

    missing = hpo("import", "nowhere.json", "--store", "d.db", cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read nowhere.json" in missing.stderr
    unknown = hpo("export", "nope", "--store", str(swept / "a.db"), cwd=tmp_path)
    assert unknown.returncode == 2 and "no sweep 'nope'" in unknown.stderr


ART_OBJECTIVE = """\
def train(x, trial):
    path = trial.checkpoint_dir / "model.txt"
    path.write_text("weights")
    trial.log_artifact(path)
    return x
"""
ART_CONFIG = """\
name: arts
objective: train.py:train
metric: {name: loss, goal: minimize}
strategy: random
trials: 2
seed: 1
parameters:
  x: {min: 0.0, max: 1.0}
"""


def test_export_and_import_carry_artifact_files(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(ART_OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(ART_CONFIG)
    run = hpo("sweep", "sweep.yaml", "--store", "a.db", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    exp = hpo("export", "arts", "--store", "a.db", "-o", "arts.json", cwd=tmp_path)
    assert exp.returncode == 0, exp.stderr
    assert "2 artifacts (1 file)" in exp.stdout
    lean = hpo("export", "arts", "--store", "a.db", "-o", "lean.json", "--no-artifacts",
               cwd=tmp_path)  # fmt: skip
    assert "2 artifacts (files left out)" in lean.stdout
    assert json.loads((tmp_path / "lean.json").read_text())["artifact_files"] == {}

    (tmp_path / "sub").mkdir()
    imp = hpo("import", "arts.json", "--store", "sub/b.db", cwd=tmp_path)
    assert imp.returncode == 0, imp.stderr
    assert "2 artifacts (1 file" in imp.stdout
    files = [p for p in (tmp_path / "sub" / "b-artifacts").rglob("*") if p.is_file()]
    assert [p.read_text() for p in files] == ["weights"]
    # the source folder gone, the imported sweep's artifacts are found in its own store's
    (tmp_path / "a-artifacts").rename(tmp_path / "gone")
    out = tmp_path / "out.txt"
    copy = hpo("artifacts", "arts:1", "model.txt", "--to", str(out), "--store", "sub/b.db",
               cwd=tmp_path)  # fmt: skip
    assert copy.returncode == 0, copy.stderr
    assert out.read_text() == "weights"

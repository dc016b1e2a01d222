"""Export a sweep to a file and import it into another store (``trackers._transfer``).

The sweeps are real ones, run by ``hpo.sweep`` into a real SQLite file (the engine is the only
writer that makes every kind of row: failed trials, series, events, environments); imports
go into a fresh SQLite file and a fresh PostgreSQL database (``store_url``).
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path
from typing import Any

import pytest

import hpo
from trackers import (
    EventKind,
    Store,
    TransferError,
    TrialState,
    export_sweep,
    import_sweep,
    sweep_document,
)

SPACE = {
    "kind": {"values": ["a", "b"]},
    "x": {"min": -1.0, "max": 1.0, "when": {"kind": "a"}},
    "n": {"values": [1, 2, 3]},
}


def objective(kind: str, n: int, trial: Any, x: float = 0.0) -> dict[str, float]:
    for step in range(3):
        trial.report(step=step, loss=x * step, odd=math.nan if step == 1 else -math.inf)
    if n == 3:
        raise RuntimeError("n=3 is not allowed")
    return {"loss": x * x + n, "acc": math.inf, "gap": math.nan}


def staged(x: float, trial: Any) -> float:
    loss = math.nan
    for epoch in range(1, int(trial.budget) + 1):
        loss = (x - 0.3) ** 2 + 1.0 / epoch
        trial.report(step=epoch, loss=loss)
    return loss


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("src") / "a.db"
    result = hpo.sweep(objective, SPACE, metric="loss", trials=15, seed=3, store=db, name="demo")
    states = {t.state for t in result.trials}
    assert TrialState.FAILED in states and TrialState.COMPLETED in states  # the fixture's point
    return db


def snapshot(st: Store, name: str) -> dict[str, Any]:
    """Everything the store's read API says about a sweep, without the store's own ids."""
    sw = st.get_sweep(name)
    trials = []
    for t in st.trials(sw.id):
        row = t.to_dict()
        del row["id"], row["sweep_id"]
        row.update(
            queued_at=t.queued_at,
            traceback=t.traceback,
            environment=st.get_environment(t.environment_id) if t.environment_id else None,
            series={
                k: [(p.step, repr(p.value), p.time) for p in v]
                for k, v in st.metric_series(t.id).items()  # type: ignore[arg-type]
            },
            metrics_repr={k: repr(v) for k, v in t.metrics.items()},
        )
        trials.append(row)
    fields = {
        k: getattr(sw, k)
        for k in sw.__slots__  # type: ignore[attr-defined]
        if k not in ("id", "name", "environment_id")
    }
    return {
        "sweep": fields,
        "environment": st.get_environment(sw.environment_id) if sw.environment_id else None,
        "trials": trials,
        "events": list(st.events(sw.id)),
        "legs": st.legs(sw.id),
    }


def test_round_trip_keeps_every_row(source: Path, store_url: str, tmp_path: Path) -> None:
    file = tmp_path / "demo.hpo.json.gz"
    with Store(source) as a:
        exported = export_sweep(a, "demo", file)
        before = snapshot(a, "demo")
        source_url = a.url
    with Store(store_url) as b:
        done = import_sweep(b, file)
        after = snapshot(b, done.name)
        # Exporting from the target (PostgreSQL too) gives back the same rows.
        again = sweep_document(b, done.name)
    with Store(source) as a:
        first = sweep_document(a, "demo")
    assert again["trials"] == first["trials"] and again["environments"] == first["environments"]
    assert again["events"][:-1] == first["events"]
    assert done.name == "demo" and exported.trials == done.trials == 15
    assert done.metric_points == exported.metric_points == 15 * 6
    assert done.new_environments == 1
    imported = after["events"].pop()
    assert imported["kind"] == EventKind.SWEEP_IMPORTED.value
    assert imported["data"]["file"] == "demo.hpo.json.gz"
    assert imported["data"]["store"] == source_url
    assert after == before
    # The point of the fixture: failed trials, non-finite values and conditional params.
    failed = [t for t in after["trials"] if t["status"] == "failed"]
    assert failed and all("n=3 is not allowed" in t["error"] for t in failed)
    assert all(t["traceback"] for t in failed)
    done_ = next(t for t in after["trials"] if t["status"] == "completed")
    assert done_["metrics_repr"]["acc"] == "inf" and done_["metrics_repr"]["gap"] == "nan"
    assert [v for _, v, _ in done_["series"]["odd"]] == ["-inf", "nan", "-inf"]
    assert {"x" in t["params"] for t in after["trials"]} == {True, False}


def test_plain_and_gzip_files_hold_the_same_document(source: Path, tmp_path: Path) -> None:
    with Store(source) as a:
        export_sweep(a, "demo", tmp_path / "d.json")
        export_sweep(a, "demo", tmp_path / "d.json.gz")
        doc = sweep_document(a, "demo")
    plain = json.loads((tmp_path / "d.json").read_text())
    packed = json.loads(gzip.decompress((tmp_path / "d.json.gz").read_bytes()))
    for d in (plain, packed, doc):
        d.pop("exported_at")
    assert plain == packed == doc
    assert doc["format"] == "hpo-sweep" and doc["version"] == 1
    assert set(doc["trials"][0]) >= {"number", "state", "params", "environment", "metrics_series"}
    assert not list(tmp_path.glob(".*partial"))


def test_a_taken_name_gets_the_next_free_one_or_fails_when_given(
    source: Path, tmp_path: Path
) -> None:
    with Store(source) as a:
        doc = sweep_document(a, "demo")
        assert import_sweep(a, doc).name == "demo-2"
        assert import_sweep(a, doc).name == "demo-3"
        assert import_sweep(a, doc, name="colleague").name == "colleague"
        with pytest.raises(TransferError, match="already has a sweep named 'colleague'"):
            import_sweep(a, doc, name="colleague")
        copy = a.get_sweep("demo-2")
        assert len(a.trials(copy.id)) == 15
        # One environment, shared by the original and the copies.
        assert copy.environment_id == a.get_sweep("demo").environment_id


def _write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format="mlflow"), "not an hpo sweep file"),
        (lambda d: d.update(version=2), "newer than this hpo reads"),
        (lambda d: d.pop("trials"), "'trials' is missing"),
        (lambda d: d["trials"][7].pop("state"), r"missing key trials\[7\].state"),
        (lambda d: d["trials"][9].update(state="exploded"), "'exploded' is not a valid"),
        (lambda d: d["trials"][9]["metrics_series"].append(["x", 1]), "not enough values"),
        (lambda d: d["trials"][12].update(number=0), "nothing imported"),
        (lambda d: d["trials"][3].update(environment="f00"), "environment f00"),
        (
            lambda d: next(iter(d["environments"].values())).update(hostname="forged"),
            "does not match its hash",
        ),
    ],
)
def test_a_bad_file_is_refused_whole(
    source: Path, tmp_path: Path, change: Any, message: str
) -> None:
    with Store(source) as a:
        doc = sweep_document(a, "demo")
    change(doc)
    file = _write(tmp_path / "bad.json", doc)
    with Store(tmp_path / "b.db") as b:
        with pytest.raises(TransferError, match=message) as info:
            import_sweep(b, file)
        assert str(file) in str(info.value)
        assert b.list_sweeps() == []  # one transaction: nothing half-written
        with b.session() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM environments").scalar() == 0
            assert conn.exec_driver_sql("SELECT count(*) FROM trials").scalar() == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json at all", "is not JSON"),
        (b"[1, 2]", "not an hpo sweep file"),
        (gzip.compress(b'{"format": "hpo-sweep"}')[:-6], "damaged gzip"),
        (b"\xff\xfe\x00", "is not JSON"),
    ],
)
def test_unreadable_files_name_the_file(tmp_path: Path, content: bytes, message: str) -> None:
    file = tmp_path / "x.hpo.json.gz"
    file.write_bytes(content)
    with Store(tmp_path / "b.db") as b, pytest.raises(TransferError, match=message) as info:
        import_sweep(b, file)
    assert str(file) in str(info.value)


def test_a_multi_fidelity_sweep_survives(tmp_path: Path) -> None:
    result = hpo.sweep(
        staged,
        {"x": {"min": 0.0, "max": 1.0}},
        metric="loss",
        strategy="hyperband",
        strategy_options={"min_budget": 1, "max_budget": 9, "eta": 3},
        seed=3,
        store=tmp_path / "a.db",
        checkpoints=tmp_path / "ckpt",
        name="hb",
    )
    assert {t.state for t in result.trials} >= {TrialState.PRUNED, TrialState.COMPLETED}
    with Store(tmp_path / "a.db") as a, Store(tmp_path / "b.db") as b:
        export_sweep(a, "hb", tmp_path / "hb.json.gz")
        import_sweep(b, tmp_path / "hb.json.gz")
        before, after = snapshot(a, "hb"), snapshot(b, "hb")
    after["events"].pop()
    assert after == before
    pruned = [t for t in after["trials"] if t["status"] == "pruned"]
    assert pruned and all(t["step"] is not None and t["budget"] < 9 for t in pruned)
    assert any(e["kind"] == EventKind.TRIAL_PAUSED.value for e in after["events"])
    assert after["legs"]


def test_a_dict_is_checked_like_a_file(tmp_path: Path) -> None:
    with Store(tmp_path / "b.db") as b:
        with pytest.raises(TransferError, match="<dict> is not an hpo sweep file"):
            import_sweep(b, {"format": "other", "version": 1})
        with pytest.raises(TransferError, match="'sweep' is missing"):
            import_sweep(b, {"format": "hpo-sweep", "version": 1, "trials": []})
        assert b.list_sweeps() == []


# --- artifacts and code blobs --------------------------------------------------------------


def saves_a_model(x: float, trial: Any) -> float:
    (trial.checkpoint_dir / "model.txt").write_text("shared weights\n")
    trial.log_artifact(trial.checkpoint_dir / "model.txt")
    (trial.checkpoint_dir / "own.txt").write_text(f"trial {trial.number}\n")
    trial.log_artifact(trial.checkpoint_dir / "own.txt")
    return x


@pytest.fixture(scope="module")
def with_artifacts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store whose sweep ``arts`` ran in a dirty git tree (a diff, an untracked file) and
    logged artifacts (one content shared by every trial)."""
    import os
    import shutil
    import subprocess

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("repo")
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@e",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@e",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
    )
    (repo / "code.py").write_text("a = 1\n")
    (repo / ".gitignore").write_text("*.db*\n*-artifacts/\n*-checkpoints/\n")
    for args in (["init", "-q"], ["add", "."], ["commit", "-q", "-m", "c"]):
        subprocess.run(["git", "-C", str(repo), *args], check=True, env=env, capture_output=True)
    (repo / "code.py").write_text("a = 2\n")
    (repo / "notes.py").write_text("untracked = True\n")
    old = Path.cwd()
    os.chdir(repo)  # the environment is captured from the working directory
    try:
        hpo.sweep(saves_a_model, {"x": {"min": 0.0, "max": 1.0}}, metric="x", trials=3,
                  seed=1, store=repo / "a.db", name="arts")  # fmt: skip
    finally:
        os.chdir(old)
    return repo / "a.db"


def _artifacts_of(st: Store, name: str) -> dict[int, list[tuple[str, str, int]]]:
    sweep = st.get_sweep(name)
    return {
        t.number: [(a.name, a.sha256, a.size) for a in st.artifacts(t.id)]  # type: ignore[arg-type]
        for t in st.trials(sweep.id)
    }


def test_round_trip_carries_artifacts_and_code_blobs(
    with_artifacts: Path, store_url: str, tmp_path: Path
) -> None:
    from trackers import resolve_code

    file = tmp_path / "arts.hpo.json.gz"
    with Store(with_artifacts) as a:
        exported = export_sweep(a, "arts", file)
        before = _artifacts_of(a, "arts")
        env_a = resolve_code(a.get_environment(a.get_sweep("arts").environment_id), a.get_blob)  # type: ignore[arg-type]
    assert exported.artifacts == 6 and exported.artifact_files == 4  # 1 shared + 3 own
    assert exported.blobs == 2 and exported.missing_files == 0  # the diff and notes.py
    target_folder = tmp_path / "b-artifacts"
    with Store(store_url, artifacts=target_folder) as b:
        done = import_sweep(b, file)
        assert (done.artifacts, done.artifact_files, done.blobs) == (6, 4, 2)
        assert _artifacts_of(b, done.name) == before
        sweep = b.get_sweep(done.name)
        env_b = resolve_code(b.get_environment(sweep.environment_id), b.get_blob)  # type: ignore[arg-type]
        assert env_b["git"]["diff"] == env_a["git"]["diff"] and "+a = 2" in env_b["git"]["diff"]
        notes = env_b["git"]["untracked"]["notes.py"]
        assert b.get_blob(notes) == b"untracked = True\n"
        for rows in before.values():
            for _, sha, _ in rows:
                path = b.locate_artifact(sweep.id, sha)
                assert path is not None and path.startswith(str(target_folder))
        # importing it again stores no second copy of anything
        import_sweep(b, file, name="arts-again")
    files = [p for p in target_folder.rglob("*") if p.is_file()]
    assert len(files) == 4


def test_export_without_artifact_files_keeps_the_records(with_artifacts: Path) -> None:
    with Store(with_artifacts) as a:
        doc = sweep_document(a, "arts", artifacts=False)
    assert doc["artifact_files"] == {}
    assert all(len(t["artifacts"]) == 2 for t in doc["trials"])
    assert len(doc["blobs"]) == 2


def test_a_changed_artifact_file_in_an_export_is_refused(
    with_artifacts: Path, tmp_path: Path
) -> None:
    with Store(with_artifacts) as a:
        doc = sweep_document(a, "arts")
    sha = next(iter(doc["artifact_files"]))
    doc["artifact_files"][sha] = "dGFtcGVyZWQ="  # base64 of "tampered"
    with (
        Store(tmp_path / "c.db") as c,
        pytest.raises(TransferError, match="does not match its hash"),
    ):
        import_sweep(c, doc)
    with Store(tmp_path / "c.db") as c:
        assert c.list_sweeps() == []

"""Artifacts end to end: real sweeps (inline, local worker processes, a command objective) into
real SQLite stores, and the ``hpo artifacts`` / ``hpo code`` / ``hpo show --diff`` commands
run as subprocesses."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_hpo as cli
from git_repo import git

import hpo
from trackers import ArtifactError, Store, TrialState

ROOT = Path(__file__).resolve().parents[2]
SPACE = {"x": {"min": 0.0, "max": 1.0}}


def logs_model(x: float, trial: hpo.Trial) -> float:
    """Every trial logs the same bytes as model.txt, and its own bytes as notes.txt."""
    folder = trial.checkpoint_dir
    (folder / "model.txt").write_text("the same model\n")
    trial.log_artifact(folder / "model.txt")
    (folder / "notes.txt").write_text(f"x={x}\n")
    hpo.log_artifact(folder / "notes.txt")  # the module-level call: the current trial
    return x


def logs_a_folder(x: float, trial: hpo.Trial) -> float:
    out = trial.checkpoint_dir / "out"
    (out / "sub").mkdir(parents=True, exist_ok=True)
    (out / "a.txt").write_text("a\n")
    (out / "sub" / "b.txt").write_text(f"b {trial.number}\n")
    trial.log_artifact(out, name="run")
    return x


def logs_then_fails(x: float, trial: hpo.Trial) -> float:
    (trial.checkpoint_dir / "partial.txt").write_text("half a model\n")
    trial.log_artifact(trial.checkpoint_dir / "partial.txt")
    if trial.number == 1:
        trial.log_artifact(trial.checkpoint_dir / "never-written.bin")
    if trial.number == 2:
        raise RuntimeError("diverged")
    return x


def relogs(x: float, trial: hpo.Trial) -> float:
    path = trial.checkpoint_dir / "best.txt"
    for epoch in range(3):
        path.write_text(f"epoch {epoch}\n")
        trial.log_artifact(path, name="best")  # the last one logged is the record
    return x


def records(db: Path) -> dict[int, dict[str, Any]]:
    """trial number -> {artifact name: record} of the store's only sweep."""
    with Store(db) as st:
        (summary,) = st.list_sweeps()
        return {
            t.number: {a.name: a for a in st.artifacts(t.id)}  # type: ignore[arg-type]
            for t in st.trials(summary.sweep.id)
        }


def content_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


@pytest.mark.parametrize("workers", [1, 2], ids=["inline", "local-2-workers"])
def test_same_bytes_from_many_trials_are_stored_once(tmp_path: Path, workers: int) -> None:
    db = tmp_path / "hpo.db"
    result = hpo.sweep(logs_model, SPACE, trials=4, workers=workers, seed=1, store=db)
    assert all(t.state is TrialState.COMPLETED for t in result.trials)
    logged = records(db)
    assert sorted(logged) == [0, 1, 2, 3]
    models = {r["model.txt"].sha256 for r in logged.values()}
    notes = {r["notes.txt"].sha256 for r in logged.values()}
    assert len(models) == 1 and len(notes) == 4  # one content, four trials' records
    folder = tmp_path / "hpo-artifacts"  # the default: beside the SQLite file
    files = content_files(folder)
    assert len(files) == 5  # the shared model once, four notes
    (model_sha,) = models
    assert (folder / model_sha[:2] / model_sha).read_text() == "the same model\n"
    assert all(p.name == p.parent.name + p.name[2:] for p in files)  # <sha[:2]>/<sha>


def test_a_folder_becomes_one_artifact_per_file(tmp_path: Path) -> None:
    db = tmp_path / "hpo.db"
    hpo.sweep(logs_a_folder, SPACE, trials=2, seed=1, store=db)
    logged = records(db)
    assert sorted(logged[0]) == ["run/a.txt", "run/sub/b.txt"]
    assert logged[0]["run/a.txt"].sha256 == logged[1]["run/a.txt"].sha256
    assert logged[0]["run/sub/b.txt"].sha256 != logged[1]["run/sub/b.txt"].sha256
    assert len(content_files(tmp_path / "hpo-artifacts")) == 3


def test_logging_a_name_again_replaces_its_record(tmp_path: Path) -> None:
    db = tmp_path / "hpo.db"
    hpo.sweep(relogs, SPACE, trials=1, seed=1, store=db)
    (only,) = records(db)[0].values()
    assert only.name == "best" and only.size == len("epoch 2\n")
    st = Store(db)
    with st:
        path = st.locate_artifact(1, only.sha256)
    assert path is not None and Path(path).read_text() == "epoch 2\n"


@pytest.mark.parametrize("workers", [1, 2], ids=["inline", "local-2-workers"])
def test_a_missing_path_fails_its_trial_and_logged_artifacts_survive_failures(
    tmp_path: Path, workers: int
) -> None:
    db = tmp_path / "hpo.db"
    result = hpo.sweep(logs_then_fails, SPACE, trials=4, workers=workers, seed=1, store=db)
    by_number = {t.number: t for t in result.trials}
    missing = by_number[1]
    assert missing.state is TrialState.FAILED
    assert missing.error is not None
    assert "ArtifactError" in missing.error and "never-written.bin" in missing.error
    assert "no such file or folder" in missing.error
    assert by_number[2].state is TrialState.FAILED and "diverged" in (by_number[2].error or "")
    assert by_number[0].state is by_number[3].state is TrialState.COMPLETED
    logged = records(db)
    # every trial logged partial.txt before anything went wrong: all four records are kept
    assert all(list(logged[n]) == ["partial.txt"] for n in range(4))


def test_a_sweep_without_a_store_refuses_artifacts_clearly(tmp_path: Path) -> None:
    result = hpo.sweep(logs_model, SPACE, trials=1, seed=1, track=False)
    (trial,) = result.trials
    assert trial.state is TrialState.FAILED
    assert "without a store" in (trial.error or "")


def test_outside_a_trial_log_artifact_warns_and_records_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HPO_REPORT_FILE", raising=False)
    monkeypatch.setattr("hpo._trial._warned_artifact", False)
    (tmp_path / "f.txt").write_text("x")
    with pytest.warns(UserWarning, match="outside a trial"):
        hpo.log_artifact(tmp_path / "f.txt")


def test_the_config_key_chooses_the_folder(tmp_path: Path) -> None:
    db = tmp_path / "hpo.db"
    elsewhere = tmp_path / "shared" / "artifacts"
    hpo.sweep(logs_model, SPACE, trials=2, seed=1, store=db, artifacts=elsewhere)
    assert len(content_files(elsewhere)) == 3
    assert not (tmp_path / "hpo-artifacts").exists()
    with Store(db) as st:  # a reader finds the folder the sweep recorded it wrote to
        (record,) = [a for a in st.artifacts(1) if a.name == "model.txt"]
        assert st.locate_artifact(1, record.sha256) == str(
            elsewhere / record.sha256[:2] / record.sha256
        )


# --- command objectives and the CLI ----------------------------------------------------------

COMMAND_SCRIPT = """\
import json, os, sys
x = float(sys.argv[1])
number = os.environ["HPO_TRIAL_NUMBER"]
os.makedirs("out", exist_ok=True)
with open(f"out/weights-{number}.txt", "w") as f:
    f.write("weights\\n")
with open(os.environ["HPO_REPORT_FILE"], "a") as f:
    f.write(json.dumps({"artifact": f"out/weights-{number}.txt", "name": "weights.txt"}) + "\\n")
    f.write(json.dumps({"loss": x}) + "\\n")
if number == "2":
    with open(os.environ["HPO_REPORT_FILE"], "a") as f:
        f.write(json.dumps({"artifact": "out/nothing-here"}) + "\\n")
"""
CONFIG = """\
name: cmd
objective:
  command: [{python}, train.py, "{{x}}"]
metric: {{name: loss, goal: minimize}}
strategy: random
trials: 3
seed: 2
workers: {workers}
parameters:
  x: {{min: 0.0, max: 1.0}}
"""


@pytest.fixture(scope="module")
def command_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with hpo.db holding the command sweep ``cmd`` (2 local workers)."""
    where = tmp_path_factory.mktemp("cmd-artifacts")
    (where / "train.py").write_text(COMMAND_SCRIPT)
    (where / "sweep.yaml").write_text(CONFIG.format(python=json.dumps(sys.executable), workers=2))
    run = cli("sweep", "sweep.yaml", "--store", "hpo.db", "--no-progress", cwd=where)
    assert run.returncode == 0, run.stderr
    return where


def test_a_command_logs_artifacts_through_the_report_file(command_sweep: Path) -> None:
    logged = records(command_sweep / "hpo.db")
    assert all(list(logged[n]) == ["weights.txt"] for n in range(3))
    assert len({r["weights.txt"].sha256 for r in logged.values()}) == 1
    assert len(content_files(command_sweep / "hpo-artifacts")) == 1
    with Store(command_sweep / "hpo.db") as st:
        failed = st.get_trial("cmd:2")
    assert failed.state is TrialState.FAILED
    assert "out/nothing-here" in (failed.error or "")
    assert "no such file or folder" in (failed.error or "")


def test_hpo_artifacts_lists_and_copies_out(command_sweep: Path) -> None:
    listing = cli("artifacts", "cmd:0", "--store", "hpo.db", cwd=command_sweep)
    assert listing.returncode == 0, listing.stderr
    assert "weights.txt" in listing.stdout and "8 B" in listing.stdout
    with Store(command_sweep / "hpo.db") as st:
        (record,) = st.artifacts(st.get_trial("cmd:0").id)  # type: ignore[arg-type]
    assert record.sha256[:12] in listing.stdout
    as_json = cli("artifacts", "cmd:0", "--store", "hpo.db", "--format", "json", cwd=command_sweep)
    (entry,) = json.loads(as_json.stdout)
    assert entry["path"] == str(command_sweep / "hpo-artifacts" / record.sha256[:2] / record.sha256)
    copy = cli(
        "artifacts", "cmd:0", "weights.txt", "--to", "got/w.txt", "--store", "hpo.db",
        cwd=command_sweep,
    )  # fmt: skip
    assert copy.returncode == 0, copy.stderr
    assert (command_sweep / "got" / "w.txt").read_text() == "weights\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("artifacts", "cmd:9"), "no trial 'cmd:9'"),
        (("artifacts", "nosuch:0"), "no sweep 'nosuch'"),
        (("artifacts", "cmd:0", "weights", "--to", "x"), "no artifact 'weights'"),
        (("artifacts", "cmd:0", "weights.txt"), "give --to PATH"),
        (("code", "cmd:9", "--to", "x"), "no trial 'cmd:9'"),
        (("show", "cmd:9", "--diff"), "no trial 'cmd:9'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_traceback(
    command_sweep: Path, args: tuple[str, ...], message: str
) -> None:
    run = cli(*args, "--store", "hpo.db", cwd=command_sweep)
    assert run.returncode == 2
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_content_missing_from_the_folder_is_a_clear_error(
    command_sweep: Path, tmp_path: Path
) -> None:
    import shutil

    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(command_sweep / "hpo.db", copy / "hpo.db")
    moved = cli(
        "artifacts", "cmd:0", "weights.txt", "--to", "w.txt", "--store", "hpo.db",
        "--artifacts", str(tmp_path / "empty"), cwd=copy,
    )  # fmt: skip
    # the sweep's recorded folder still holds it: found there
    assert moved.returncode == 0, moved.stderr
    folder = command_sweep / "hpo-artifacts"
    folder.rename(command_sweep / "away")  # the recorded folder no longer holds it
    try:
        gone = cli(
            "artifacts", "cmd:0", "weights.txt", "--to", "w2.txt", "--store", "hpo.db", cwd=copy
        )
        assert gone.returncode == 2
        assert "is in none of the artifact folders" in gone.stderr
        assert "Traceback" not in gone.stderr
        listing = cli("artifacts", "cmd:0", "--store", "hpo.db", cwd=copy)
        assert "missing" in listing.stdout
    finally:
        (command_sweep / "away").rename(folder)


@pytest.mark.parametrize("name", ["/abs", "../up", "a/../../up", "a\\b", ""])
def test_a_name_that_is_not_a_plain_relative_path_is_refused(name: str) -> None:
    from trackers import ArtifactStore

    with pytest.raises(ArtifactError, match="relative path"):
        ArtifactStore("/nonexistent").log(__file__, name=name)


def test_copying_out_never_writes_outside_the_target_folder(
    command_sweep: Path, tmp_path: Path
) -> None:
    """A store can come from someone else's export: a recorded name that climbs out of the
    folder is refused, not followed."""
    import time

    from sqlalchemy import insert

    from trackers import _schema

    with Store(command_sweep / "hpo.db") as st:
        t = st.get_trial("cmd:0")
        (record,) = st.artifacts(t.id)  # type: ignore[arg-type]
        with st.session(write=True) as conn:
            conn.execute(
                insert(_schema.artifacts).values(
                    trial_id=t.id,
                    name="pack/../../escaped.txt",
                    sha256=record.sha256,
                    size=record.size,
                    created_at=time.time(),
                )
            )
    run = cli("artifacts", "cmd:0", "pack", "--to", "out", "--store", "hpo.db", cwd=command_sweep)
    assert run.returncode == 2
    assert "would be written outside out" in run.stderr
    assert not (command_sweep / "escaped.txt").exists()


# --- code recorded as blobs, shown by lineage, compare, show --diff and hpo code ------------

GIT_OBJECTIVE = """\
def train(x, trial):
    with open("model.bin", "w") as f:
        f.write("model")
    trial.log_artifact("model.bin")
    return x
"""
GIT_CONFIG = """\
name: {name}
objective: train.py:train
metric: {{name: loss, goal: minimize}}
strategy: random
trials: 2
seed: 1
parameters:
  x: {{min: 0.0, max: 1.0}}
"""


@pytest.fixture(scope="module")
def dirty_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository with two sweeps run from a dirty tree: ``one`` and ``two`` with the
    same diff and untracked helper, ``three`` after the helper changed."""
    import shutil

    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path_factory.mktemp("dirty")
    (repo / "train.py").write_text(GIT_OBJECTIVE)
    (repo / ".gitignore").write_text("*.db*\nhpo-*/\nmodel.bin\n*.yaml\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "train.py", ".gitignore")
    git(repo, "commit", "-q", "-m", "first")
    with open(repo / "train.py", "a") as f:
        f.write("# tuned\n")
    (repo / "helper.py").write_text("HELP = 1\n")
    (repo / "data.bin").write_bytes(b"\x00\x01binary")
    for name in ("one", "two", "three"):
        if name == "three":
            (repo / "helper.py").write_text("HELP = 2\n")
        (repo / f"{name}.yaml").write_text(GIT_CONFIG.format(name=name))
        run = cli("sweep", f"{name}.yaml", "--store", "hpo.db", "--no-progress", cwd=repo)
        assert run.returncode == 0, run.stderr
    return repo


def test_the_diff_and_untracked_files_are_stored_once_as_blobs(dirty_repo: Path) -> None:
    with Store(dirty_repo / "hpo.db") as st:
        envs = {
            name: st.get_environment(st.get_sweep(name).environment_id)  # type: ignore[arg-type]
            for name in ("one", "two", "three")
        }
        git_one, git_three = envs["one"]["git"], envs["three"]["git"]
        assert "diff" not in git_one  # only its hash is in the snapshot
        diff = st.get_blob(git_one["diff_sha256"])
        assert diff is not None and b"+# tuned" in diff
        assert git_three["diff_sha256"] == git_one["diff_sha256"]
        assert set(git_one["untracked"]) == {"data.bin", "helper.py"}
        assert git_one["untracked"]["data.bin"] is None  # binary: named, content not kept
        assert git_one["untracked_skipped"] == {"data.bin": "binary"}
        assert st.get_blob(git_one["untracked"]["helper.py"]) == b"HELP = 1\n"
        assert st.get_blob(git_three["untracked"]["helper.py"]) == b"HELP = 2\n"
        with st.session() as conn:
            from sqlalchemy import func, select

            from trackers import _schema

            blobs = conn.execute(select(func.count()).select_from(_schema.blobs)).scalar()
    assert blobs == 3  # one diff, two versions of helper.py: three sweeps share them


def test_lineage_shows_the_diff_summary_untracked_files_and_artifacts(dirty_repo: Path) -> None:
    page = cli("show", "one:0", "--lineage", "--store", "hpo.db", cwd=dirty_repo)
    assert page.returncode == 0, page.stderr
    text = page.stdout
    assert "1 file changed, +1 -0" in text
    assert "data.bin, helper.py" in text
    assert "Artifacts" in text and "model.bin" in text and "5 B sha256:" in text
    as_json = cli("show", "one:0", "--lineage", "--store", "hpo.db", "--format", "json",
                  cwd=dirty_repo)  # fmt: skip
    data = json.loads(as_json.stdout)
    assert data["code"]["files"] == {"train.py": "+1 -0"}
    assert list(data["artifacts"]) == ["model.bin"]


def test_compare_flags_changed_untracked_content_and_equal_artifacts(dirty_repo: Path) -> None:
    run = cli("compare", "one:0", "three:0", "--store", "hpo.db", "--all", "--format", "json",
              cwd=dirty_repo)  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = {(r["section"], r["field"]): r for r in json.loads(run.stdout)["rows"]}
    assert rows[("code", "diff")]["differs"] is False
    assert rows[("code", "untracked")]["differs"] is True  # helper.py's content changed
    assert rows[("artifacts", "model.bin")]["differs"] is False
    same = cli("compare", "one:0", "two:0", "--store", "hpo.db", "--format", "json",
               cwd=dirty_repo)  # fmt: skip
    differing = {(r["section"], r["field"]) for r in json.loads(same.stdout)["rows"]
                 if r["differs"]}  # fmt: skip
    assert not any(section == "code" for section, _ in differing)


def test_show_diff_prints_the_whole_recorded_diff(dirty_repo: Path) -> None:
    run = cli("show", "one:1", "--diff", "--store", "hpo.db", cwd=dirty_repo)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("diff --git a/train.py b/train.py")
    assert "+# tuned\n" in run.stdout


def test_hpo_code_writes_the_untracked_files_and_the_diff(dirty_repo: Path) -> None:
    run = cli("code", "three:0", "--to", "restored", "--store", "hpo.db", cwd=dirty_repo)
    assert run.returncode == 0, run.stderr
    out = dirty_repo / "restored"
    assert (out / "helper.py").read_text() == "HELP = 2\n"
    assert not (out / "data.bin").exists()
    assert "data.bin" in run.stdout
    assert "+# tuned" in (out / "hpo-dirty.diff").read_text()


def test_reading_an_old_inline_snapshot_still_works(tmp_path: Path) -> None:
    """Schema-3 snapshots kept the diff inline and untracked as a list."""
    from hpo._lineage import lineage, load

    with Store(tmp_path / "old.db") as st:
        env_id = st.add_environment(
            {
                "git": {
                    "commit": "a" * 40,
                    "dirty": True,
                    "diff": "diff --git a/m.py b/m.py\n@@ -1 +1 @@\n-a\n+b\n",
                    "untracked": ["x.py"],
                }
            }
        )
        sid = st.create_sweep(
            name="old", metric="loss", goal="minimize", strategy="random", strategy_options={},
            space={}, config={}, objective="f", executor="inline", environment_id=env_id,
        )  # fmt: skip
        from trackers import WriteBatch

        batch = WriteBatch(sid)
        batch.trial_started(0, {}, seed=1, environment_id=env_id)
        st.write(batch)
        page = lineage(load(st, "old:0"))
    from hpo._lineage import Section

    assert page[Section.CODE]["changes"] == "1 file changed, +1 -1"
    assert page[Section.CODE]["untracked"] == ["x.py"]
    run = cli("show", "old:0", "--diff", "--store", str(tmp_path / "old.db"), cwd=tmp_path)
    assert run.stdout == "diff --git a/m.py b/m.py\n@@ -1 +1 @@\n-a\n+b\n"
    code = cli("code", "old:0", "--to", "x", "--store", str(tmp_path / "old.db"), cwd=tmp_path)
    assert code.returncode == 2 and "only the names" in code.stderr


def test_protocol_lines_for_artifacts() -> None:
    from hpo._protocol import ArtifactLine, format_artifact, parse_line

    assert parse_line(format_artifact("a/b.pt", "m")) == (None, {}, ArtifactLine("a/b.pt", "m"))
    assert parse_line('{"artifact": "x"}') == (None, {}, ArtifactLine("x", None))
    with pytest.raises(ValueError, match="only 'artifact' and 'name'"):
        parse_line('{"artifact": "x", "loss": 1}')
    # only a string under "artifact" makes an artifact line: a number is a metric of that name
    assert parse_line('{"artifact": 3}') == (None, {"artifact": 3.0}, None)
    with pytest.raises(ValueError, match="empty string"):
        parse_line('{"artifact": ""}')


def test_config_key_and_command_line_choose_the_folder(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text(COMMAND_SCRIPT)
    config = CONFIG.format(python=json.dumps(sys.executable), workers=1)
    (tmp_path / "keyed.yaml").write_text(config + "artifacts: files/here\n")
    run = cli("sweep", "keyed.yaml", "--store", "hpo.db", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert len(content_files(tmp_path / "files" / "here")) == 1  # relative to the config
    flagged = cli("sweep", "keyed.yaml", "--store", "hpo.db", "--new", "--no-progress",
                  "--artifacts", "flag-dir", cwd=tmp_path)  # fmt: skip
    assert flagged.returncode == 0, flagged.stderr
    assert len(content_files(tmp_path / "flag-dir")) == 1
    assert not (tmp_path / "hpo-artifacts").exists()
    listing = cli("artifacts", "cmd-2:0", "--store", "hpo.db", cwd=tmp_path)
    assert str(tmp_path / "flag-dir") in listing.stdout  # the folder the sweep recorded


def test_show_lists_a_trials_artifacts(command_sweep: Path) -> None:
    page = cli("show", "cmd:1", "--store", "hpo.db", cwd=command_sweep)
    assert page.returncode == 0, page.stderr
    assert "Artifacts" in page.stdout and "weights.txt  8 B sha256:" in page.stdout
    data = json.loads(cli("show", "cmd:1", "--store", "hpo.db", "--format", "json",
                          cwd=command_sweep).stdout)  # fmt: skip
    assert [a["name"] for a in data["artifacts"]] == ["weights.txt"]

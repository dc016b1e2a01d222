"""The content-addressed artifact folder (``trackers._artifacts``) and the store's records."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from trackers import ArtifactError, ArtifactStore, Store, WriteBatch, default_artifact_root


def test_a_file_is_stored_under_its_hash_once(tmp_path: Path) -> None:
    folder = ArtifactStore(tmp_path / "art")
    (tmp_path / "a.bin").write_bytes(b"payload")
    (tmp_path / "b.bin").write_bytes(b"payload")
    (first,) = folder.log(tmp_path / "a.bin")
    (second,) = folder.log(tmp_path / "b.bin", name="renamed.bin")
    assert first.sha256 == second.sha256 and first.size == 7
    assert (first.name, second.name) == ("a.bin", "renamed.bin")
    files = [p for p in (tmp_path / "art").rglob("*") if p.is_file()]
    assert files == [tmp_path / "art" / first.sha256[:2] / first.sha256]
    assert files[0].read_bytes() == b"payload"


def test_concurrent_writers_of_the_same_content_leave_one_whole_file(tmp_path: Path) -> None:
    folder = ArtifactStore(tmp_path / "art")
    data = os.urandom(3 << 20)
    shas: list[str] = []
    threads = [
        threading.Thread(target=lambda: shas.append(folder.put_bytes(data))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(shas)) == 1
    files = [p for p in (tmp_path / "art").rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == data  # no temporary file left over


def test_a_folder_is_logged_file_by_file_with_posix_names(tmp_path: Path) -> None:
    src = tmp_path / "ckpt"
    (src / "inner").mkdir(parents=True)
    (src / "w.pt").write_bytes(b"w")
    (src / "inner" / "opt.pt").write_bytes(b"o")
    refs = ArtifactStore(tmp_path / "art").log(src)
    assert [r.name for r in refs] == ["ckpt/inner/opt.pt", "ckpt/w.pt"]
    named = ArtifactStore(tmp_path / "art").log(src, name="best/")
    assert [r.name for r in named] == ["best/inner/opt.pt", "best/w.pt"]


def test_a_missing_path_names_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match=r"'nope\.pt': no such file or folder") as info:
        ArtifactStore(tmp_path / "art").log("nope.pt")
    assert "log a file or folder that exists" in str(info.value)
    assert not (tmp_path / "art").exists()  # nothing written


def test_copy_out_of_missing_content_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not in the artifact folder"):
        ArtifactStore(tmp_path / "art").copy_out("ab" * 32, tmp_path / "x")


def test_default_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPO_ARTIFACTS", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_artifact_root("/x/runs/exp.db") == "/x/runs/exp-artifacts"
    assert default_artifact_root(None) == str(tmp_path / "data" / "hpo" / "artifacts")
    monkeypatch.setenv("HPO_ARTIFACTS", str(tmp_path / "env"))
    assert default_artifact_root("/x/runs/exp.db") == str(tmp_path / "env")
    with Store(tmp_path / "s.db", artifacts=tmp_path / "given") as st:
        assert st.artifact_root == str(tmp_path / "given")


def test_the_last_record_of_a_name_wins_across_batches(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as st:
        sid = st.create_sweep(
            name="s", metric="loss", goal="minimize", strategy="random", strategy_options={},
            space={}, config={}, objective="f", executor="inline",
        )  # fmt: skip
        batch = WriteBatch(sid)
        batch.trial_started(0, {}, seed=1)
        batch.artifact(0, "m", "a" * 64, 1, 1.0)
        batch.artifact(0, "m", "b" * 64, 2, 2.0)  # same batch
        st.write(batch)
        batch.artifact(0, "m", "c" * 64, 3, 3.0)  # a later batch
        batch.artifact(0, "other", "a" * 64, 1, 3.0)
        st.write(batch)
        records = st.artifacts(st.get_trial("s:0").id)  # type: ignore[arg-type]
    assert [(r.name, r.sha256[0], r.size) for r in records] == [("m", "c", 3), ("other", "a", 1)]

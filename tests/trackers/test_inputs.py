"""Hashing declared input data: files, globs, folders, the size+mtime cache, env vars, CUDA."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import types
from pathlib import Path
from typing import IO

import pytest

from trackers import InputsError, capture_environment, environment_hash, hash_inputs
from trackers._inputs import CHUNK_BYTES, default_cache_path


class CountingOpener:
    """Opens files like the default and remembers which it opened: the proof of a read."""

    def __init__(self) -> None:
        self.opened: list[Path] = []

    def __call__(self, path: Path) -> IO[bytes]:
        self.opened.append(path)
        return open(path, "rb")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.csv").write_bytes(b"x,y\n1,2\n")
    (tmp_path / "data" / "b.csv").write_bytes(b"x,y\n3,4\n")
    (tmp_path / "data" / "notes.txt").write_bytes(b"not a csv")
    return tmp_path


def test_glob_hashes_each_match_with_size_and_totals(data: Path, tmp_path: Path) -> None:
    record = hash_inputs(["data/*.csv"], data, cache=tmp_path / "cache.json")
    assert record["patterns"] == ["data/*.csv"]
    assert record["entries"] == {
        "data/a.csv": {"size": 8, "sha256": sha(b"x,y\n1,2\n")},
        "data/b.csv": {"size": 8, "sha256": sha(b"x,y\n3,4\n")},
    }
    assert record["total_bytes"] == 16 and record["total_files"] == 2


def test_a_file_larger_than_a_chunk_hashes_like_hashlib(tmp_path: Path) -> None:
    blob = os.urandom(CHUNK_BYTES * 2 + 17)
    (tmp_path / "big.bin").write_bytes(blob)
    record = hash_inputs(["big.bin"], tmp_path, cache=tmp_path / "cache.json")
    assert record["entries"]["big.bin"] == {"size": len(blob), "sha256": sha(blob)}


def test_a_folder_is_one_entry_whose_hash_covers_names_and_contents(data: Path) -> None:
    cache = data / "cache.json"
    first = hash_inputs(["data"], data, cache=cache)["entries"]["data"]
    assert first["files"] == 3 and first["size"] == 8 + 8 + 9
    (data / "data" / "notes.txt").rename(data / "data" / "renamed.txt")
    renamed = hash_inputs(["data"], data, cache=cache)["entries"]["data"]
    assert renamed["size"] == first["size"] and renamed["sha256"] != first["sha256"]


def test_unchanged_files_are_not_read_again(data: Path) -> None:
    cache = data / "cache.json"
    opener = CountingOpener()
    first = hash_inputs(["data/*.csv"], data, cache=cache, opener=opener)
    assert sorted(p.name for p in opener.opened) == ["a.csv", "b.csv"]
    assert str(data / "data" / "a.csv") in json.loads(cache.read_text())
    opener.opened.clear()
    again = hash_inputs(["data/*.csv"], data, cache=cache, opener=opener)
    assert opener.opened == [] and again == first


def test_the_cache_trusts_size_and_mtime_and_a_new_mtime_rehashes(data: Path) -> None:
    cache = data / "cache.json"
    target = data / "data" / "a.csv"
    before = hash_inputs(["data/a.csv"], data, cache=cache)["entries"]["data/a.csv"]
    stat = target.stat()
    target.write_bytes(b"x,y\n9,9\n")  # same size
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    cached = hash_inputs(["data/a.csv"], data, cache=cache)["entries"]["data/a.csv"]
    assert cached == before  # proof the content was not read
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    fresh = hash_inputs(["data/a.csv"], data, cache=cache)["entries"]["data/a.csv"]
    assert fresh["sha256"] == sha(b"x,y\n9,9\n") != before["sha256"]


def test_a_corrupt_cache_is_ignored_and_rewritten(data: Path) -> None:
    cache = data / "cache.json"
    cache.write_text("{not json")
    record = hash_inputs(["data/a.csv"], data, cache=cache)
    assert record["entries"]["data/a.csv"]["sha256"] == sha(b"x,y\n1,2\n")
    assert str(data / "data" / "a.csv") in json.loads(cache.read_text())


def test_a_pattern_matching_nothing_names_itself(data: Path) -> None:
    with pytest.raises(InputsError, match=r"'data/\*\.parquet' matches no file") as info:
        hash_inputs(["data/*.csv", "data/*.parquet"], data, cache=data / "c.json")
    assert info.value.pattern == "data/*.parquet" and info.value.index == 1
    soft = hash_inputs(
        ["data/*.parquet", "data/a.csv"], data, cache=data / "c.json", missing_ok=True
    )
    assert soft["missing"] == ["data/*.parquet"] and list(soft["entries"]) == ["data/a.csv"]


def test_default_cache_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HPO_INPUTS_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "hpo" / "inputs.json"
    monkeypatch.setenv("HPO_INPUTS_CACHE", str(tmp_path / "mine.json"))
    assert default_cache_path() == tmp_path / "mine.json"


def test_capture_records_inputs_allow_listed_env_vars_only_and_stays_stable(
    data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPO_INPUTS_CACHE", str(data / "cache.json"))
    monkeypatch.setenv("MY_DATASET_VERSION", "v3")
    monkeypatch.setenv("MY_SECRET_TOKEN", "hunter2")
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)

    def snap() -> dict[str, object]:
        return capture_environment(
            cwd=data,
            argv=["x"],
            include_packages=False,
            inputs=["data/*.csv"],
            env_vars=["MY_DATASET_VERSION", "NOT_SET_ANYWHERE"],
        )

    first = snap()
    assert first["env_vars"] == {"MY_DATASET_VERSION": "v3", "NOT_SET_ANYWHERE": None}
    assert "hunter2" not in json.dumps(first)
    assert first["inputs"]["total_files"] == 2  # type: ignore[index]
    assert environment_hash(snap()) == environment_hash(first)
    with pytest.raises(InputsError, match=r"'nothing\.csv'"):
        capture_environment(cwd=data, include_packages=False, inputs=["nothing.csv"])


def test_cuda_comes_from_nvidia_smi_and_an_already_imported_torch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi (and no git) on this PATH
    assert capture_environment(cwd=tmp_path, include_packages=False)["cuda"] is None
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA H100 80GB HBM3, 81559, 550.54.15'\n")
    fake.chmod(0o755)
    torch = types.ModuleType("torch")
    torch.version = types.SimpleNamespace(cuda="12.4")  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    snap = capture_environment(cwd=tmp_path, include_packages=False)
    assert snap["cuda"] == {"driver": "550.54.15", "runtime": "12.4"}

"""Environment capture against real git repositories made in tmp_path."""

from __future__ import annotations

import copy
import importlib.metadata
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from trackers import _git
from trackers._environment import (
    _parse_gpus,
    capture_environment,
    diff_environments,
    environment_hash,
)
from trackers._git import resolve_code

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _isolated_git_config(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The developer's own git config (excludesFile, hooks, defaultBranch) must not leak in.
    home = tmp_path_factory.mktemp("home")
    empty = home / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for var in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(var, raising=False)


def git(repo: Path, *args: str) -> str:
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.com",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.com",
    )
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit: a.txt and a .gitignore ignoring *.log."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("old line\n")
    (root / ".gitignore").write_text("*.log\n")
    git(root, "add", "a.txt", ".gitignore")
    git(root, "commit", "-q", "-m", "first")
    return root


def git_of(cwd: Path) -> dict:
    """The snapshot's git section with the diff read back from its blob, as text."""
    snapshot = capture_environment(cwd=cwd, include_packages=False)
    assert "git_error" not in snapshot, snapshot.get("git_error")
    assert "diff" not in snapshot["git"]  # only its hash is in the snapshot
    return resolve_code(snapshot, snapshot.blobs.get)["git"]


def test_clean_repo(repo: Path) -> None:
    info = git_of(repo)
    assert info["root"] == str(repo.resolve())
    assert info["commit"] == git(repo, "rev-parse", "HEAD")
    assert len(info["commit"]) == 40
    assert info["branch"] == "main"
    assert info["dirty"] is False
    assert info["diff"] == ""
    assert info["diff_truncated"] is False
    assert list(info["untracked"]) == []


def test_subdirectory_reports_the_repository_root(repo: Path) -> None:
    (repo / "sub").mkdir()
    assert git_of(repo / "sub")["root"] == str(repo.resolve())


def test_modified_tracked_file(repo: Path) -> None:
    (repo / "a.txt").write_text("new line\n")
    info = git_of(repo)
    assert info["dirty"] is True
    assert "-old line" in info["diff"]
    assert "+new line" in info["diff"]
    assert list(info["untracked"]) == []


def test_staged_change_is_in_the_diff(repo: Path) -> None:
    (repo / "b.txt").write_text("staged\n")
    git(repo, "add", "b.txt")
    info = git_of(repo)
    assert info["dirty"] is True
    assert "+staged" in info["diff"]
    assert list(info["untracked"]) == []


def test_untracked_file_is_listed(repo: Path) -> None:
    (repo / "sub").mkdir()
    (repo / "sub" / "new.py").write_text("x = 1\n")
    (repo / "top.txt").write_text("y\n")
    info = git_of(repo)
    assert info["dirty"] is True
    assert list(info["untracked"]) == ["sub/new.py", "top.txt"]
    assert info["diff"] == ""


def test_ignored_file_is_not_listed(repo: Path) -> None:
    (repo / "run.log").write_text("noise\n")
    info = git_of(repo)
    assert list(info["untracked"]) == []
    assert info["dirty"] is False


def test_untracked_list_is_capped(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_git, "UNTRACKED_CAP", 3)
    for i in range(5):
        (repo / f"u{i}.txt").write_text("u\n")
    info = git_of(repo)
    assert list(info["untracked"]) == ["u0.txt", "u1.txt", "u2.txt"]
    assert info["untracked_truncated"] is True


def test_diff_is_capped(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_git, "DIFF_CAP_BYTES", 100)
    (repo / "a.txt").write_text("".join(f"line {i}\n" for i in range(200)))
    info = git_of(repo)
    assert info["diff_truncated"] is True
    assert len(info["diff"].encode()) == 100
    assert info["diff"].startswith("diff --git a/a.txt b/a.txt")


def test_repo_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "trunk")
    (tmp_path / "loose.txt").write_text("loose\n")
    (tmp_path / "staged.txt").write_text("staged\n")
    git(tmp_path, "add", "staged.txt")
    info = git_of(tmp_path)
    assert info["commit"] is None
    assert info["branch"] == "trunk"
    assert info["dirty"] is True
    assert list(info["untracked"]) == ["loose.txt"]
    assert "+staged" in info["diff"]


def test_detached_head_has_no_branch(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    info = git_of(repo)
    assert info["branch"] is None
    assert info["commit"] == git(repo, "rev-parse", "HEAD")


def test_not_a_repository(tmp_path: Path) -> None:
    snapshot = capture_environment(cwd=tmp_path, include_packages=False)
    assert snapshot["git"] is None
    assert "git_error" not in snapshot


def test_inside_dot_git_there_is_no_work_tree(repo: Path) -> None:
    snapshot = capture_environment(cwd=repo / ".git", include_packages=False)
    assert snapshot["git"] is None
    assert "git_error" not in snapshot


def test_no_git_on_path(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_bin = tmp_path / "empty_bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    snapshot = capture_environment(cwd=repo, include_packages=False)
    assert snapshot["git"] is None
    assert "git_error" not in snapshot
    assert snapshot["gpus"] == []
    assert "gpu_error" not in snapshot


def test_git_failure_is_recorded_not_raised(repo: Path) -> None:
    (repo / ".git" / "index").write_bytes(b"this is not an index")
    snapshot = capture_environment(cwd=repo, include_packages=False)
    assert "index" in snapshot["git_error"]
    # What was read before the failure stays on record.
    assert snapshot["git"]["commit"] == git(repo, "rev-parse", "HEAD")


def test_git_dir_in_the_environment_does_not_redirect(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    git(other, "init", "-q")
    monkeypatch.setenv("GIT_DIR", str(other / ".git"))
    assert git_of(repo)["root"] == str(repo.resolve())


def test_hash_is_stable_and_follows_changes(repo: Path) -> None:
    first = capture_environment(cwd=repo, argv=["hpo", "sweep"])
    second = capture_environment(cwd=repo, argv=["hpo", "sweep"])
    assert first == second
    assert environment_hash(first) == environment_hash(second)
    (repo / "a.txt").write_text("changed\n")
    third = capture_environment(cwd=repo, argv=["hpo", "sweep"])
    assert environment_hash(third) != environment_hash(first)


def test_hash_ignores_key_order() -> None:
    assert environment_hash({"a": 1, "b": [1, "é"]}) == environment_hash({"b": [1, "é"], "a": 1})
    assert len(environment_hash({})) == 64


def test_snapshot_is_json_serialisable(repo: Path) -> None:
    (repo / "a.txt").write_bytes(b"not utf-8: \xff\xfe\n")
    snapshot = capture_environment(cwd=repo)
    assert json.loads(json.dumps(snapshot, ensure_ascii=False)) == snapshot


def test_shape_of_the_snapshot(repo: Path) -> None:
    snapshot = capture_environment(cwd=repo, argv=["hpo", "sweep", "c.yaml"])
    assert snapshot["argv"] == ["hpo", "sweep", "c.yaml"]
    assert snapshot["cwd"] == str(repo)
    assert snapshot["python"]["version"].count(".") == 2
    assert set(snapshot["os"]) == {"system", "release", "version", "machine", "platform"}
    assert snapshot["cpu"]["logical_cores"] == os.cpu_count()
    assert isinstance(snapshot["gpus"], list)
    assert "cuda_visible_devices" in snapshot
    assert snapshot["memory_bytes"] is None or snapshot["memory_bytes"] > 0


def test_packages_have_their_installed_versions() -> None:
    packages = capture_environment(include_packages=True)["packages"]
    assert packages["numpy"] == importlib.metadata.version("numpy")
    assert packages["sqlalchemy"] == importlib.metadata.version("sqlalchemy")
    assert list(packages) == sorted(packages)
    assert all(name == name.lower() and "_" not in name for name in packages)


def test_packages_can_be_left_out() -> None:
    assert capture_environment(include_packages=False)["packages"] == {}


def test_parse_nvidia_smi_output() -> None:
    text = "NVIDIA H100 80GB HBM3, 81559, 550.54.15\nTesla T4, [N/A], 470.1\n\n"
    assert _parse_gpus(text) == [
        {"name": "NVIDIA H100 80GB HBM3", "memory_mb": 81559, "driver": "550.54.15"},
        {"name": "Tesla T4", "memory_mb": None, "driver": "470.1"},
    ]


def test_diff_of_equal_snapshots_is_empty(repo: Path) -> None:
    snapshot = capture_environment(cwd=repo)
    assert diff_environments(snapshot, copy.deepcopy(snapshot)) == {}


def test_diff_environments_names_what_changed(repo: Path) -> None:
    a = capture_environment(cwd=repo, argv=["hpo"])
    b = copy.deepcopy(a)
    b["python"]["version"] = "9.9.9"
    b["packages"]["numpy"] = "0.0.1"
    b["packages"]["brand-new"] = "1.0"
    del b["packages"]["sqlalchemy"]
    b["git"]["commit"] = "f" * 40
    b["git"]["dirty"] = True
    b["hostname"] = "elsewhere"

    diff = diff_environments(a, b)

    assert diff["python"] == (a["python"], b["python"])
    assert diff["packages"] == {
        "added": {"brand-new": "1.0"},
        "removed": {"sqlalchemy": a["packages"]["sqlalchemy"]},
        "changed": {"numpy": (a["packages"]["numpy"], "0.0.1")},
    }
    assert diff["git"] == {
        "commit": (a["git"]["commit"], "f" * 40),
        "dirty": (False, True),
    }
    assert diff["hostname"] == (a["hostname"], "elsewhere")
    assert set(diff) == {"python", "packages", "git", "hostname"}


def test_diff_when_one_side_has_no_git(repo: Path) -> None:
    a = capture_environment(cwd=repo, argv=[], include_packages=False)
    b = dict(a, git=None)
    diff = diff_environments(a, b)
    assert diff["git"]["commit"] == (a["git"]["commit"], None)
    assert set(diff) == {"git"}


def test_untracked_text_is_kept_by_hash_and_binary_or_large_files_are_named_only(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_git, "UNTRACKED_FILE_CAP", 100)
    monkeypatch.setattr(_git, "UNTRACKED_TOTAL_CAP", 150)
    (repo / "a_small.py").write_text("x = 1\n")
    (repo / "b_blob.bin").write_bytes(b"\x00\x01\x02")
    (repo / "c_large.py").write_text("#" * 101)
    (repo / "d_fills.py").write_text("y" * 99)
    (repo / "e_over_total.py").write_text("z" * 60)  # 6 + 99 + 60 > 150
    snapshot = capture_environment(cwd=repo, include_packages=False)
    info = snapshot["git"]
    small = info["untracked"]["a_small.py"]
    assert snapshot.blobs[small] == b"x = 1\n"
    assert snapshot.blobs[info["untracked"]["d_fills.py"]] == b"y" * 99
    assert {p for p, sha in info["untracked"].items() if sha is None} == {
        "b_blob.bin",
        "c_large.py",
        "e_over_total.py",
    }
    skipped = info["untracked_skipped"]
    assert skipped["b_blob.bin"] == "binary"
    assert "larger than" in skipped["c_large.py"]
    assert "truncated" in skipped["e_over_total.py"]


def test_the_same_code_is_one_blob_in_the_store(repo: Path, tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from trackers import Store, _schema

    (repo / "a.txt").write_text("changed\n")
    (repo / "new.py").write_text("print(1)\n")
    first = capture_environment(cwd=repo, include_packages=False)
    second = capture_environment(cwd=repo, include_packages=False, argv=["other"])
    assert first["git"] == second["git"] and first != second  # two snapshots, one code
    with Store(tmp_path / "s.db") as st:
        ids = {st.add_environment(first), st.add_environment(second)}
        with st.session() as conn:
            blobs = conn.execute(select(func.count()).select_from(_schema.blobs)).scalar()
        assert st.get_blob(first["git"]["diff_sha256"]) == first.blobs[first["git"]["diff_sha256"]]
    assert len(ids) == 2 and blobs == 2  # the diff and new.py, once each


# --- hpo's own files (store, artifacts, checkpoints) left out of the git state --------------

STORE_FILES = ("hpo.db", "hpo.db-journal", "hpo.db-wal", "hpo.db-shm")


def _write_hpo_files(root: Path) -> list[Path]:
    """What a sweep with a ``./hpo.db`` store leaves in the work tree; returns the paths hpo
    passes as ``exclude`` (the store's files, the artifact and checkpoint folders)."""
    for name in STORE_FILES:
        (root / name).write_bytes(b"SQLite format 3\0" + name.encode())
    (root / "hpo-artifacts" / "ab").mkdir(parents=True)
    (root / "hpo-artifacts" / "ab" / "abcdef").write_text("an artifact\n")
    (root / "hpo-checkpoints" / "demo-1" / "trial-0").mkdir(parents=True)
    (root / "hpo-checkpoints" / "demo-1" / "trial-0" / "model.pt").write_text("weights\n")
    return [root / n for n in STORE_FILES] + [root / "hpo-artifacts", root / "hpo-checkpoints"]


def test_hpo_files_alone_do_not_make_the_tree_dirty(repo: Path) -> None:
    own = _write_hpo_files(repo)
    # without the exclusion they would: the case this guards against
    assert git_of(repo)["dirty"] is True
    snapshot = capture_environment(cwd=repo, include_packages=False, exclude=own)
    info = snapshot["git"]
    assert info["dirty"] is False
    assert info["untracked"] == {}
    assert "untracked_skipped" not in info
    assert info["diff_sha256"] is None
    assert snapshot.blobs == {}  # nothing of hpo's files is stored as code
    assert info["excluded"] == sorted([*STORE_FILES, "hpo-artifacts", "hpo-checkpoints"])


def test_real_untracked_file_keeps_the_tree_dirty_and_alone_listed(repo: Path) -> None:
    own = _write_hpo_files(repo)
    (repo / "helper.py").write_text("X = 1\n")
    snapshot = capture_environment(cwd=repo, include_packages=False, exclude=own)
    info = snapshot["git"]
    assert info["dirty"] is True
    assert list(info["untracked"]) == ["helper.py"]
    assert snapshot.blobs[info["untracked"]["helper.py"]] == b"X = 1\n"


def test_modified_tracked_file_keeps_the_tree_dirty_with_its_diff(repo: Path) -> None:
    own = _write_hpo_files(repo)
    (repo / "a.txt").write_text("new line\n")
    snapshot = capture_environment(cwd=repo, include_packages=False, exclude=own)
    info = resolve_code(snapshot, snapshot.blobs.get)["git"]
    assert info["dirty"] is True and info["untracked"] == {}
    assert "+new line" in info["diff"] and "hpo.db" not in info["diff"]


def test_a_committed_store_file_that_changed_is_left_out_of_the_diff(repo: Path) -> None:
    (repo / "hpo.db").write_bytes(b"v1\0")
    git(repo, "add", "hpo.db")
    git(repo, "commit", "-q", "-m", "store")
    (repo / "hpo.db").write_bytes(b"v2\0")
    assert git_of(repo)["dirty"] is True
    info = capture_environment(cwd=repo, include_packages=False, exclude=[repo / "hpo.db"])["git"]
    assert info["dirty"] is False and info["diff_sha256"] is None


def test_excluded_paths_are_relative_to_cwd_and_outside_ones_are_not_recorded(
    repo: Path, tmp_path: Path
) -> None:
    sub = repo / "experiments"
    sub.mkdir()
    (sub / "hpo.db").write_bytes(b"\0")
    (sub / "weXird.db").write_text("kept\n")
    outside = tmp_path / "elsewhere" / "hpo.db"
    # the name is taken literally: its '*' matches no other file
    info = git_of_excluding(sub, ["hpo.db", "we*ird.db", outside])
    assert info["excluded"] == ["experiments/hpo.db", "experiments/we*ird.db"]
    assert list(info["untracked"]) == ["experiments/weXird.db"]


def test_nothing_excluded_keeps_the_old_shape(repo: Path) -> None:
    info = git_of_excluding(repo, [repo.parent / "hpo.db"])  # outside the tree
    assert "excluded" not in info
    assert info == git_of_excluding(repo, [])


def git_of_excluding(cwd: Path, exclude: list[str | Path]) -> dict:
    snapshot = capture_environment(cwd=cwd, include_packages=False, exclude=exclude)
    assert "git_error" not in snapshot, snapshot.get("git_error")
    return dict(snapshot["git"])

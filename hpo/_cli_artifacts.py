"""``hpo artifacts`` (a trial's logged files: list, copy out) and ``hpo code`` (the dirty
diff and untracked files recorded with a trial, written out)."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from hpo._cli_common import FORMAT_OPTION, STORE_OPTION, OutputFormat, open_for_reading, out
from hpo._lineage_summary import human_size
from hpo.reports._tables import dumps
from trackers import (
    ArtifactError,
    ArtifactRecord,
    NotFoundError,
    Store,
    resolve_code,
)
from trackers._artifacts import locate

#: The name `hpo code --to` gives the recorded diff inside the folder.
DIFF_FILE = "hpo-dirty.diff"

ARTIFACTS_OPTION = click.option(
    "--artifacts",
    "artifacts_dir",
    metavar="DIR",
    help="Artifact folder to read from/write to (default: where the sweep recorded it wrote, "
    "else $HPO_ARTIFACTS, else <store>-artifacts/ beside a SQLite store).",
)


def open_store(store: str | None, artifacts_dir: str | None) -> Store:
    """An existing store, with the artifact folder given on the command line, if any."""
    opened = open_for_reading(store)
    if artifacts_dir is None:
        return opened
    opened.close()
    return Store(store, artifacts=artifacts_dir)


@click.command(name="artifacts")
@click.argument("trial")
@click.argument("name", required=False)
@click.option(
    "--to",
    "dest",
    metavar="PATH",
    help="Copy artifact NAME to PATH (a folder artifact's files go under PATH/).",
)
@STORE_OPTION
@ARTIFACTS_OPTION
@FORMAT_OPTION
def artifacts_command(
    trial: str,
    name: str | None,
    dest: str | None,
    store: str | None,
    artifacts_dir: str | None,
    fmt: str,
) -> int:
    """List the artifacts TRIAL logged (id or SWEEP:NUMBER), or copy artifact NAME out with
    --to PATH. NAME may be a folder artifact's name: every file logged under it is copied."""
    with open_store(store, artifacts_dir) as st:
        t = st.get_trial(trial)
        trial_id, sweep_id = t.stored_ids()
        label = f"{st.get_sweep(sweep_id).name}:{t.number}"
        records = st.artifacts(trial_id)
        roots = st.artifact_roots(sweep_id)
        if name is None:
            if dest is not None:
                raise click.UsageError("--to needs the NAME of the artifact to copy")
            located = {a.sha256: _path(roots, a.sha256) for a in records}
            _print_list(label, records, located, OutputFormat(fmt))
            return 0
        chosen = _matching(records, name, label)
        if dest is None:
            raise click.UsageError(f"give --to PATH to copy artifact {name!r} out")
        for a in chosen:
            found = locate(roots, a.sha256)
            if found is None:
                raise ArtifactError(
                    f"artifact {a.name!r} of trial {label} (sha256 {a.sha256[:12]}...) is "
                    f"recorded, but its content is in none of the artifact folders "
                    f"{', '.join(roots)}: "
                    "pass --artifacts DIR naming the folder the sweep wrote to"
                )
            target = Path(dest) if a.name == name else Path(dest, a.name[len(name) + 1 :])
            if a.name != name and not target.resolve().is_relative_to(Path(dest).resolve()):
                # names come from the store, which may come from someone else's export
                raise ArtifactError(
                    f"artifact {a.name!r} of trial {label} would be written outside {dest}: "
                    "its name climbs out of the folder; copy it by its full name instead"
                )
            found.copy_out(a.sha256, target)
            out.print(f"{a.name} -> {target} ({human_size(a.size)})")
    return 0


def _path(roots: list[str], sha256: str) -> str | None:
    found = locate(roots, sha256)
    return None if found is None else str(found.path_of(sha256))


def _matching(records: list[ArtifactRecord], name: str, label: str) -> list[ArtifactRecord]:
    exact = [a for a in records if a.name == name]
    if exact:
        return exact
    prefix = name.rstrip("/") + "/"
    under = [a for a in records if a.name.startswith(prefix)]
    if under:
        return under
    names = [a.name for a in records]
    if not names:
        raise NotFoundError(f"trial {label} logged no artifacts")
    hint = difflib.get_close_matches(name, names, n=1)
    extra = f" (did you mean {hint[0]!r}?)" if hint else ""
    raise NotFoundError(
        f"trial {label} has no artifact {name!r}{extra}; `hpo artifacts {label}` lists them"
    )


def _print_list(
    label: str,
    records: list[ArtifactRecord],
    located: dict[str, str | None],
    fmt: OutputFormat,
) -> None:
    if fmt is OutputFormat.JSON:
        click.echo(
            dumps(
                [
                    {
                        "name": a.name,
                        "size": a.size,
                        "sha256": a.sha256,
                        "created_at": a.created_at,
                        "path": located[a.sha256],
                    }
                    for a in records
                ]
            )
        )
        return
    if not records:
        out.print(f"trial {label} logged no artifacts")
        return
    table = Table(title=f"artifacts of {label}", box=box.SIMPLE_HEAD, header_style="bold")
    table.add_column("name", overflow="fold")
    table.add_column("size", justify="right")
    table.add_column("sha256")
    table.add_column("stored at", overflow="fold")
    for a in records:
        where = located[a.sha256]
        table.add_row(
            a.name,
            human_size(a.size),
            a.sha256[:12],
            where or "[red]missing[/red] (--artifacts DIR)",
        )
    out.print(table)


@click.command(name="code")
@click.argument("trial")
@click.option(
    "--to",
    "dest",
    metavar="DIR",
    required=True,
    help=f"Folder to write the untracked files (at their paths) and the diff ({DIFF_FILE}) to.",
)
@STORE_OPTION
def code_command(trial: str, dest: str, store: str | None) -> int:
    """Write out the code recorded with TRIAL: the untracked files of its git tree (as they
    were) and its dirty diff (apply it on the recorded commit with `git apply`)."""
    with open_for_reading(store) as st:
        t = st.get_trial(trial)
        label = f"{st.get_sweep(t.stored_ids()[1]).name}:{t.number}"
        env = st.get_environment(t.environment_id) if t.environment_id else {}
        git: dict[str, Any] = dict(env.get("git") or {})
        if not git:
            raise NotFoundError(f"trial {label} recorded no git tree: there is no code to write")
        untracked = git.get("untracked") or {}
        if not isinstance(untracked, dict):
            raise NotFoundError(
                f"trial {label} was recorded before hpo kept file contents (schema 3): only the "
                "names of its untracked files are known; `hpo show --diff` prints its diff"
            )
        root = Path(dest)
        written = 0
        skipped: list[str] = []
        for rel, sha in untracked.items():
            data = st.get_blob(sha) if sha else None
            if data is None:
                skipped.append(rel)
                continue
            target = (root / rel).resolve()
            if not target.is_relative_to(root.resolve()):  # a path from a store is input
                skipped.append(rel)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            written += 1
        diff = resolve_code(env, st.get_blob).get("git", {}).get("diff") or ""
    if diff:
        root.mkdir(parents=True, exist_ok=True)
        (root / DIFF_FILE).write_text(diff, encoding="utf-8")
    commit = git.get("commit") or "no commit"
    out.print(
        f"trial {label} (commit {commit}): {written} untracked file{'s' * (written != 1)} "
        f"written to {root}" + (f", diff in {root / DIFF_FILE}" if diff else ", no diff")
    )
    if skipped:
        out.print(f"not stored (binary, too large or over the cap): {', '.join(skipped)}")
    return 0

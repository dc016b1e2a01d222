"""``hpo export`` and ``hpo import``: a sweep to one portable file and back into a store."""

from __future__ import annotations

import os
import re

import click

from hpo._cli_artifacts import ARTIFACTS_OPTION, open_store
from hpo._cli_common import STORE_OPTION, err, out
from hpo._lineage_summary import human_size
from trackers import Store, TransferSummary, export_sweep, import_sweep, read_document

#: What `hpo export` writes when not told where: ``<sweep name>`` + this.
DEFAULT_SUFFIX = ".hpo.json.gz"


@click.command(name="export")
@click.argument("sweep_ref", metavar="SWEEP")
@STORE_OPTION
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    help=f"Where to write (default: <sweep name>{DEFAULT_SUFFIX}); gzip-compressed when FILE "
    "ends in .gz; '-' for stdout (plain JSON).",
)
@click.option(
    "--no-artifacts",
    is_flag=True,
    help="Leave the artifacts' file contents out (their names and hashes still go).",
)
@ARTIFACTS_OPTION
def export(
    sweep_ref: str,
    store: str | None,
    output: str | None,
    no_artifacts: bool = False,
    artifacts_dir: str | None = None,
) -> int:
    """Export SWEEP (name or id) to one portable file.

    The file holds the sweep with its trials, metric series, environments (with the recorded
    code: dirty diff, untracked files), events, and its artifacts' records and files, for
    `hpo import` into another store."""
    with open_store(store, artifacts_dir) as st:
        if output is None:
            output = _file_name(st.get_sweep(sweep_ref).name) + DEFAULT_SUFFIX
        done = export_sweep(st, sweep_ref, output, artifacts=not no_artifacts)
    where = "stdout" if output == "-" else f"{output} ({human_size(os.path.getsize(output))})"
    # With the file on stdout, the summary must not end up inside it.
    (err if output == "-" else out).print(
        f"exported sweep {done.name!r}: {done.trials:,} trials, {done.metric_points:,} metric "
        f"points, {done.environments} environment{'s' * (done.environments != 1)}, "
        f"{done.artifacts:,} artifacts ({_files(done, no_artifacts)}) to {where}"
    )
    if done.missing_files:
        err.print(
            f"warning: {done.missing_files} artifact file(s) were not in any artifact folder and "
            "are not in the export; pass --artifacts DIR naming the folder the sweep wrote to"
        )
    return 0


def _files(done: TransferSummary, left_out: bool) -> str:
    if left_out:
        return "files left out"
    return f"{done.artifact_files} file{'s' * (done.artifact_files != 1)}"


@click.command(name="import")
@click.argument("file", metavar="FILE")
@STORE_OPTION
@click.option(
    "--name",
    metavar="NEW",
    help="Name of the imported sweep (default: its own, or NAME-2... if the store has it).",
)
@ARTIFACTS_OPTION
def import_(
    file: str, store: str | None, name: str | None, artifacts_dir: str | None = None
) -> int:
    """Import a sweep file into the store.

    FILE (written by `hpo export`; '-' for stdin) becomes a new sweep with every trial,
    metric series, environment, event and artifact; artifact files go to the store's
    artifact folder. Its event log records where it came from."""
    # Read and check the file before the store is opened: a file that is not a sweep export
    # must not leave behind a new, empty store.
    doc = read_document(file)
    with Store(store, artifacts=artifacts_dir) as st:
        done = import_sweep(st, doc, name=name, label="<stdin>" if file == "-" else file)
        url = st.url
    envs = f"{done.environments} environment{'s' * (done.environments != 1)}"
    out.print(
        f"imported sweep {done.name!r} (id {done.sweep_id}) into {url}: {done.trials:,} trials, "
        f"{done.metric_points:,} metric points, {envs} ({done.new_environments} new), "
        f"{done.artifacts:,} artifacts ({_files(done, False)})"
    )
    return 0


def _file_name(sweep_name: str) -> str:
    # A sweep name may hold '/' or other characters a file name should not.
    return re.sub(r"[^\w.+-]+", "_", sweep_name).strip("._") or "sweep"

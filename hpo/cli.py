"""The ``hpo`` command: sweep, resume, reproduce, ls, show, report, compare, artifacts, code,
export, import.

Errors of input (a bad config, an unknown sweep, a store that can't be opened) print one line
naming the problem and where it is, and exit with status 2; no traceback.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from typing import TextIO

import click
from rich.text import Text

from hpo._cli_artifacts import artifacts_command, code_command
from hpo._cli_common import EXIT_INPUT, EXIT_INTERRUPTED, err
from hpo._cli_compare import compare_command
from hpo._cli_read import ls, report, show
from hpo._cli_reproduce import reproduce
from hpo._cli_run import resume, sweep
from hpo._cli_transfer import export, import_
from hpo._errors import HPOError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hpo")
def cli() -> None:
    """hpo: hyperparameter optimisation with built-in experiment tracking."""


for command in (
    sweep,
    resume,
    reproduce,
    ls,
    show,
    report,
    compare_command,
    artifacts_command,
    code_command,
    export,
    import_,
):
    cli.add_command(command)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    # A message may hold brackets (rich markup) and long paths: print it as text, unwrapped.
    err.print(Text("warning: ", style="yellow") + Text(str(message)), soft_wrap=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``hpo`` command."""
    warnings.showwarning = _show_warning
    try:
        code = cli.main(args=argv, prog_name="hpo", standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        code = EXIT_INTERRUPTED
    except click.ClickException as exc:
        exc.show()
        code = EXIT_INPUT
    except HPOError as exc:
        # One logical line, never hard-wrapped: logs are grepped and terminals wrap anyway.
        err.print(Text("error: ", style="bold red") + Text(str(exc)), soft_wrap=True)
        code = EXIT_INPUT
    except KeyboardInterrupt:
        err.print("interrupted")
        code = EXIT_INTERRUPTED
    except Exception as exc:
        if os.environ.get("HPO_DEBUG"):
            raise
        err.print(
            Text("internal error: ", style="bold red")
            + Text(f"{type(exc).__name__}: {exc} (set HPO_DEBUG=1 for the traceback)"),
            soft_wrap=True,
        )
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()

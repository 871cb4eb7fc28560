"""Command line: ``clustering form``, ``clustering explain`` and ``clustering sweep``.

User errors (bad input, impossible settings) print one line and exit with
status 2, never a traceback. Progress goes to standard error, the summary to
standard output.

Each subcommand is a module with ``register(sub)``, which adds its parser and
sets ``run(args, out, err)`` as what it does; :func:`_parser` registers them,
one line each. :mod:`.options` holds the scenario flags (for any subcommand
that runs scenarios) and :mod:`.console` what is printed.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import ClusteringError
from . import explain, form, plan, sweep
from .console import consoles
from .options import scenario_from_args as _scenario  # noqa: F401 (tests/test_cli.py)

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clustering",
        description="Form compact clusters of schools, with a proven gap to the best possible.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    form.register(sub)
    explain.register(sub)
    plan.register(sub)
    sweep.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    out, err = consoles()
    try:
        return args.run(args, out, err)
    except ClusteringError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted", markup=False)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

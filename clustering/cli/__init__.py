"""Command line: ``clustering form``, ``clustering explain`` and ``clustering sweep``.

Nothing ends in a traceback. User errors (bad input, impossible settings) print
one line and exit with status 2. Anything else is a bug: its traceback goes to a
log file, one line says where, and the status is 3 (also when a layout fails the
independent checker). Ctrl-C prints ``interrupted`` and exits with 130; a sweep
whose tasks did not all finish exits with 1 (:data:`EXIT_CODES`). Progress goes to
standard error, the summary to standard output.

Each subcommand is a module with ``register(sub)``, which adds its parser and
sets ``run(args, out, err)`` as what it does; :func:`_parser` registers them,
one line each. :mod:`.options` holds the scenario flags (for any subcommand
that runs scenarios) and :mod:`.console` what is printed.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path

from ..api.provenance import versions
from ..errors import ClusteringError
from . import explain, form, plan, sweep
from .console import consoles
from .options import scenario_from_args as _scenario  # noqa: F401 (tests/test_cli.py)

__all__ = ["EXIT_CODES", "main"]

#: what the exit status says
EXIT_CODES = {
    0: "done",
    1: "a sweep ran, but some of its tasks failed (their rows say why)",
    2: "a problem with the input or the settings: one line says what and how to fix it",
    3: "a bug in this program: one line says where the log with the details is",
    130: "interrupted (Ctrl-C)",
}
_MESSAGE_CHARS = 300


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clustering",
        description="Form compact clusters of schools, with a proven gap to the best possible.",
        epilog="Exit status: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + ".",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    form.register(sub)
    explain.register(sub)
    plan.register(sub)
    sweep.register(sub)
    return parser


def _one_line(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 1] + "…"


def _write_log(exc: BaseException, argv: list[str]) -> tuple[Path | None, str]:
    """The traceback, the command and the versions in a new file in the temporary folder.

    Returns its path (``None`` when it cannot be written) and why it could not be.
    """
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        found = ", ".join(f"{k} {v}" for k, v in versions().items())
    except Exception as inner:  # the log must not fail for want of versions
        found = f"unknown ({type(inner).__name__})"
    text = (
        f"clustering: unexpected error at {stamp}\n"
        f"command: clustering {shlex.join(argv)}\n"
        f"versions: {found}\n\n" + "".join(traceback.format_exception(exc))
    )
    try:
        fd, name = tempfile.mkstemp(prefix=f"clustering-error-{stamp}-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as inner:
        return None, inner.strerror or str(inner)
    return Path(name), ""


def _bug_line(exc: BaseException, argv: list[str]) -> str:
    """The one line printed for a bug (the log written first)."""
    log, why = _write_log(exc, argv)
    where = (
        f"the log at {log}"
        if log is not None
        else f"the command you ran (no log could be written: {why})"
    )
    message = str(exc)
    if isinstance(exc, AssertionError) and "failed the checker" in message:
        found = _one_line(message.split("failed the checker:", 1)[-1])
        what = "plan" if message.startswith("plan") else "layout"
        return (
            f"error: the {what} failed the independent check ({found}). This is a bug in "
            f"the solver, not a problem with your data: please report it with {where}"
        )
    shown = f"{type(exc).__name__}: {message}" if message.strip() else type(exc).__name__
    return f"error: unexpected {_one_line(shown)}. This is a bug: please report it with {where}"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (:data:`EXIT_CODES`)."""
    argv = list(sys.argv[1:] if argv is None else argv)
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
    except Exception as exc:
        line = _bug_line(exc, argv)
        err.print(line, markup=False, highlight=False, soft_wrap=True)
        return 3


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

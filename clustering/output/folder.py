"""Output folders written whole: into a hidden sibling first, then put in place.

:func:`replace_folder` gives the writers (:func:`clustering.output.export.write_outputs`,
:func:`clustering.output.plan.write_plan`) a new temporary folder beside the target
(``out/.hampshire.tmp-1a2b3c4d``). Only when every file is written does it take the
target's place: an earlier run's folder is renamed aside, the new one renamed in and the
old one removed. So no file of an earlier run survives (a stale ``moves.csv``), a failure
half-way (a full disk, a bug) leaves the earlier folder as it was and no half-written one,
and nothing is written after the folder is in place.

A folder is only ever replaced when it is empty or holds an earlier run of the same kind
and nothing else (:func:`check_folder`): never a folder of the user's own files.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError

__all__ = ["KINDS", "check_folder", "foreign_entries", "replace_folder"]

#: what each kind of run writes: its record (which marks a folder as such a run), the
#: files and the subfolders (with the names of the files they hold)
KINDS: dict[str, dict] = {
    "layout": {
        "record": "run.json",
        "files": frozenset(
            {
                "assignments.csv",
                "clusters.csv",
                "contrast.csv",
                "excluded.csv",
                "baselines.csv",
                "explanations.csv",
                "moves.csv",
                "clusters.geojson",
                "centres.geojson",
                "map.png",
                "report.html",
                "run.json",
                "scenario.toml",
            }
        ),
        "folders": {},
    },
    "plan": {
        "record": "plan.json",
        "files": frozenset(
            {
                "roles.csv",
                "meetings.csv",
                "absences.csv",
                "pairs.csv",
                "mentoring.csv",
                "unmatched.csv",
                "contacts.csv",
                "plan.html",
                "monitoring.html",
                "plan.json",
            }
        ),
        "folders": {
            "calendars": re.compile(r"cluster_\d+\.ics"),
            "invitations": re.compile(r"cluster_\d+\.txt"),
        },
    },
}
_FIX = "choose an empty or new --out folder"
#: what file browsers leave in a folder they have shown: not the user's own files
_BROWSER_FILES = frozenset({".DS_Store", "Thumbs.db", "desktop.ini"})


def _listed(record: Path) -> set[str]:
    """The file names an earlier run's record lists (``run.json``'s ``files``)."""
    try:
        files = json.loads(record.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {f for f in files if isinstance(f, str) and Path(f).name == f}


def _is_run(folder: Path, kind: str) -> bool:
    return (folder / KINDS[kind]["record"]).is_file() and not foreign_entries(folder, kind)


def foreign_entries(folder: str | Path, kind: str) -> list[str]:
    """The names in ``folder`` that no earlier ``kind`` run (``"layout"``, ``"plan"``) wrote.

    A layout folder may hold plan folders (``clustering plan`` writes ``LAYOUT/plan``);
    a plan folder its ``calendars`` and ``invitations``.
    """
    folder = Path(folder)
    spec = KINDS[kind]
    names = spec["files"] | _BROWSER_FILES | _listed(folder / spec["record"])
    foreign = []
    for entry in sorted(folder.iterdir()):
        if entry.is_symlink():
            foreign.append(entry.name)
        elif entry.is_file():
            if entry.name not in names:
                foreign.append(entry.name)
        elif entry.name in spec["folders"]:
            pattern = spec["folders"][entry.name]
            inside = [p for p in entry.iterdir() if p.name not in _BROWSER_FILES]
            if not all(p.is_file() and pattern.fullmatch(p.name) for p in inside):
                foreign.append(entry.name)
        elif not (kind == "layout" and entry.is_dir() and _is_run(entry, "plan")):
            foreign.append(entry.name)
    return foreign


def check_folder(folder: str | Path, kind: str) -> None:
    """Raise :class:`~clustering.errors.InputError` unless ``folder`` may be written.

    It may when it does not exist, is empty, or holds an earlier ``kind`` run and
    nothing else; a file, or a folder with other files, is refused (it would be
    replaced).
    """
    folder = Path(folder)
    if not folder.exists():
        return
    if not folder.is_dir():
        raise InputError(
            "the output folder is a file", file=str(folder), fix="choose another --out folder"
        )
    try:
        if not any(folder.iterdir()):
            return
        foreign = foreign_entries(folder, kind)
        record = KINDS[kind]["record"]
        has_record = (folder / record).is_file()
    except OSError as exc:
        raise InputError(
            f"cannot read the output folder ({exc.strerror or exc})", file=str(folder), fix=_FIX
        ) from None
    if foreign:
        more = f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
        shown = ", ".join(foreign[:3]) + more
        raise InputError(
            f"the output folder holds files this program did not write ({shown}); it would "
            "replace the whole folder",
            file=str(folder),
            fix=_FIX,
        )
    if not has_record:
        raise InputError(
            f"the output folder is not an earlier {kind} run's (it has no {record}); it would "
            "replace the whole folder",
            file=str(folder),
            fix=_FIX,
        )


def _cannot_write(folder: Path, exc: OSError) -> InputError:
    why = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        fix = "free some disk space, or choose an --out folder on a disk with room"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = "choose an --out folder you may write to"
    else:
        fix = "choose another --out folder"
    return InputError(
        f"cannot write the outputs ({why}); nothing was changed", file=str(folder), fix=fix
    )


def _sibling(target: Path, tag: str, *, make: bool) -> Path:
    """A new hidden name beside ``target`` (made as a folder when ``make``)."""
    while True:
        path = target.with_name(f".{target.name}.{tag}-{secrets.token_hex(4)}")
        if make:
            try:
                path.mkdir()  # the usual permissions (mkdtemp would make it private)
            except FileExistsError:
                continue
            return path
        if not os.path.lexists(path):
            return path


def _holds_cwd(folder: Path) -> bool:
    try:
        here = Path.cwd().resolve()
    except OSError:
        return False
    return here == folder or folder in here.parents


def _move_all(src: Path, dst: Path) -> None:
    """Rename every entry of ``src`` into ``dst``; put them back if one fails."""
    moved = []
    try:
        for entry in list(src.iterdir()):
            os.rename(entry, dst / entry.name)
            moved.append(entry.name)
    except BaseException:
        for name in reversed(moved):
            os.rename(dst / name, src / name)
        raise


def _swap(new: Path, target: Path) -> None:
    """Put the folder ``new`` where ``target`` is, removing what was there."""
    if not os.path.lexists(target):
        os.rename(new, target)
        return
    if any(target.iterdir()) and not _holds_cwd(target):
        old = _sibling(target, "old", make=False)
        try:
            os.rename(target, old)
        except OSError:  # a mount point, say: swap what it holds instead (below)
            pass
        else:
            try:
                os.rename(new, target)
            except BaseException:
                os.rename(old, target)
                raise
            shutil.rmtree(old, ignore_errors=True)
            return
    # an empty folder (keep it, with its permissions), the current directory, a mount
    # point: entry by entry
    old = _sibling(target, "old", make=True)
    try:
        _move_all(target, old)
        try:
            _move_all(new, target)
        except BaseException:
            _move_all(old, target)
            raise
    except BaseException:
        old.rmdir()
        raise
    new.rmdir()
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def replace_folder(folder: str | Path, kind: str) -> Iterator[Path]:
    """A new, empty temporary folder to write into; on success it replaces ``folder``.

    ``folder`` is checked first (:func:`check_folder`) and its parents are made. When
    the block raises, the temporary folder is removed and ``folder`` is left as it was;
    an :class:`OSError` (a full disk, no permission) becomes an
    :class:`~clustering.errors.InputError` naming the folder and what to do.
    """
    shown = Path(folder)
    target = Path(os.path.realpath(shown))
    check_folder(shown, kind)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = _sibling(target, "tmp", make=True)
    except OSError as exc:
        raise _cannot_write(shown, exc) from exc
    try:
        yield temp
        check_folder(shown, kind)  # nothing of the user's has appeared there meanwhile
        _swap(temp, target)
    except OSError as exc:
        shutil.rmtree(temp, ignore_errors=True)
        raise _cannot_write(shown, exc) from exc
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise

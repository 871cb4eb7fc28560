"""What produced a result: the versions of the packages it ran on."""

from __future__ import annotations

import platform
from importlib import metadata

__all__ = ["versions"]

#: the packages whose versions every result records
PACKAGES = ("clustering", "ortools", "numpy", "pandas", "geopandas", "scikit-learn")


def versions() -> dict[str, str]:
    """Python's version and those of :data:`PACKAGES` (``"unknown"`` when not installed).

    Examples
    --------
    >>> sorted(versions())[:3]
    ['clustering', 'geopandas', 'numpy']
    """
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "unknown"
    return out

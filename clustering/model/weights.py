"""The weights of the objective: how many km of travel one unit of each part is worth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["Weights"]


@dataclass(frozen=True)
class Weights:
    """How much each part of the objective counts.

    ``travel`` multiplies km (or the matrix unit); each ``contrast`` entry maps
    an attribute to the km that one unit of its deviation is worth.
    """

    travel: float = 1.0
    contrast: Mapping[str, float] = field(default_factory=dict)
    #: column → km per extra cluster a theme is spread over
    themes: Mapping[str, float] = field(default_factory=dict)
    #: km per existing partnership split between clusters
    partnerships: float = 0.0
    #: km per member that leaves its previous cluster (re-forming)
    stability: float = 0.0
    #: km per member whose venue lies across its boundary (when crossing is allowed)
    boundary: float = 0.0
    #: the weights of terms registered beyond these (see :mod:`clustering.model.terms`),
    #: by the term's ``weight_name``: a number, or a mapping of numbers
    extra: Mapping[str, Any] = field(default_factory=dict)

    def get(self, name: str, default: Any = 0.0) -> Any:
        """The weight called ``name``: a field of these weights, else an entry of ``extra``."""
        if name != "extra" and name in _FIELDS:
            return getattr(self, name)
        return self.extra.get(name, default)

    def to_dict(self) -> dict:
        out = {
            "travel": self.travel,
            "contrast": dict(self.contrast),
            "themes": dict(self.themes),
            "partnerships": self.partnerships,
            "stability": self.stability,
            "boundary": self.boundary,
        }
        if self.extra:  # only when a registered term is weighted: the usual record is unchanged
            out["extra"] = {
                k: dict(v) if isinstance(v, Mapping) else v for k, v in self.extra.items()
            }
        return out

    @property
    def travel_only(self) -> bool:
        """Whether every weight but travel is zero."""
        return not (
            any(v > 0 for v in self.contrast.values())
            or any(v > 0 for v in self.themes.values())
            or self.partnerships > 0
            or self.stability > 0
            or self.boundary > 0
            or any(_positive(v) for v in self.extra.values())
        )


def _positive(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_positive(v) for v in value.values())
    return isinstance(value, int | float) and value > 0


_FIELDS = frozenset(f.name for f in fields(Weights))

"""The terms of the objective, one module each, and the registry the objective iterates.

``total = travel_weight × travel + Σ_terms weight × part``

*Travel* (member → venue cost, in km for straight-line metres, otherwise in the
travel matrix's unit) is the p-median itself, not a term. Every other part is a
term, registered in this order:

========================  ==================  ==========================================
module                    ``Weights`` entry   part(s)
========================  ==================  ==========================================
:mod:`.contrast`          ``contrast``        one per attribute: its deviation
:mod:`.themes`            ``themes``          ``<column> splits``
:mod:`.partnerships`      ``partnerships``    ``partnerships split``
:mod:`.stability`         ``stability``       ``members moved`` (an arc term)
:mod:`.boundary`          ``boundary``        ``boundary crossings`` (an arc term)
========================  ==================  ==========================================

A weight says how many km of travel one unit of its part is worth. The
objective (:class:`clustering.model.objective.Objective`) builds, evaluates,
restricts and reports every registered term through the protocol of
:class:`~.base.Term`; CP-SAT (:mod:`clustering.solver.cpsat`), the exchange
search (:mod:`clustering.solver.exchange`) and the explanations
(:mod:`clustering.analysis.explain`) ask each term for its own encoding and
deltas, and fall back on generic, exact ones where it has none.

How to add an objective term
----------------------------

1. **The module.** Write ``clustering/model/terms/<name>.py`` with a subclass of
   :class:`~.base.Term`, usually a frozen dataclass holding one row per centre::

       @register
       @dataclass(frozen=True)
       class CrowdingTerm(Term):
           weight_name = "crowding"          # Weights.extra["crowding"]
           name = "crowded members"          # the part in Objective.parts
           flags: np.ndarray
           weight: float

           @classmethod
           def build(cls, frame, weights, data):   # [] when not asked for
               w = weights.get("crowding", 0.0)
               return [cls(frame["flag"].to_numpy(bool), float(w))] if w else []

           def value(self, venue_of, labels):      # in the part's own unit
               counts = np.bincount(labels[self.flags], minlength=labels.max() + 1)
               return float(np.maximum(counts - 1, 0).sum())

           def restricted(self, rows):             # for a sub-problem
               return replace(self, flags=self.flags[rows])

   ``build`` raises :class:`~clustering.errors.InputError` for a bad weight or
   column (:func:`~.base.non_negative`, :func:`~.base.require_column`). The
   term's value must never be negative: the lower bound counts on it.
   Optional, for speed and strength (each with a generic fallback):

   * ``cpsat(m)``: a linear expression over ``m.x[i, j]`` in integer units,
     using ``m.coefficient(weight)`` (rounded down, so CP-SAT's bound stays a
     bound). Without it CP-SAT leaves the term out: it then solves a
     relaxation and reports ``FEASIBLE``, not ``OPTIMAL``, and its layouts are
     re-priced with the whole objective before they are kept — correct, but
     only the exchange and neighbourhood searches then pursue the term.
   * ``exchange(clusters, travel_scale)``: an :class:`~.base.ExchangeDelta`
     (running cluster state, exact change per move). Without it each priced
     move re-evaluates ``value``. Unless the state is ``vectorised`` it only
     corrects the price of the best travel-and-contrast candidate of each
     step, as themes and partnerships do.
   * ``what_if(clusters)``: the part's change for many candidate moves at once
     (:class:`~.base.Moves`). Without it each candidate layout is built and
     re-evaluated.

   A count charged per member for its venue is simplest as an
   :class:`~.arcs.ArcTerm` (``arc = True``): it is folded into the member →
   venue costs and needs none of the three.

2. **Registering it.** ``@register`` adds the kind to the objective, after
   those registered before; import the module here (below) to make it built
   in, or from the code that uses it. Its weight is ``Weights.extra[weight_name]``
   (a number or a mapping), read with ``weights.get(weight_name)``; only the
   built-in terms have fields of their own. :func:`~.base.unregister` takes a
   kind out again (tests).

3. **The one test.** In ``tests/``, build a small instance whose best layout
   changes with the term's weight, and check that ``Objective.parts`` and
   ``Objective.cost`` count it, that the exchange search's and the
   explanations' changes equal ``value`` recomputed on the changed layout, and
   that :func:`clustering.form_clusters` honours it
   (``tests/test_terms.py`` does all of this for a toy term).

The independent checker (:mod:`clustering.analysis.check`) recomputes the
built-in terms itself, from the layout's table. A new term it evaluates with
the term's own ``value`` on the layout's clusters and names in
``CheckReport.unchecked_terms``: give the checker its own recomputation to make
the check independent. What is not yet generic: the scenario files and the
command line set only the built-in weights; and
:mod:`clustering.solver.part` takes ``Objective.terms`` (the contrast terms) to
be the only terms whose CP-SAT encoding rounds (voiding CP-SAT's bound), so a
new term that rounds its coefficients up must be added there.
"""

from . import contrast, themes, partnerships, stability, boundary  # noqa: F401, I001  (registry order)
from .arcs import ArcTerm
from .base import (
    Clusters,
    CpSatModel,
    ExchangeDelta,
    Moves,
    Term,
    TermData,
    non_negative,
    register,
    registered,
    require_column,
    unregister,
)
from .boundary import BOUNDARY, BoundaryTerm
from .contrast import ContrastTerm
from .partnerships import PairTerm
from .stability import STABILITY, StabilityTerm
from .themes import THEME_SEPARATORS, ThemeTerm, theme_values

__all__ = [
    "BOUNDARY",
    "STABILITY",
    "THEME_SEPARATORS",
    "ArcTerm",
    "BoundaryTerm",
    "Clusters",
    "ContrastTerm",
    "CpSatModel",
    "ExchangeDelta",
    "Moves",
    "PairTerm",
    "StabilityTerm",
    "Term",
    "TermData",
    "ThemeTerm",
    "non_negative",
    "register",
    "registered",
    "require_column",
    "theme_values",
    "unregister",
]

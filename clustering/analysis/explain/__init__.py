"""Why each centre is in its cluster, and what moving it elsewhere would cost.

For any centre of a layout made by :func:`clustering.form_clusters`:

* **where it meets**: its distance to its venue and how that ranks among the
  venues it could use (within the maximum distance and its boundary, when set);
* **what it adds to the mix**: for each contrast attribute, its cluster's
  deviation from the area's mix with and without it;
* **which rules bind it**: must-link, hard-partnership or lock mates,
  cannot-link partners in other clusters, whether it coordinates its cluster
  (or is the only member who may), whether it is the only member counting for
  a quota, the maximum distance and the boundary;
* **what moving it would cost**: for the few other clusters whose venues are
  nearest, the exact change of every part of the objective and of the
  weighted total if it moved there, and the rule such a move would break.

A *move* keeps every venue where it is, except that a venue that moves hands
its cluster to the remaining member that serves the others at least cost (as
the engine would). When the size (or weight) bounds forbid a plain move, the
best *swap* with a member of the other cluster (not its venue) is priced
instead: the cheapest one that breaks no rule, or, when every swap breaks one,
the cheapest of all with what it breaks. Changes are exact: the change of the
weighted total equals ``objective.cost`` of the changed layout minus that of
the layout, times the travel scale (km for straight-line distances, otherwise
the travel matrix's unit).

Everything is computed from ``layout.problem`` (set by the engine) and
vectorised over centres: explaining all 1,435 Kentucky schools takes well
under a second.

The pieces, each in its own module:

* :mod:`.arrays` — the layout, its objective and its rules as arrays over its
  centres and clusters (:func:`can_explain` says whether a layout has them);
* :mod:`.whatif` — the what-if: the exact change of every part, and the rules
  broken, if a centre moved to another cluster (or swapped into it); the public
  :class:`WhatIf` and :class:`MoveCosts` for other reports (re-forming);
* :mod:`.rules` — which rules a move would break and which bind a centre, in words;
* :mod:`.words` — numbers, ranks and changed parts in prose;
* :mod:`.analyse` — per centre: the venues it could use, the clusters to price,
  the mix with and without it;
* :mod:`.centres` — the public :func:`explain_centre`, :func:`explanation_text`
  and :func:`explanations`.
"""

from .arrays import can_explain
from .centres import explain_centre, explanation_text, explanations
from .whatif import MoveCosts, WhatIf
from .words import rank_words

__all__ = [
    "MoveCosts",
    "WhatIf",
    "can_explain",
    "explain_centre",
    "explanation_text",
    "explanations",
    "rank_words",
]

"""A scikit-learn style estimator over the engine: :class:`ClusterFormer`.

Researchers who already work with scikit-learn get the usual shape: settings in
the constructor, :meth:`ClusterFormer.fit` on the data, results in attributes
ending with ``_``, and ``get_params`` / ``set_params`` so that
:func:`sklearn.base.clone` and :class:`sklearn.model_selection.ParameterGrid`
work. Every fitted layout has passed the independent checker, exactly as
:func:`clustering.form_clusters` returns it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin

from ..input.load import Centres, load_centres
from ..model.layout import Layout
from ..model.objective import Weights
from ..model.rules import Constraints
from ..model.scenario import DEFAULT_TIME_LIMIT
from ..model.sizes import SizeRule
from ..solver.progress import Progress
from .form import form_clusters

__all__ = ["ClusterFormer"]

#: the row of the source that load_centres calls the first (a spreadsheet's row 2)
_FIRST_ROW = 2


class ClusterFormer(ClusterMixin, BaseEstimator):
    """Form compact, well-mixed clusters that meet at a member centre.

    A capacitated p-median with contrast, theme and partnership terms, solved by
    the engine behind :func:`clustering.form_clusters`; the layout is checked
    independently and comes with a lower bound and the gap to it.

    Parameters
    ----------
    min_size, max_size : int, default=8, 12
        Members per cluster, venue included.
    n_clusters : int, optional
        A fixed number of clusters; by default ``round(n / target_size)`` within
        what the size bounds allow.
    target_size : float, optional
        The size aimed at when ``n_clusters`` is not given (default mid-bounds).
    size_by : str, optional
        A numeric column (e.g. ``"pupils"``) whose total per cluster must lie in
        ``[min_weight, max_weight]``.
    min_weight, max_weight : float, optional
        Bounds on the total of ``size_by`` per cluster.
    contrast : dict of str to float, optional
        Attribute → km of travel that one unit of deviation from the area's mix
        is worth, e.g. ``{"fsm_pct": 2, "urban_rural": 10}``.
    themes : dict of str to float, optional
        Column → km per extra cluster a theme (e.g. a diocese) is spread over.
    partnership_weight : float, default=0.0
        Km per existing partnership split (partnerships are given in
        ``constraints``).
    stability : float, default=0.0
        Km per member that leaves its previous cluster (the previous layout is
        ``constraints.previous``, e.g. from :func:`clustering.read_previous`).
    travel : float, default=1.0
        The weight of a km of travel.
    coordinator : str, optional
        Who may coordinate a cluster: a yes/no column or a rule such as
        ``"ofsted in Good, Outstanding"``.
    boundary : str, optional
        A column (e.g. ``"la"``) that clusters stay inside.
    max_distance : float, optional
        The longest member → venue trip allowed (km).
    constraints : Constraints, optional
        Every other rule (links, partnerships, exclusions, a previous layout and
        its locks); ``coordinator``, ``boundary`` and ``max_distance`` above
        override the same fields here.
    distances : str, Path or DataFrame, optional
        A travel-time or distance matrix; straight lines otherwise.
    columns : dict of str to str, optional
        Field → column of ``X`` where the names are not recognised, e.g.
        ``{"id": "code", "lat": "Y", "lon": "X"}``.
    crs : str or int, optional
        The CRS of ``x``/``y`` columns of a plain DataFrame.
    time_limit : float, default=20.0
        Seconds for the whole solve. With ``deterministic`` it is a budget of
        CP-SAT deterministic time instead of wall-clock seconds.
    seed : int, default=0
        Seeds every random choice.
    workers : int, default=2
        CP-SAT search workers (1 when ``deterministic``).
    deterministic : bool, default=False
        The same data, settings and seed give the same layout on any machine
        load: one worker, and every budget counted in solver work rather than
        seconds.
    gap_target : float, default=1e-4
        Stop once the relative gap to the lower bound is at most this.
    baselines : bool, default=False
        Also form the layouts people would otherwise use and put them beside
        this one (``layout_.baselines``).
    progress : callable, optional
        Called with a :class:`clustering.Progress` as objective and bound improve.

    Attributes
    ----------
    layout_ : Layout
        The checked layout (members, venues, distances, excluded, statistics,
        parameters, seed and versions).
    labels_ : ndarray of shape (n_rows,)
        For each row of ``X``, its cluster ``0 … k-1`` (numbered west to east by
        venue); ``-1`` for a row that does not take part (see ``excluded_``).
    venues_ : ndarray of shape (n_clusters_,)
        For each cluster, the position in ``X`` of the member it meets at.
    objective_ : float
        The layout's objective, recomputed by the checker.
    lower_bound_ : float
        A valid lower bound on the objective of every layout.
    gap_ : float
        ``(objective_ - lower_bound_) / objective_``.
    status_ : str
        ``"optimal"`` (gap closed), ``"feasible"``, or ``"stopped"`` (stopped early
        by a stop event or Ctrl-C: the best checked layout found by then).
    n_clusters_ : int
        The number of clusters formed.
    excluded_ : DataFrame
        The rows that do not take part, with the reason for each.

    See Also
    --------
    clustering.form_clusters : the same engine as a function.

    Examples
    --------
    >>> import clustering
    >>> former = clustering.ClusterFormer(min_size=8, max_size=12, time_limit=5, seed=0)
    >>> labels = former.fit_predict("data/sample/surrey_primary_schools_2022.csv")
    >>> former.n_clusters_, bool(former.objective_ >= former.lower_bound_)
    (30, True)
    >>> int((labels >= 0).sum()) + len(former.excluded_) == len(labels)
    True
    """

    def __init__(
        self,
        min_size: int = 8,
        max_size: int = 12,
        *,
        n_clusters: int | None = None,
        target_size: float | None = None,
        size_by: str | None = None,
        min_weight: float | None = None,
        max_weight: float | None = None,
        contrast: Mapping[str, float] | None = None,
        themes: Mapping[str, float] | None = None,
        partnership_weight: float = 0.0,
        stability: float = 0.0,
        travel: float = 1.0,
        coordinator: str | None = None,
        boundary: str | None = None,
        max_distance: float | None = None,
        constraints: Constraints | None = None,
        distances: str | Path | pd.DataFrame | None = None,
        columns: Mapping[str, str] | None = None,
        crs: str | int | None = None,
        time_limit: float = DEFAULT_TIME_LIMIT,
        seed: int = 0,
        workers: int = 2,
        deterministic: bool = False,
        gap_target: float = 1e-4,
        baselines: bool = False,
        progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.min_size = min_size
        self.max_size = max_size
        self.n_clusters = n_clusters
        self.target_size = target_size
        self.size_by = size_by
        self.min_weight = min_weight
        self.max_weight = max_weight
        self.contrast = contrast
        self.themes = themes
        self.partnership_weight = partnership_weight
        self.stability = stability
        self.travel = travel
        self.coordinator = coordinator
        self.boundary = boundary
        self.max_distance = max_distance
        self.constraints = constraints
        self.distances = distances
        self.columns = columns
        self.crs = crs
        self.time_limit = time_limit
        self.seed = seed
        self.workers = workers
        self.deterministic = deterministic
        self.gap_target = gap_target
        self.baselines = baselines
        self.progress = progress

    # the pieces the engine takes, built from the parameters ------------------

    def size_rule(self) -> SizeRule:
        """The :class:`clustering.SizeRule` these parameters describe."""
        return SizeRule(
            min_size=int(self.min_size),
            max_size=int(self.max_size),
            n_clusters=None if self.n_clusters is None else int(self.n_clusters),
            target_size=self.target_size,
            size_by=self.size_by,
            min_weight=self.min_weight,
            max_weight=self.max_weight,
        )

    def weights(self) -> Weights:
        """The :class:`clustering.Weights` these parameters describe."""
        return Weights(
            travel=float(self.travel),
            contrast={str(k): float(v) for k, v in (self.contrast or {}).items()},
            themes={str(k): float(v) for k, v in (self.themes or {}).items()},
            partnerships=float(self.partnership_weight),
            stability=float(self.stability),
        )

    def rules(self) -> Constraints:
        """The :class:`clustering.Constraints` these parameters describe."""
        rules = self.constraints or Constraints()
        given = {
            name: getattr(self, name)
            for name in ("coordinator", "boundary", "max_distance")
            if getattr(self, name) is not None
        }
        return replace(rules, **given) if given else rules

    # fitting -----------------------------------------------------------------

    def fit(self, X: Any, y: None = None) -> ClusterFormer:
        """Form the clusters of ``X``.

        Parameters
        ----------
        X : GeoDataFrame, DataFrame, str or Path
            One row per centre: a GeoDataFrame of points, a DataFrame with
            ``lat``/``lon`` (or ``x``/``y`` and ``crs``) columns, a file the CLI
            reads (CSV, Excel, GeoJSON, GeoPackage), or :class:`clustering.Centres`
            already loaded. Columns are recognised as by
            :func:`clustering.load_centres`.
        y : None
            Ignored; there for the scikit-learn API.

        Returns
        -------
        ClusterFormer
            This estimator, fitted.

        Raises
        ------
        InputError
            ``X`` cannot be read (the message names the row and column).
        InfeasibleError
            The rules cannot all hold for these centres.
        """
        centres = X if isinstance(X, Centres) else self._load(X)
        layout = form_clusters(
            centres,
            self.size_rule(),
            distances=self.distances,
            weights=self.weights(),
            constraints=self.rules(),
            time_limit=float(self.time_limit),
            seed=int(self.seed),
            workers=int(self.workers),
            deterministic=bool(self.deterministic),
            gap_target=float(self.gap_target),
            progress=self.progress,
            baselines=bool(self.baselines),
        )
        self._set_results(layout, n_rows=_n_rows(centres))
        return self

    def fit_predict(self, X: Any, y: None = None, **kwargs: Any) -> np.ndarray:
        """Form the clusters of ``X`` and return :attr:`labels_`."""
        return self.fit(X).labels_

    def _load(self, X: Any) -> Centres:
        if isinstance(X, str | Path | pd.DataFrame):
            return load_centres(X, columns=self.columns, crs=self.crs)
        raise TypeError(
            f"ClusterFormer.fit takes a GeoDataFrame, a DataFrame, a file path or Centres, "
            f"not {type(X).__name__}"
        )

    def _set_results(self, layout: Layout, *, n_rows: int) -> None:
        members = layout.centres
        position = members["row"].to_numpy(dtype=np.int64) - _FIRST_ROW
        labels = np.full(n_rows, -1, dtype=np.int64)
        labels[position] = members["cluster"].to_numpy(dtype=np.int64) - 1
        venue_rows = members.index[members["is_venue"].to_numpy(dtype=bool)]
        venues = members.loc[venue_rows].sort_values("cluster")
        self.layout_ = layout
        self.labels_ = labels
        self.venues_ = venues["row"].to_numpy(dtype=np.int64) - _FIRST_ROW
        self.objective_ = float(layout.objective)
        self.lower_bound_ = float(layout.lower_bound)
        self.gap_ = float(layout.gap)
        self.status_ = layout.status
        self.n_clusters_ = layout.n_clusters
        self.excluded_ = layout.excluded.copy()


def _n_rows(centres: Centres) -> int:
    rows = [centres.frame["row"].to_numpy(), centres.excluded["row"].to_numpy()]
    present = np.concatenate([r[pd.notna(r)].astype(np.int64) for r in rows])
    return int(present.max()) - _FIRST_ROW + 1 if len(present) else 0

"""Form clusters of schools: compact, verified, with an honest optimality gap.

The package is laid out by the stages data flows through, one way:
``input`` (reading and validating files) → ``model`` (sizes, rules, objective,
costs, scenarios: the compiled problem) → ``solver`` (construction, bound,
CP-SAT, searches) → ``analysis`` (checker, metrics, explanations, re-forming,
baselines) → ``plan`` (roles, meeting hosts and dates, pairing after the
layout) → ``output`` (exports, report, maps, the plan's files) → ``api`` (the pipeline,
the estimator, sweeps) → ``cli``. A stage imports only the stages before it;
``docs/architecture.md`` draws them.

>>> import clustering
>>> centres = clustering.load_centres("data/sample/hampshire_primary_schools_2022.csv")
>>> layout = clustering.form_clusters(centres, clustering.SizeRule(8, 12), time_limit=3)
>>> clustering.check_layout(layout, clustering.SizeRule(8, 12)).ok
True
"""

from .analysis.check import CheckReport, check_layout
from .analysis.compare import Comparison, compare_layouts
from .analysis.edit import move_centre
from .analysis.explain import explain_centre, explanations
from .analysis.metrics import cluster_summary, contrast_summary, overall_summary
from .analysis.quality import Quality, TermQuality, layout_quality
from .analysis.reform import moves
from .api.estimator import ClusterFormer
from .api.form import form_clusters, run_scenario
from .api.layouts import read_layout
from .api.sweep import Grid, read_grid, sweep
from .errors import ClusteringError, InfeasibleError, InputError, SolverError
from .input.files import PreviousLayout, read_previous
from .input.load import Centres, load_centres, read_table
from .input.national import england_like
from .model.layout import Layout
from .model.objective import Weights
from .model.rules import Constraints
from .model.scenario import DEFAULT_TIME_LIMIT, Scenario, load_scenario, scenario_to_toml
from .model.sizes import Quota, SizeRule
from .output.export import write_outputs
from .output.outlines import outlines
from .output.plan import write_plan
from .plan import (
    Plan,
    PlanSettings,
    check_plan,
    plan_network,
    read_plan_settings,
    read_term_dates,
)
from .solver.progress import Progress

__all__ = [
    "DEFAULT_TIME_LIMIT",
    "Centres",
    "CheckReport",
    "ClusterFormer",
    "ClusteringError",
    "Comparison",
    "Constraints",
    "Grid",
    "InfeasibleError",
    "InputError",
    "Layout",
    "Plan",
    "PlanSettings",
    "PreviousLayout",
    "Progress",
    "Quality",
    "Quota",
    "Scenario",
    "SizeRule",
    "SolverError",
    "TermQuality",
    "Weights",
    "check_layout",
    "check_plan",
    "cluster_summary",
    "compare_layouts",
    "contrast_summary",
    "england_like",
    "explain_centre",
    "explanations",
    "form_clusters",
    "layout_quality",
    "load_centres",
    "load_scenario",
    "move_centre",
    "moves",
    "outlines",
    "overall_summary",
    "plan_network",
    "read_grid",
    "read_layout",
    "read_plan_settings",
    "read_previous",
    "read_table",
    "read_term_dates",
    "run_scenario",
    "scenario_to_toml",
    "sweep",
    "write_outputs",
    "write_plan",
]
__version__ = "0.1.0"

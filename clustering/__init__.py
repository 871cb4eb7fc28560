"""Form clusters of schools: compact, verified, with an honest optimality gap.

>>> import clustering
>>> centres = clustering.load_centres("data/sample/hampshire_primary_schools_2022.csv")
>>> layout = clustering.form_clusters(centres, clustering.SizeRule(8, 12), time_limit=10)
>>> clustering.check_layout(layout, clustering.SizeRule(8, 12)).ok
True
"""

from .check import CheckReport, check_layout
from .errors import ClusteringError, InfeasibleError, InputError, SolverError
from .export import write_outputs
from .layout import Layout
from .load import Centres, load_centres
from .metrics import cluster_summary, overall_summary
from .scenario import Scenario, load_scenario, run_scenario, scenario_to_toml
from .solve import Progress, form_clusters
from .spec import SizeRule

__all__ = [
    "Centres",
    "CheckReport",
    "ClusteringError",
    "InfeasibleError",
    "InputError",
    "Layout",
    "Progress",
    "Scenario",
    "SizeRule",
    "SolverError",
    "check_layout",
    "cluster_summary",
    "form_clusters",
    "load_centres",
    "load_scenario",
    "overall_summary",
    "run_scenario",
    "scenario_to_toml",
    "write_outputs",
]
__version__ = "0.1.0"

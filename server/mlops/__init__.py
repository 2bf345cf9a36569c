"""The MLOps loop's admin-time half on the central service (issue 8): the promotion gate's rule, drift statistics,
feedback export and the retraining triggers (`vereda-server promote`, `drift`, `jobs`).

The server never imports `model_export` (tests/test_layering.py). What needs the build tools (simulating patients
from the knowledge base, answering them with a bundle) runs in a child process, `python -m model_export gate-evaluate`
or `drift-reference` (server/mlops/build_tools.py), the way `jobs --run` already starts `python -m model_export
retrain`; its figures come back as JSON and the rule and the statistics are applied here. `model_export` imports
the shared pieces of this package (the gate's rule, the feedback helpers), never the reverse.

Dependencies: numpy, and scipy for the drift tests (chi-square, Kolmogorov-Smirnov) from the `server[mlops]` extra,
imported only when `drift` runs, with a message naming the extra when it is missing. The serving path
(`server.main` and its routes) imports nothing of this package.
"""

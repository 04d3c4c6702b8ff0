"""Compare runs recorded in the MLflow store, from a notebook or the command line.

    dcpipelines-runs                      # every run, newest first
    dcpipelines-runs --pipeline ingest    # one pipeline's runs, with its metrics as columns
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = "dcpipelines"


def runs_table(
    tracking_uri: str = DEFAULT_TRACKING_URI, pipeline: str | None = None
) -> pd.DataFrame:
    """One row per run: when, which pipeline, which commit, status, then every metric."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        return pd.DataFrame(columns=["run_id", "start", "pipeline", "git_commit", "status"])
    query = f"tags.pipeline = '{pipeline}'" if pipeline else ""
    runs = client.search_runs(
        [experiment.experiment_id], filter_string=query, order_by=["attributes.start_time DESC"]
    )
    rows = [
        {
            "run_id": run.info.run_id,
            "start": pd.Timestamp(run.info.start_time, unit="ms"),
            "pipeline": run.data.tags.get("pipeline", run.info.run_name),
            "git_commit": run.data.tags.get("git_commit", "")[:10],
            "status": run.info.status,
            **run.data.metrics,
        }
        for run in runs
    ]
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: list or compare tracked runs."""
    parser = argparse.ArgumentParser(
        prog="dcpipelines-runs",
        description="List the runs in the project's MLflow store with their metrics.",
    )
    parser.add_argument("--tracking-uri", default=DEFAULT_TRACKING_URI,
                        help="MLflow tracking URI (default: %(default)s, the project's local store)")
    parser.add_argument("--pipeline", help="only runs of this pipeline (e.g. ingest, fedsubavg)")
    parser.add_argument("--last", type=int, default=20, help="how many runs to show (default: %(default)s)")
    args = parser.parse_args(argv)
    table = runs_table(args.tracking_uri, args.pipeline).head(args.last)
    if table.empty:
        print("no runs yet: run `kedro run` first", file=sys.stderr)
        return 1
    table = table.dropna(axis="columns", how="all")
    print(table.to_string(index=False, max_colwidth=24))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The dcpipelines library: algorithms, models, data readers and simulators.

Plain Python and torch; nothing here imports Kedro or MLflow, so every piece can be used
from a notebook or a script on its own.
"""

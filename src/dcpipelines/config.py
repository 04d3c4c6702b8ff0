"""The project's parameters as a run sees them, for tests and notebooks: ``conf/base`` merged
with an environment (``conf/test``, ``conf/local``), globals and ``--params`` overrides resolved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def load_parameters(pipeline: str | None = None, env: str = "local",
                    runtime_params: dict[str, Any] | None = None,
                    conf_source: str | Path | None = None) -> dict[str, Any]:
    """All parameters (or one pipeline's block) resolved as ``kedro run --env ENV --params ...``
    would resolve them."""
    from kedro.config import OmegaConfigLoader

    loader = OmegaConfigLoader(str(conf_source or PROJECT_ROOT / "conf"), base_env="base",
                               default_run_env=env, runtime_params=runtime_params or {})
    parameters = loader["parameters"]
    return parameters if pipeline is None else parameters[pipeline]

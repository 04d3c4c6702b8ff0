"""Server-side aggregation rules behind one interface: FedAvg, FedProx and FedSubAvg.

A strategy turns the sampled clients' updates into one global delta. The server sees only
:class:`ClientUpdate` objects (deltas and sample counts) and, for FedSubAvg, the per-row heat
computed once from counts the clients report (which rows they involve, how many samples).

FedSubAvg (Ding et al., NeurIPS 2022): the sample-weighted average of each embedding row's
deltas is scaled by ``c_r = N / N_r``, N the samples of all clients and N_r the samples of the
clients that involve row r. Dense parameters keep ``c = 1`` (plain FedAvg). In expectation a
row then moves by the average update of the clients that involve it, instead of being diluted
by the clients that never touch it. The client-count variant uses ``K / K_r`` (clients).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from dcpipelines.core.federated.updates import ClientUpdate

HEAT_KINDS = ("samples", "clients")


def row_heat(
    client_rows: Sequence[torch.Tensor],
    client_samples: Sequence[int],
    num_rows: int,
    kind: str = "samples",
) -> torch.Tensor:
    """Per-row heat ``N_r`` (samples of involving clients) or ``K_r`` (involving clients)."""
    if kind not in HEAT_KINDS:
        raise ValueError(f"heat kind {kind!r} unknown; use one of {HEAT_KINDS}")
    heat = torch.zeros(num_rows, dtype=torch.float64)
    for rows, n in zip(client_rows, client_samples, strict=True):
        heat.index_add_(0, rows, torch.full((rows.numel(),), float(n if kind == "samples" else 1),
                                            dtype=torch.float64))
    return heat


def row_scale(heat: torch.Tensor, total: float) -> torch.Tensor:
    """``c_r = total / heat_r``; rows nobody involves keep 1 (they never receive an update)."""
    scale = torch.ones_like(heat)
    touched = heat > 0
    scale[touched] = total / heat[touched]
    return scale


class Strategy:
    """Weighted averaging of client deltas; subclasses change the local objective or the rows."""

    name = "strategy"
    proximal_mu = 0.0  # weight of the proximal term mu/2 ||w - w_global||^2 in local training

    def row_scales(self) -> Mapping[str, torch.Tensor]:
        """Per-row multipliers of sparse tables (none: plain weighted average)."""
        return {}

    def aggregate(
        self, updates: Sequence[ClientUpdate], shapes: Mapping[str, torch.Size]
    ) -> dict[str, torch.Tensor]:
        """The global delta of each parameter from the updates of the clients that answered."""
        if not updates:
            return {name: torch.zeros(shape) for name, shape in shapes.items()}
        total = float(sum(u.num_samples for u in updates))
        scales = self.row_scales()
        delta: dict[str, torch.Tensor] = {}
        for name, shape in shapes.items():
            first = updates[0]
            if name in first.sparse:
                # touch only the rows that were sent: weights (and c_r) per sent row
                dtype = first.sparse[name].values.dtype
                out = torch.zeros(shape, dtype=dtype)
                ids = torch.cat([u.sparse[name].row_ids for u in updates])
                weight = torch.cat([
                    torch.full((u.sparse[name].row_ids.numel(),), u.num_samples / total)
                    for u in updates
                ]).to(dtype)
                if name in scales:
                    weight = weight * scales[name][ids].to(dtype)
                values = torch.cat([u.sparse[name].values for u in updates])
                out.index_add_(0, ids, values * weight.view(-1, *([1] * (values.ndim - 1))))
            else:
                out = sum(u.dense[name] * (u.num_samples / total) for u in updates)
            delta[name] = out
        return delta


class FedAvg(Strategy):
    """McMahan et al.: sample-weighted average over the sampled clients (absent rows count 0)."""

    name = "fedavg"


class FedProx(Strategy):
    """Li et al.: FedAvg aggregation; local training adds ``mu/2 ||w - w_global||^2``."""

    name = "fedprox"

    def __init__(self, mu: float = 0.01) -> None:
        if mu < 0:
            raise ValueError(f"FedProx mu must be >= 0, got {mu}")
        self.proximal_mu = float(mu)


class FedSubAvg(Strategy):
    """FedAvg with each sparse row scaled by its heat: ``c_r = N / N_r`` (or ``K / K_r``)."""

    name = "fedsubavg"

    def __init__(
        self,
        client_rows: Mapping[str, Sequence[torch.Tensor]],
        client_samples: Sequence[int],
        num_rows: Mapping[str, int],
        heat: str = "samples",
    ) -> None:
        total = float(sum(client_samples)) if heat == "samples" else float(len(client_samples))
        self.heat = heat
        self._scales = {
            name: row_scale(row_heat(rows, client_samples, num_rows[name], heat), total)
            for name, rows in client_rows.items()
        }

    def row_scales(self) -> Mapping[str, torch.Tensor]:
        """The per-row scale applied to each embedding table's aggregate."""
        return self._scales


def make_strategy(
    name: str,
    *,
    client_rows: Mapping[str, Sequence[torch.Tensor]] | None = None,
    client_samples: Sequence[int] | None = None,
    num_rows: Mapping[str, int] | None = None,
    mu: float = 0.01,
) -> Strategy:
    """Strategy by name: fedavg, fedprox, fedsubavg (sample heat), fedsubavg_clients."""
    if name == "fedavg":
        return FedAvg()
    if name == "fedprox":
        return FedProx(mu)
    if name in ("fedsubavg", "fedsubavg_clients"):
        if client_rows is None or client_samples is None or num_rows is None:
            raise ValueError("FedSubAvg needs each client's rows and sample count")
        heat = "clients" if name.endswith("clients") else "samples"
        return FedSubAvg(client_rows, client_samples, num_rows, heat)
    raise ValueError(
        f"unknown strategy {name!r}; use fedavg, fedprox, fedsubavg or fedsubavg_clients"
    )

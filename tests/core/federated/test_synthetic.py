"""The Zipf sparse generator: density knob, hot rows shared by more clients than cold ones."""

import pytest

from dcpipelines.core.federated import row_density, row_heat
from dcpipelines.core.federated.synthetic import TABLE, zipf_sparse_clients


def test_density_and_heat_follow_the_knobs():
    clients, truth = zipf_sparse_clients(50, 1001, density=0.02, seed=1)
    assert row_density(clients, TABLE, 1001) == pytest.approx(0.02, rel=0.05)
    heat = row_heat([c.rows[TABLE] for c in clients], [c.num_samples for c in clients], 1001,
                    "clients")
    assert heat[1:11].mean() > 5 * heat[-100:].mean()  # hot head, cold tail
    assert truth.shape == (1001,) and truth[0] == 0
    with pytest.raises(ValueError, match="density"):
        zipf_sparse_clients(2, 10, density=0.0)

import torch
from torch import nn

from dcpipelines.core.nn.fit import fit_minibatches


def test_fits_a_line_and_is_seeded():
    x = torch.linspace(-1, 1, 64)[:, None]
    y = 3 * x - 0.5

    def train(seed):
        torch.manual_seed(0)
        model = nn.Linear(1, 1)
        history = fit_minibatches(
            model, 64, lambda b: nn.functional.mse_loss(model(x[b]), y[b]),
            epochs=60, batch_size=16, lr=0.1, seed=seed,
        )
        return model, history

    model, history = train(seed=1)
    assert len(history) == 60 and history[-1] < 0.01 * history[0]
    assert abs(model.weight.item() - 3) < 0.1 and abs(model.bias.item() + 0.5) < 0.1
    again, history_again = train(seed=1)
    assert history_again == history
    _, other = train(seed=2)
    assert other != history  # the shuffles follow the seed

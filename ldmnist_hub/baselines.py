"""Reference models for the x -> y regression task.

These are the original LD-MNIST benchmark's models: closed-form linear least
squares and the 3-layer MLP (the middle-layers architecture with dropout 0.1)
trained with MSE loss. Both return predictions for the test ``x``.
"""

from __future__ import annotations

import numpy as np


def linear_least_squares(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Fit ``y = x W + b`` in closed form and predict ``test_x``.

    Example:
        >>> x = np.eye(3, dtype=np.float32); linear_least_squares(x, 2 * x, x).round(3).tolist()[0]
        [2.0, 0.0, 0.0]
    """
    design = np.hstack([train_x, np.ones((len(train_x), 1), dtype=train_x.dtype)]).astype(np.float64)
    coef, *_ = np.linalg.lstsq(design, train_y.astype(np.float64), rcond=None)
    return (test_x.astype(np.float64) @ coef[:-1] + coef[-1]).astype(np.float32)


def mlp_regression(
    train_x: np.ndarray,
    train_y: np.ndarray,
    test_x: np.ndarray,
    *,
    seed: int = 0,
    epochs: int = 150,
    batch_size: int = 500,
    lr: float = 1e-2,
    dropout: float = 0.1,
    progress: bool = False,
) -> np.ndarray:
    """Train the original's 3-FC MLP (width N, LeakyReLU, BatchNorm, dropout) on MSE; predict ``test_x``.

    The original trained 5,000 epochs at batch 10,000 with Adam 1e-3. The
    signal is small next to the targets' irreducible noise, so a short run
    underfits badly (0.86 reconstructed accuracy after 40 epochs, 0.90 after
    150 on the same data); 150 one-cycle epochs at 1e-2 match 500 epochs at batch 2,000.
    """
    import torch

    from .config import TrainConfig
    from .models import MiddleLayers, seed_module
    from .train import make_generator, one_cycle

    gen = make_generator(seed, 7)
    cfg = TrainConfig(middle_dropout=dropout, epochs=epochs, batch_size=batch_size, lr=lr)
    latent = train_x.shape[1]
    model = seed_module(MiddleLayers(latent, cfg), gen)
    xt, yt = torch.tensor(train_x), torch.tensor(train_y)  # copies: Arrow-backed arrays are read-only
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    n = len(xt)
    steps = (n + batch_size - 1) // batch_size
    total = epochs * steps
    step = 0
    model.train()
    from tqdm.auto import tqdm

    for _ in tqdm(range(epochs), desc="mlp", disable=not progress):
        order = torch.randperm(n, generator=gen)
        for i in range(steps):
            idx = order[i * batch_size:(i + 1) * batch_size]
            for g in opt.param_groups:
                g["lr"] = lr * one_cycle(step, total)
            loss = torch.nn.functional.mse_loss(model(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    model.eval()
    with torch.no_grad():
        return model(torch.tensor(test_x)).numpy()

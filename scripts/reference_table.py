"""Print the markdown table of the shipped reference variants, from their records (README's table).

Usage: python scripts/reference_table.py
"""

from __future__ import annotations

import numpy as np

from ldmnist_hub import store
from ldmnist_hub.produce import reference


def main() -> None:
    # The records' "oracle_mse" is the within-class variance of the test y, not the leaderboard's oracle floor
    # (the MSE of predicting the class VAE's mean, just above it): one name per quantity.
    print("| variant | class-VAE acc. | image-VAE loss | middle layers | `x` comps std < 0.9 | within-class variance "
          "of `y` | trained | weights |")
    print("|---|---|---|---|---|---|---|---|")
    for latent in reference.available():
        ref = reference.get(latent)
        rec = ref.record
        sc, test = rec["stats"]["scores"], rec["stats"]["splits"]["test"]
        std = np.array(test["x"]["std"])
        kb = sum(ref.weights_path(p).stat().st_size for p in store.PARTS) / 1024
        print(f"| `latent-{latent}` | {sc['class_vae_accuracy']:.4f} | {sc['image_vae_reconstruction_loss']:.4f} "
              f"| {sc['middle_layers_accuracy']:.4f} | {int((std < 0.9).sum())} | {test['oracle_mse']:.4f} "
              f"| {rec['training']['epochs']} epochs, {rec['training']['seconds'] / 60:.0f} min | {kb:.0f} KB |")


if __name__ == "__main__":
    main()

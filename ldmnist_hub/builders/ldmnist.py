"""Hugging Face ``datasets`` builder for LD-MNIST (Low-Dimensional MNIST).

Each MNIST image becomes ``x``, a sample from an image VAE's posterior, and
each label becomes ``y``, a sample from a class VAE's posterior, both of size
``latent``; the task is regression ``x -> y``. The training and encoding live
in ``ldmnist_hub.produce.build``; this file only declares configs, features and splits
(the schema itself is :mod:`ldmnist_hub.core.schema`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import datasets
import pyarrow as pa

from ldmnist_hub.core.config import TrainConfig, VariantConfig
from ldmnist_hub.core.schema import DESCRIPTION, HOMEPAGE, LDMNIST_CITATION, features
from ldmnist_hub.data import sources

# Bump on any change that alters the produced bytes; release notes below.
VERSION = datasets.Version("3.0.0")
RELEASE_NOTES = {
    "1.0.0": "First release: canonical CPU recipe (see ldmnist_hub.config.TrainConfig).",
    "2.0.0": "latent-N is the reference data: the official MNIST encoded bit-exactly (ldmnist_hub.exact) with "
             "weights shipped in the package, trained once with the original's recipe as it ran (no dropout, "
             "frozen-statistics BatchNorm, full joint gradient). Trained variants are named latent-N-trained-<digest>. "
             "Every 1.x cache is invalidated.",
    "3.0.0": "Three splits: the reference weights of 3.0.0 are trained on MNIST training rows 0-49,999 only, which "
             "are its train split; rows 50,000-59,999 are its validation split (a hold-out the VAEs and middle "
             "layers never saw, to tune on honestly) and the test split is MNIST's. mnist_index is the row in the "
             "MNIST file it came from. The 2.0.0 data stays loadable, bit-identical (version='2.0.0'), with its two "
             "splits. The builder also writes 2.0.0 and trained variants with their own splits.",
}
_ROWS_PER_TABLE = 10_000
# datasets "extends" a builder's module for streaming (fsspec-aware open, os.path.join, ...) on every first
# use in a process, importing scipy.io among others (~0.3 s of a warm load). This builder reads no files
# itself (ldmnist_hub does, locally), so there is nothing to patch; datasets skips modules marked like this.
_patched_for_streaming = True


@dataclass
class LDMNISTConfig(datasets.BuilderConfig):
    """One variant: latent size, seed, source and training recipe (JSON of TrainConfig fields).

    ``data_dir`` points at local raw files (e.g. the four MNIST IDX files).
    """

    latent: int = 32
    seed: int = 0
    source: str = "mnist"
    training: str = field(default_factory=lambda: json.dumps(TrainConfig().to_dict(), sort_keys=True))
    retrain: bool = False
    progress: bool = True

    @property
    def variant(self) -> VariantConfig:
        return VariantConfig(self.latent, self.seed, self.source, TrainConfig.from_dict(json.loads(self.training)),
                             retrain=self.retrain)


class Ldmnist(datasets.ArrowBasedBuilder):
    """LD-MNIST: ``x``/``y`` latent samples, the MNIST ``label`` and its ``mnist_index``."""

    BUILDER_CONFIG_CLASS = LDMNISTConfig
    # Any latent size 1..512 is valid, so configs are made on the fly by
    # ldmnist_hub.load_dataset (named by VariantConfig.name) rather than listed.
    VERSION = VERSION

    def _info(self) -> datasets.DatasetInfo:
        source = sources.get_source(self.config.source)
        return datasets.DatasetInfo(
            description=DESCRIPTION,
            features=features(self.config.latent, source.classes),
            homepage=HOMEPAGE,
            license=source.license,
            citation=f"{source.citation}\n{LDMNIST_CITATION}",
        )

    def _split_generators(self, dl_manager: datasets.DownloadManager) -> list[datasets.SplitGenerator]:
        from ldmnist_hub.produce.build import produce_splits, resolve_source

        data = resolve_source(self.config.source, self.config.data_dir)
        encoded = produce_splits(
            self.config.variant, data, self.config.name, self.hash, progress=self.config.progress
        )
        # The variant's own splits: train, validation (3.0.0 on) and test, each with its MNIST rows.
        return [datasets.SplitGenerator(name=datasets.Split(split), gen_kwargs={"arrays": arrays})
                for split, arrays in encoded.items()]

    def _generate_tables(self, arrays):
        x, y, labels, mnist_index = arrays
        n = x.shape[1]
        for start in range(0, len(x), _ROWS_PER_TABLE):
            stop = min(start + _ROWS_PER_TABLE, len(x))
            yield start, pa.table({
                "x": pa.FixedSizeListArray.from_arrays(pa.array(x[start:stop].reshape(-1)), n),
                "y": pa.FixedSizeListArray.from_arrays(pa.array(y[start:stop].reshape(-1)), n),
                "label": pa.array(labels[start:stop], pa.int64()),
                "mnist_index": pa.array(mnist_index[start:stop], pa.int64()),
            })

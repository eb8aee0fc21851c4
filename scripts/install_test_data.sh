#!/usr/bin/env bash
# Install Debian's dataset-fashion-mnist (the full official Fashion-MNIST, IDX files under
# /usr/share/datasets/fashion-mnist) for tests/test_fashion_mnist.py, which skips without it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/apt_install.sh dataset-fashion-mnist

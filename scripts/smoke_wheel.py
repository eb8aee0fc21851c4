"""Smoke test of an installed wheel: run from outside the repository.

Builds a tiny variant from the test fixture and loads it back, proving that the
builder and card templates ship inside the wheel.

Usage: python smoke_wheel.py PATH/TO/tests/data/mnist-tiny
"""

import os
import sys
import tempfile

os.environ["LDMNIST_HOME"] = tempfile.mkdtemp()
import ldmnist_hub  # noqa: E402
import ldmnist_hub.explorer  # noqa: E402
from ldmnist_hub import cards, load_dataset  # noqa: E402

assert "site-packages" in ldmnist_hub.__file__, f"not the installed wheel: {ldmnist_hub.__file__}"
assert "LD-MNIST" in cards.template(), "card template missing from the wheel"
ds = load_dataset("ldmnist", latent=2, data_dir=sys.argv[1], train={"epochs": 1, "batch_size": 100}, progress=False)
assert ds["train"].num_rows == 300 and ds["test"].num_rows == 100, ds
assert ds["train"].features["x"].length == 2
# Publishing renders the shipped card template and writes the Hub layout.
mirror = os.path.join(tempfile.mkdtemp(), "mirror")
pushed = ldmnist_hub.push(2, mirror, data_dir=sys.argv[1], train={"epochs": 1, "batch_size": 100}, progress=False,
                          allow_unofficial_source=True)
assert pushed.changed and os.path.isfile(os.path.join(mirror, "README.md")), pushed
# The explorer's page template ships as package data.
page = ldmnist_hub.explorer.write_explorer(2, os.path.join(mirror, "explorer.html"), data_dir=sys.argv[1],
                                           train={"epochs": 1, "batch_size": 100}, n_samples=10)
assert page.stat().st_size > 1000, page
print("wheel smoke test passed:", ldmnist_hub.__file__)

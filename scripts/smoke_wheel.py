"""Smoke test of an installed wheel: run from outside the repository.

Builds a tiny variant from the test fixture and loads it back, proving that the
builder, the card templates and the reference weights ship inside the wheel
(with ``LDMNIST_MNIST_DIR`` set, also encodes the reference latent-32).

Usage: python smoke_wheel.py PATH/TO/tests/fixtures/mnist-tiny
"""

import os
import sys
import tempfile

os.environ["LDMNIST_HOME"] = tempfile.mkdtemp()
import ldmnist_hub  # noqa: E402
import ldmnist_hub.viz.explorer  # noqa: E402
from ldmnist_hub import cards, load_dataset  # noqa: E402
from ldmnist_hub.core import paths  # noqa: E402
from ldmnist_hub.produce import reference  # noqa: E402

assert "site-packages" in ldmnist_hub.__file__, f"not the installed wheel: {ldmnist_hub.__file__}"
assert "LD-MNIST" in cards.template(), "card template missing from the wheel"
# The reference weights and records ship as package data, unaltered.
assert 32 in reference.available(), f"reference weights missing from the wheel: {paths.REFERENCE_ROOT}"
for latent in reference.available():
    reference.get(latent).verify_weights()
if os.environ.get("LDMNIST_MNIST_DIR"):
    # The reference latent-32 from the full MNIST: encoded and checked against the record (raises on a mismatch).
    ref = load_dataset("ldmnist", latent=32, progress=False)
    assert ref["test"].num_rows == 10000, ref
ds = load_dataset("ldmnist", latent=2, data_dir=sys.argv[1], train={"epochs": 1, "batch_size": 100}, progress=False)
assert ds["train"].num_rows == 300 and ds["test"].num_rows == 100, ds
assert ds["train"].features["x"].length == 2
# Publishing renders the shipped card template and writes the Hub layout.
mirror = os.path.join(tempfile.mkdtemp(), "mirror")
pushed = ldmnist_hub.push(2, mirror, data_dir=sys.argv[1], train={"epochs": 1, "batch_size": 100}, progress=False,
                          allow_unofficial_source=True)
assert pushed.changed and os.path.isfile(os.path.join(mirror, "README.md")), pushed
# The explorer's page template ships as package data.
page = ldmnist_hub.viz.explorer.write_explorer(2, os.path.join(mirror, "explorer.html"), data_dir=sys.argv[1],
                                           train={"epochs": 1, "batch_size": 100}, n_samples=10)
assert page.stat().st_size > 1000, page
print("wheel smoke test passed:", ldmnist_hub.__file__)

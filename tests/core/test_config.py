"""Specification of variant configs and their validation at the public boundary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import ldmnist_hub
from ldmnist_hub.core.config import TrainConfig, VariantConfig, check_latent, parse_config_name
from ldmnist_hub.loading.load import resolve_variant


@pytest.mark.parametrize("latent", [0, -1, 513, 3.5, "32", True])
def test_load_dataset_rejects_bad_latent_naming_value_and_range_before_any_io(
    latent: Any, ldmnist_home: Path, tiny_dir: Path
) -> None:
    with pytest.raises(ValueError, match=re.escape(f"latent={latent!r}")) as info:
        ldmnist_hub.load_dataset("ldmnist", latent=latent, data_dir=tiny_dir)
    assert "[1, 512]" in str(info.value)
    assert not ldmnist_home.exists()


@pytest.mark.parametrize("latent", [1, 512, np.int64(32)])
def test_check_latent_accepts_range_ends_and_numpy_ints_returning_int(latent: Any) -> None:
    value = check_latent(latent)
    assert value == latent
    assert type(value) is int


def test_load_dataset_rejects_name_and_latent_that_disagree(ldmnist_home: Path, tiny_dir: Path) -> None:
    with pytest.raises(ValueError, match=r"name='latent-16' asks for latent 16 but latent=32"):
        ldmnist_hub.load_dataset("ldmnist", "latent-16", latent=32, data_dir=tiny_dir)
    assert not ldmnist_home.exists()


def test_resolve_variant_accepts_name_and_latent_that_agree() -> None:
    assert resolve_variant("latent-16", 16) == VariantConfig(latent=16)


@pytest.mark.parametrize("name", ["latent-x", "latent-", "latent--3", "latent-3.5", "32", "LATENT-32", "latent-0",
                                  "latent-513"])
def test_load_dataset_rejects_malformed_or_out_of_range_names(name: str, ldmnist_home: Path, tiny_dir: Path) -> None:
    with pytest.raises(ValueError, match="latent"):
        ldmnist_hub.load_dataset("ldmnist", name, data_dir=tiny_dir)
    assert not ldmnist_home.exists()


def test_parse_config_name_error_quotes_the_name() -> None:
    with pytest.raises(ValueError, match=re.escape("got name='latent-x'")):
        parse_config_name("latent-x")


@pytest.mark.parametrize(
    ("name", "latent"), [(None, None), ("latent-16", None), (None, 7), ("latent-512", 512), ("latent-1", None)]
)
def test_resolve_variant_takes_latent_from_name_or_argument_default_32(
    name: str | None, latent: int | None
) -> None:
    expected = latent or (int(name.removeprefix("latent-")) if name else 32)
    assert resolve_variant(name, latent).latent == expected


@pytest.mark.parametrize(
    ("config", "name"),
    [
        (VariantConfig(latent=32), "latent-32"),
        (VariantConfig(latent=32, seed=1), "latent-32-seed-1"),
        # Another source has no reference weights: it is trained, and its name says so.
        (VariantConfig(latent=32, source="fashion_mnist"), "latent-32-fashion-mnist-trained-44136fa3"),
        # Explicitly passing the default recipe is still the reference.
        (VariantConfig(latent=32, train=TrainConfig(**TrainConfig().to_dict())), "latent-32"),
    ],
)
def test_variant_config_name(config: VariantConfig, name: str) -> None:
    assert config.name == name
    assert config.is_canonical == (name.count("-") == 1)


def test_train_overrides_append_an_8_hex_digest_of_the_overrides() -> None:
    a = VariantConfig(latent=16, train=TrainConfig(epochs=2))
    b = VariantConfig(latent=16, train=TrainConfig(epochs=3))
    c = VariantConfig(latent=16, seed=1, train=TrainConfig(epochs=2))
    assert re.fullmatch(r"latent-16-trained-[0-9a-f]{8}", a.name)
    assert re.fullmatch(r"latent-16-seed-1-trained-[0-9a-f]{8}", c.name)
    assert a.name != b.name
    assert a.name.rsplit("-", 1)[1] == c.name.rsplit("-", 1)[1]
    assert not a.is_canonical
    assert a.train.overrides() == {"epochs": 2}


def test_train_digest_does_not_depend_on_how_hidden_is_spelled() -> None:
    as_list = VariantConfig(train=TrainConfig(hidden=[32, 16]))
    assert as_list.name == VariantConfig(train=TrainConfig(hidden=(32, 16))).name


def test_variant_config_round_trips_through_dict() -> None:
    config = VariantConfig(latent=5, seed=3, train=TrainConfig(epochs=4, hidden=(32,), lr_schedule="plateau"))
    assert VariantConfig.from_dict(config.to_dict()) == config


@pytest.mark.parametrize("field", ["dropout", "code_dropout", "middle_dropout"])
@pytest.mark.parametrize("value", [1.0, -0.1, 1.5, "0.3"])
def test_train_config_rejects_dropout_outside_0_1(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{field}={value!r}")):
        TrainConfig(**{field: value})


@pytest.mark.parametrize("value", [0.0, 1.0])
def test_train_config_accepts_joint_weight_0_and_1(value: float) -> None:
    assert TrainConfig(joint_weight=value).joint_weight == value


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr_schedule": "cosine"}, "lr_schedule='cosine'"),
        ({"epochs": 0}, "epochs=0"),
        ({"epochs": 2.0}, "epochs=2.0"),
        ({"batch_size": -1}, "batch_size=-1"),
        ({"lr": 0.0}, "lr=0.0"),
        ({"hidden": ()}, "hidden=()"),
        ({"hidden": (64, 0)}, "hidden=(64, 0)"),
        ({"joint_weight": 1.1}, "joint_weight=1.1"),
    ],
)
def test_train_config_rejects_bad_fields_naming_the_value(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        TrainConfig(**kwargs)


def test_load_dataset_rejects_unknown_train_field_before_any_io(ldmnist_home: Path, tiny_dir: Path) -> None:
    with pytest.raises(TypeError, match="epoch"):
        ldmnist_hub.load_dataset("ldmnist", latent=4, train={"epoch": 1}, data_dir=tiny_dir)
    assert not ldmnist_home.exists()


@pytest.mark.parametrize(("field", "value"), [("seed", -1), ("seed", "1"), ("source", "")])
def test_variant_config_rejects_bad_seed_and_source(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{field}={value!r}")):
        VariantConfig(**{field: value})

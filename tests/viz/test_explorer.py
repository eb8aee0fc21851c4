"""Specification of the latent explorer page: self-contained, and in a real headless Chromium it decodes,
classifies and loads codes exactly as the numpy codecs do.

The browser tests need ``chromium``, ``chromedriver`` and ``selenium`` (``scripts/install_browser.sh``) and
skip without them.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ldmnist_hub.loading.arrays import load_numpy
from ldmnist_hub.scoring.codecs import apply_middle_layers, decode_images, decode_labels
from ldmnist_hub.scoring.importance import importance_order
from ldmnist_hub.viz.explorer import explorer_payload, payload_array, write_explorer

# The issue asks for 1e-3 per pixel; the page is measured at ~1e-7 (tiny) to 2e-6 (latent 32), and the tiny
# decoder is nearly flat, so 1e-3 would let a 1% BatchNorm error through: test at 1e-5.
PIXEL_TOL = 1e-5
PROB_TOL = 1e-4
TIMEOUT_S = 20
CELL = 10  # canvas pixels per image pixel (280 / 28)
INSTALL_HINT = "run scripts/install_browser.sh (apt chromium + chromium-driver, pip selenium)"


@pytest.fixture
def variant(tiny_kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: tiny_kwargs[k] for k in ("latent", "train", "data_dir")} | {"build": False, "progress": False}


@pytest.fixture(scope="module")
def page(tiny_build: tuple[Path, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The explorer of the tiny variant (latent 4), written once for the module."""
    from conftest import ISOLATED_VARS, TINY_DIR, TINY_LATENT, TINY_TRAIN

    home, _ = tiny_build
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LDMNIST_HOME", str(home))
        for var in ISOLATED_VARS:
            mp.delenv(var, raising=False)
        return write_explorer(TINY_LATENT, tmp_path_factory.mktemp("explorer") / "explorer.html",
                              train=dict(TINY_TRAIN), data_dir=TINY_DIR, n_samples=50)


def _payload(html: str) -> dict[str, Any]:
    blob = re.search(r'<script type="application/json" id="ldmnist-payload">(.*?)</script>', html, re.S)
    assert blob is not None
    return json.loads(blob.group(1))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium (Selenium + the system chromedriver) for the module; skips when not installed."""
    webdriver = pytest.importorskip("selenium.webdriver", reason=f"selenium is not installed; {INSTALL_HINT}")
    from selenium.common.exceptions import WebDriverException

    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip(f"headless Chromium not found (chromium={chromium}, chromedriver={driver_path}); {INSTALL_HINT}")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    try:
        # An explicit driver path keeps Selenium Manager from trying to download one.
        driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path=driver_path), options=options)
    except WebDriverException as err:
        pytest.fail(f"headless Chromium ({chromium}) did not start: {err.msg}")
    driver.set_page_load_timeout(TIMEOUT_S)
    driver.set_script_timeout(TIMEOUT_S)
    yield driver
    driver.quit()


@pytest.fixture
def loaded(browser: Any, page: Path) -> Any:
    """The browser with a fresh copy of the explorer page loaded via file:// and initialised."""
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    WebDriverWait(browser, TIMEOUT_S).until(lambda d: d.execute_script("return window.ldmnistReady === true"))
    return browser


def _state(driver: Any) -> dict[str, Any]:
    return driver.execute_script("return window.ldmnistState()")


def _canvas_cells(driver: Any) -> np.ndarray:
    """Grey level at the centre of each of the 28x28 cells the page draws, read back from the canvas."""
    data = driver.execute_script(
        "const c = document.getElementById('image');"
        "return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data);"
    )
    rgba = np.asarray(data, np.float64).reshape(28 * CELL, 28 * CELL, 4)
    return rgba[CELL // 2::CELL, CELL // 2::CELL, 0]


def _assert_page_matches_numpy(driver: Any, variant: dict[str, Any]) -> float:
    """The page's image, canvas and probabilities for its current code equal numpy's; returns the max pixel gap."""
    state = _state(driver)
    code = np.asarray([state["code"]], np.float32)
    expected = decode_images(code, **variant)[0]
    pixels = np.asarray(state["pixels"]).reshape(28, 28)
    gap = float(np.abs(pixels - expected).max())
    assert gap <= PIXEL_TOL
    # The canvas shows that image (grey = round(255 * pixel); +-1 where the rounding straddles).
    assert np.abs(_canvas_cells(driver) - np.round(255 * expected)).max() <= 1
    probs = decode_labels(apply_middle_layers(code, **variant), **variant)[0]
    np.testing.assert_allclose(state["probs"], probs, atol=PROB_TOL)
    return gap


def _slider(driver: Any, component: int) -> Any:
    return driver.find_element("css selector", f'input[type=range][data-component="{component}"]')


def test_explorer_html_is_one_self_contained_file(page: Path) -> None:
    html = page.read_text(encoding="utf-8")
    assert not re.search(r"https?://", html)
    assert not re.search(r"<(script|img|iframe|link)\b[^>]*\b(src|href)\s*=", html, re.I)
    assert "@import" not in html and "url(" not in html
    # One slider per component is built from the embedded payload, decoders included.
    payload = _payload(html)
    assert payload["latent"] == 4 and len(payload["decoder"]) == 3 and len(payload["middle"]) == 3


def test_explorer_payload_holds_importance_order_real_test_codes_and_class_means(
    tiny_home: Path, variant: dict[str, Any]
) -> None:
    p = explorer_payload(n_samples=30, **variant)
    assert p["order"] == importance_order(np.asarray(p["importance"])).tolist()
    assert sorted(p["order"]) == [0, 1, 2, 3]
    x_train, _, label_train = load_numpy(split="train", **variant)
    x_test, _, label_test = load_numpy(split="test", **variant)
    rows = p["samples"]["rows"]
    assert len(rows) == len(set(rows)) == 30
    np.testing.assert_array_equal(payload_array(p["samples"]["codes"]), x_test[rows])
    assert p["samples"]["labels"] == label_test[rows].tolist()
    x_all, label_all = np.concatenate([x_train, x_test]), np.concatenate([label_train, label_test])
    means = np.stack([x_all[label_all == k].mean(0) for k in range(10)])
    np.testing.assert_allclose(payload_array(p["class_means"]["codes"]), means, atol=1e-6)
    lo, hi = np.asarray(p["ranges"]["lo"]), np.asarray(p["ranges"]["hi"])
    assert (lo <= x_all.min(0)).all() and (hi >= x_all.max(0)).all()


def test_explorer_payload_is_deterministic_for_a_sample_seed(tiny_home: Path, variant: dict[str, Any]) -> None:
    a, b = (explorer_payload(n_samples=20, sample_seed=1, **variant) for _ in range(2))
    assert a == b
    assert a["samples"]["rows"] != explorer_payload(n_samples=20, sample_seed=2, **variant)["samples"]["rows"]
    # More samples than test rows embeds the whole test split once.
    assert sorted(explorer_payload(n_samples=10_000, **variant)["samples"]["rows"]) == list(range(100))


@pytest.mark.parametrize("bad", [0, -1, True, 2.5, "200"])
def test_bad_sample_counts_are_rejected(bad: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    match = rf"n_samples must be a positive integer.*got n_samples={re.escape(repr(bad))}"
    with pytest.raises(ValueError, match=match):
        explorer_payload(n_samples=bad, **variant)


def test_explorer_of_an_unbuilt_latent_names_the_build_command(
    tiny_home: Path, variant: dict[str, Any], tmp_path: Path
) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing to explore; run `ldmnist build --latent 5 "):
        write_explorer(**{**variant, "latent": 5}, out=tmp_path / "explorer.html")
    assert not (tmp_path / "explorer.html").exists()


@pytest.mark.parametrize(
    ("out", "match"),
    [("folder", r"is a folder; pass a file path such as .*explorer\.html"),
     ("a-file/explorer.html", r"is not a writable folder; pass a path in a folder you can write to"),
     ("", r"out must be a file path")],
    ids=["folder", "under-a-file", "empty"],
)
def test_unwritable_outputs_are_rejected_before_any_work(out: str, match: str, tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    # latent 5 is not built anywhere: the output check must come first.
    with pytest.raises(ValueError, match=match):
        write_explorer(5, str(tmp_path / out) if out else out)


def test_page_decodes_like_numpy_and_redraws_when_a_slider_moves(
    loaded: Any, tiny_home: Path, variant: dict[str, Any], page: Path
) -> None:
    order = _payload(page.read_text(encoding="utf-8"))["order"]
    gaps = [_assert_page_matches_numpy(loaded, variant)]
    before = loaded.execute_script("return document.getElementById('image').toDataURL()")
    top = order[0]
    start = _state(loaded)["code"]
    target = 2.75 if start[top] < 0 else -2.75
    loaded.execute_script(
        "const s = arguments[0]; s.value = String(arguments[1]); s.dispatchEvent(new Event('input', {bubbles: true}));",
        _slider(loaded, top), target,
    )
    moved = _state(loaded)["code"]
    assert moved[top] == target and [v for j, v in enumerate(moved) if j != top] == start[:top] + start[top + 1:]
    assert loaded.execute_script("return document.getElementById('image').toDataURL()") != before
    assert _state(loaded)["source"]["kind"] == "edited"
    gaps.append(_assert_page_matches_numpy(loaded, variant))
    # A real pointer drag on the next slider moves the code too, and the page follows.
    from selenium.webdriver.common.action_chains import ActionChains

    second = _slider(loaded, order[1])
    ActionChains(loaded).click_and_hold(second).move_by_offset(-second.size["width"] // 3, 0).release().perform()
    assert _state(loaded)["code"][order[1]] != moved[order[1]]
    gaps.append(_assert_page_matches_numpy(loaded, variant))
    # ldmnistDecode is the same pass for any code, and ldmnistDecoded holds the current image.
    codes = load_numpy(split="test[:5]", **variant)[0]
    page_images = np.asarray([loaded.execute_script("return window.ldmnistDecode(arguments[0])", c.tolist())
                              for c in codes]).reshape(-1, 28, 28)
    gaps.append(float(np.abs(page_images - decode_images(codes, **variant)).max()))
    assert gaps[-1] <= PIXEL_TOL
    assert loaded.execute_script("return window.ldmnistDecoded.length") == 784
    print(f"max |page - numpy| per pixel: {max(gaps):.2e}")


def test_sliders_follow_decoding_importance_and_name_their_component(loaded: Any, page: Path) -> None:
    payload = _payload(page.read_text(encoding="utf-8"))
    sliders = loaded.find_elements("css selector", "#sliders input[type=range]")
    components = [int(s.get_attribute("data-component")) for s in sliders]
    assert components == payload["order"]
    labels = [e.text for e in loaded.find_elements("css selector", "#sliders label")]
    assert labels == [f"z[{j}]" for j in payload["order"]]
    importance = np.asarray(payload["importance"])[components]
    assert (np.diff(importance) <= 0).all()


def test_random_test_sample_button_loads_an_embedded_test_code(
    loaded: Any, tiny_home: Path, variant: dict[str, Any], page: Path
) -> None:
    x_test, _, label_test = load_numpy(split="test", **variant)
    rows = set(_payload(page.read_text(encoding="utf-8"))["samples"]["rows"])
    button = loaded.find_element("id", "random-sample")
    seen = set()
    for _ in range(3):
        previous = _state(loaded)["source"].get("row")
        button.click()
        source = _state(loaded)["source"]
        assert source["kind"] == "sample" and source["row"] in rows and source["row"] != previous
        np.testing.assert_array_equal(np.asarray(_state(loaded)["code"], np.float32), x_test[source["row"]])
        assert source["label"] == label_test[source["row"]]
        assert f"test row {source['row']} (label {source['label']})" in loaded.find_element("id", "source").text
        seen.add(source["row"])
    assert len(seen) >= 2
    _assert_page_matches_numpy(loaded, variant)


def test_class_mean_buttons_load_the_class_mean_of_x(loaded: Any, tiny_home: Path, variant: dict[str, Any]) -> None:
    x_train, _, label_train = load_numpy(split="train", **variant)
    x_test, _, label_test = load_numpy(split="test", **variant)
    x_all, label_all = np.concatenate([x_train, x_test]), np.concatenate([label_train, label_test])
    for k in (0, 7):
        loaded.find_element("css selector", f'#class-means button[data-class="{k}"]').click()
        assert _state(loaded)["source"] == {"kind": "class-mean", "label": k}
        np.testing.assert_allclose(_state(loaded)["code"], x_all[label_all == k].mean(0), atol=1e-6)
        _assert_page_matches_numpy(loaded, variant)


def test_probability_bars_show_the_middle_layers_prediction(
    loaded: Any, tiny_home: Path, variant: dict[str, Any]
) -> None:
    loaded.find_element("id", "zero-code").click()
    rows = loaded.find_elements("css selector", "#probs .prob")
    shown = np.asarray([float(r.get_attribute("data-prob")) for r in rows])
    assert len(shown) == 10
    assert abs(shown.sum() - 1.0) <= 1e-9
    expected = decode_labels(apply_middle_layers(np.zeros((1, 4), np.float32), **variant), **variant)[0]
    np.testing.assert_allclose(shown, expected, atol=PROB_TOL)
    assert [r.find_element("css selector", ".value").text for r in rows] == [f"{p:.3f}" for p in shown]
    top = loaded.find_elements("css selector", "#probs .prob.top")
    assert [int(t.get_attribute("data-class")) for t in top] == [int(np.argmax(shown))]


def test_page_loads_nothing_from_outside_and_logs_no_errors(loaded: Any) -> None:
    assert loaded.execute_script("return performance.getEntriesByType('resource').length") == 0
    assert loaded.find_element("id", "meta").text.startswith("variant latent-4")
    errors = [e for e in loaded.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []


def test_embedded_arrays_are_little_endian_float32(tiny_home: Path, variant: dict[str, Any]) -> None:
    entry = explorer_payload(n_samples=3, **variant)["samples"]["codes"]
    raw = base64.b64decode(entry["b64"])
    assert len(raw) == 4 * int(np.prod(entry["shape"])) and entry["shape"] == [3, 4]

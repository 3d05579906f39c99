"""The page in headless Chromium with outside traffic blocked: upload, maps, slider, H."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from causalcam.app.browser import find_browser, offline_chromium
from causalcam.app.service import ExplainService
from causalcam.data import sample_scans

pytest.importorskip("selenium", reason="the dev extra (selenium) is not installed")
if find_browser() is None:
    pytest.skip("chromium / chromium-driver not installed", allow_module_level=True)

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait


@pytest.fixture(scope="module")
def browser() -> Any:
    driver = offline_chromium()
    yield driver
    driver.quit()


def _masks_at(driver: Any, threshold: str) -> dict[str, str]:
    WebDriverWait(driver, 60).until(
        lambda d: d.find_element(By.ID, "masks").get_attribute("data-threshold") == threshold
    )
    return {
        name: driver.find_element(By.ID, name).text
        for name in ("deletion-H", "deletion-prediction", "insertion-H", "insertion-prediction")
    }


def _page_with_model(browser: Any, live_server: str, model: str) -> Any:
    """The page with ``model`` chosen; its file field, made visible."""
    from selenium.webdriver.support.ui import Select

    browser.get(live_server + "/")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    Select(browser.find_element(By.ID, "model")).select_by_value(model)
    field = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].classList.remove('hidden')", field)
    return field


def _sample_scan(folder: Path) -> str:
    """A bundled sample scan copied to ``folder/scan.png``."""
    scan = folder / "scan.png"
    shutil.copy(sample_scans()[0].path, scan)
    return str(scan)


def test_upload_maps_and_slider_offline(
    browser: Any, live_server: str, service: ExplainService, tmp_path: Path
) -> None:
    size = service.model("default").preprocessing.size
    browser.get(live_server + "/")
    assert "Research use only" in browser.find_element(By.ID, "notice").text
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    scan = tmp_path / "scan.png"
    shutil.copy(sample_scans()[0].path, scan)
    field = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].classList.remove('hidden')", field)
    field.send_keys(str(scan))
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("data-token")
    )
    methods = [
        image.get_attribute("data-method")
        for image in browser.find_elements(By.CSS_SELECTOR, "#maps img")
    ]
    assert methods == ["scan", "gradcam", "gradcam++", "causal", "contrast_pq", "contrast_p"]
    WebDriverWait(browser, 30).until(
        lambda d: d.execute_script(
            "return [...document.querySelectorAll('#maps img')].every((i) => i.complete"
            " && i.naturalWidth === arguments[0] && i.src.startsWith('data:'))",
            size,
        )
    )
    assert "Predicted" in browser.find_element(By.ID, "prediction").text
    middle = _masks_at(browser, "0.5")
    slider = browser.find_element(By.ID, "threshold")
    slider.send_keys(Keys.END)  # move the slider to tau = 1: deletion keeps nothing
    end = _masks_at(browser, "1")
    assert float(end["deletion-H"]) < float(middle["deletion-H"])
    assert float(end["insertion-H"]) > float(middle["insertion-H"])
    assert end["deletion-prediction"] != middle["deletion-prediction"]
    assert browser.find_element(By.ID, "error").text == ""
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert all(name.startswith((live_server, "data:")) for name in resources), resources
    browser.save_screenshot(str(tmp_path / "page.png"))
    assert (tmp_path / "page.png").read_bytes()[:4] == b"\x89PNG"


def test_outside_traffic_is_blocked(browser: Any, live_server: str) -> None:
    browser.get(live_server + "/")
    outcome = browser.execute_async_script(
        "const done = arguments[0];"
        "fetch('http://example.com/', {mode: 'no-cors'})"
        ".then(() => done('reached'), () => done('blocked'));"
    )
    assert outcome == "blocked"


def test_errors_show_in_the_page(browser: Any, live_server: str, tmp_path: Path) -> None:
    browser.get(live_server + "/")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    field = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].classList.remove('hidden')", field)
    field.send_keys(str(bad))
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "error").text)
    assert "broken.png" in browser.find_element(By.ID, "error").text
    good = tmp_path / "good.png"
    shutil.copy(sample_scans()[3].path, good)
    field.send_keys(str(good))  # the server still answers
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "result").get_attribute("data-token")
    )


def test_nifti_volume_gets_a_slice_slider(browser: Any, live_server: str, tmp_path: Path) -> None:
    nib = pytest.importorskip("nibabel")
    import numpy as np

    data = np.full((48, 48, 5), -1000.0, dtype=np.float32)
    data[12:36, 12:36, :] = np.arange(5) * 150.0 - 300.0
    path = tmp_path / "volume.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([0.8, 0.8, 2.5, 1.0])), path)
    browser.get(live_server + "/")
    WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#model option"))
    field = browser.find_element(By.ID, "file")
    browser.execute_script("arguments[0].classList.remove('hidden')", field)
    field.send_keys(str(path))
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "slice").is_displayed())
    assert browser.find_element(By.ID, "slice-label").text == "3 of 5"
    scan = browser.find_element(By.CSS_SELECTOR, "img[data-method='scan']").get_attribute("src")
    browser.find_element(By.ID, "slice").send_keys(Keys.END)
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "slice-label").text == "5 of 5"
    )
    shown = browser.find_element(By.CSS_SELECTOR, "img[data-method='scan']").get_attribute("src")
    assert shown != scan


def test_a_3d_network_shows_a_volume_in_three_planes(
    browser: Any, live_server: str, lesion_volume: Path, tmp_path: Path
) -> None:
    field = _page_with_model(browser, live_server, "small3d-lesion")
    field.send_keys(_sample_scan(tmp_path))  # a 2-D image for a 3-D network: a clear message
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.ID, "error").text)
    assert "scan.png is a 2-D image; a 3-D network" in browser.find_element(By.ID, "error").text
    field.send_keys(str(lesion_volume))
    WebDriverWait(browser, 60).until(
        lambda d: d.find_element(By.ID, "volume").get_attribute("data-token")
    )
    assert browser.find_element(By.ID, "error").text == ""
    assert not browser.find_element(By.ID, "result").is_displayed()
    assert "lesion" in browser.find_element(By.ID, "volume-prediction").text
    for plane in ("axial", "coronal", "sagittal"):
        assert browser.find_element(By.ID, f"label-{plane}").text == "17 of 32"
        WebDriverWait(browser, 30).until(
            lambda d, plane=plane: d.execute_script(
                "const images = [...document.querySelectorAll(`#images-${arguments[0]} img`)];"
                "return images.length === 6 && images.every((i) => i.complete"
                " && i.naturalWidth === 32 && i.src.startsWith('data:'))",
                plane,
            )
        )
    picture = "#images-coronal img[data-method='causal']"
    before = browser.find_element(By.CSS_SELECTOR, picture).get_attribute("src")
    axial = browser.find_element(By.CSS_SELECTOR, "#images-axial img[data-method='causal']")
    axial_before = axial.get_attribute("src")
    browser.find_element(By.ID, "slice-coronal").send_keys(Keys.HOME)
    WebDriverWait(browser, 30).until(
        lambda d: d.find_element(By.ID, "plane-coronal").get_attribute("data-index") == "0"
    )
    assert browser.find_element(By.ID, "label-coronal").text == "1 of 32"
    assert browser.find_element(By.CSS_SELECTOR, picture).get_attribute("src") != before
    assert axial.get_attribute("src") == axial_before  # the other planes stay where they were


def test_a_segmentation_network_shows_its_region(
    browser: Any, live_server: str, tmp_path: Path
) -> None:
    """The region's class and size beside the maps; choosing a class the network predicts
    nowhere shows the server's message."""
    from selenium.webdriver.support.ui import Select

    _page_with_model(browser, live_server, "seg.pt").send_keys(_sample_scan(tmp_path))
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "region-row").is_displayed())
    chooser = Select(browser.find_element(By.ID, "segment"))
    assert chooser.first_selected_option.text == "covid"
    assert [o.text for o in chooser.options] == ["background", "covid", "nocovid"]
    assert browser.find_element(By.ID, "region-label").text == "100.0% of the pixels"
    assert "covid" in browser.find_element(By.ID, "prediction").text
    chooser.select_by_value("nocovid")
    WebDriverWait(browser, 60).until(lambda d: d.find_element(By.ID, "error").text)
    assert "no pixel of slice 0 is predicted as nocovid" in (
        browser.find_element(By.ID, "error").text
    )
    Select(browser.find_element(By.ID, "model")).select_by_value("default")
    WebDriverWait(browser, 60).until(
        lambda d: not d.find_element(By.ID, "region-row").is_displayed()
    )

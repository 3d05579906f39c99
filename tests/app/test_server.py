"""The page's HTTP API on a live local server: answers, errors in JSON, no outside resources."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from typing import Any

import pytest

from causalcam.data import sample_scans
from causalcam.models import default_model


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _post(url: str, data: bytes) -> tuple[int, Any]:
    request = urllib.request.Request(url, data=data, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_page_is_self_contained(live_server: str) -> None:
    status, page = _get(live_server + "/")
    assert status == 200
    text = page.decode()
    accuracy = default_model().meta.metrics["test"]["accuracy"]
    assert "Research use only" in text and f"{100 * accuracy:.1f}%" in text  # 69.0% now
    assert not re.search(r"(src|href)=\"(https?:)?//", text)  # nothing loaded from elsewhere
    assert "fonts.googleapis" not in text and "http://" not in text and "https://" not in text
    for docs in ("/docs", "/redoc", "/openapi.json"):  # these would load scripts from a CDN
        assert _get(live_server + docs)[0] == 404


def test_errors_come_back_as_json_and_the_server_keeps_serving(live_server: str) -> None:
    status, body = _post(live_server + "/api/explain?name=junk.png", b"junk")
    assert status == 400 and "junk.png" in body["error"]
    status, body = _post(live_server + "/api/explain?name=a.png&loss=hinge", b"x")
    assert status == 400 and "hinge" in body["error"]
    scan = sample_scans()[0].path.read_bytes()
    status, body = _post(live_server + "/api/explain?name=covid_1.png", scan)
    assert status == 200 and body["scan"].startswith("data:image/png;base64,")
    token = body["token"]
    status, raw = _get(f"{live_server}/api/masks?token={token}&index=0&method=causal&threshold=0.4")
    masks = json.loads(raw)
    assert status == 200 and 0 < masks["deletion"]["H"] < 1
    status, raw = _get(f"{live_server}/api/masks?token=nope&index=0&method=causal&threshold=0.4")
    assert status == 400 and "no longer held" in json.loads(raw)["error"]
    status, raw = _get(f"{live_server}/api/panel/{token}/0")
    assert status == 200 and raw[:4] == b"\x89PNG"


@pytest.mark.parametrize("threshold", ["-1", "2"])
def test_out_of_range_threshold(live_server: str, threshold: str) -> None:
    scan = sample_scans()[1].path.read_bytes()
    token = _post(live_server + "/api/explain?name=s.png", scan)[1]["token"]
    query = f"token={token}&index=0&method=causal&threshold={threshold}"
    status, raw = _get(f"{live_server}/api/masks?{query}")
    assert status == 400 and "outside [0, 1]" in json.loads(raw)["error"]


def _png_shape(data_url: str) -> tuple[int, ...]:
    import base64
    import io

    import numpy as np
    from PIL import Image

    header = "data:image/png;base64,"
    assert data_url.startswith(header)
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(data_url[len(header) :])))).shape


def test_a_3d_network_serves_a_volume_in_three_planes(live_server: str, lesion_volume: Any) -> None:
    _, raw = _get(live_server + "/api/options")
    assert "small3d-lesion" in json.loads(raw)["models"]
    url = f"{live_server}/api/explain?name={lesion_volume.name}&model=small3d-lesion"
    request = urllib.request.Request(url, data=lesion_volume.read_bytes(), method="POST")
    with urllib.request.urlopen(request, timeout=60) as response:
        raw = response.read()
    body = json.loads(raw)
    assert len(raw) < 200_000  # the middle slice of three planes, not the volume
    assert body["kind"] == "volume" and body["predicted_class"] == "lesion"
    assert list(body["planes"]) == ["axial", "coronal", "sagittal"]
    for shown in body["planes"].values():
        assert _png_shape(shown["scan"]) == (32, 32)
        assert {_png_shape(image) for image in shown["overlays"].values()} == {(32, 32, 3)}
    query = f"token={body['token']}&plane=sagittal&index=31"
    status, raw = _get(f"{live_server}/api/plane?{query}")
    shown = json.loads(raw)
    assert status == 200 and (shown["plane"], shown["index"], shown["slices"]) == (
        "sagittal",
        31,
        32,
    )
    assert shown["scan"] != body["planes"]["sagittal"]["scan"]
    status, raw = _get(f"{live_server}/api/plane?token={body['token']}&plane=axial&index=40")
    assert status == 400 and "outside 0..31" in json.loads(raw)["error"]
    scan = sample_scans()[0].path.read_bytes()
    status, body = _post(live_server + "/api/explain?name=covid_1.png&model=small3d-lesion", scan)
    assert status == 400 and "covid_1.png is a 2-D image" in body["error"]

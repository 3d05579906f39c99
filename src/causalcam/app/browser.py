"""The page in a real headless Chromium (Debian's ``chromium`` + ``chromium-driver``) with all
outside traffic blocked, driven by Selenium: for the browser test, the speed benchmark and
the README screenshot.

Blocking: every request goes through a proxy on a closed local port (loopback, where the
page lives, bypasses proxies), host names other than loopback do not resolve, and Chromium's
background services (updates, sync, component downloads) are off.
"""

from __future__ import annotations

import shutil
from typing import Any

from ..extras import require

#: A local port nothing listens on: the proxy that refuses every outside request.
CLOSED_PROXY = "http://127.0.0.1:9"
OFFLINE_FLAGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    f"--proxy-server={CLOSED_PROXY}",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--metrics-recording-only",
)


def find_browser() -> tuple[str, str] | None:
    """Paths of ``chromium`` and ``chromedriver``, or ``None`` if either is missing."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def offline_chromium(width: int = 1400, height: int = 1100) -> Any:
    """A Selenium Chrome driver on the system Chromium with :data:`OFFLINE_FLAGS`."""
    webdriver = require("selenium.webdriver", "driving the page in Chromium")
    found = find_browser()
    if found is None:
        raise RuntimeError("chromium and chromium-driver are not installed (apt-get install)")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in (*OFFLINE_FLAGS, f"--window-size={width},{height}"):
        options.add_argument(flag)
    service = webdriver.ChromeService(executable_path=found[1])
    return webdriver.Chrome(options=options, service=service)

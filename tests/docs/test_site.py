"""The documentation site: `mkdocs build --strict` passes, the site loads nothing from outside,
and in headless Chromium, opened from the file system, the API page of `Explainer` shows its
signature and the search finds a page."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if not (REPO / "mkdocs.yml").is_file():
    pytest.skip("a source checkout's mkdocs.yml and docs/ are needed", allow_module_level=True)
for module in ("mkdocs", "material", "mkdocstrings_handlers.python"):
    pytest.importorskip(module, reason="the docs extra is not installed")

#: Public names whose API entries the reference must hold, by page.
API_PAGES = {
    "causalcam": "causalcam",
    "causalcam.explain": "explain",
    "causalcam.evaluate": "evaluate",
}
_EXTERNAL = re.compile(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=\"(?:https?:)?//", re.I)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built from the working tree with ``mkdocs build --strict``."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-d", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return out


def test_every_public_name_has_an_entry(site: Path) -> None:
    for module, page in API_PAGES.items():
        ids = set(re.findall(r'id="([^"]+)"', (site / "api" / f"{page}.html").read_text()))
        names = importlib.import_module(module).__all__
        missing = [n for n in names if f"{module}.{n}" not in ids]
        assert not missing, f"{module}: {missing}"


def test_nothing_is_loaded_from_outside(site: Path) -> None:
    loading = [
        f"{page.relative_to(site)}: {match.group(0)}"
        for page in site.rglob("*.html")
        for match in _EXTERNAL.finditer(page.read_text(encoding="utf-8"))
    ]
    assert not loading, loading[:5]


def test_home_page_is_the_readme(site: Path) -> None:
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "Does the paper hold?" in home
    assert 'href="reproduction.html"' in home
    assert 'src="demo-panel.png"' in home


def _hooks() -> Any:
    spec = importlib.util.spec_from_file_location("docs_hooks", REPO / "docs" / "hooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_links_become_site_links() -> None:
    text = "[guide](docs/engine.md), ![p](docs/a.png), [LICENSE](LICENSE), [x](#install)"
    assert (
        _hooks().readme_as_home(text) == "[guide](engine.md), ![p](a.png), LICENSE, [x](#install)"
    )


@pytest.fixture(scope="module")
def browser() -> Any:
    browser_module = pytest.importorskip("causalcam.app.browser")
    pytest.importorskip("selenium", reason="the dev extra (selenium) is not installed")
    if browser_module.find_browser() is None:
        pytest.skip("chromium / chromium-driver not installed")
    driver = browser_module.offline_chromium()
    yield driver
    driver.quit()


def test_explainer_page_renders_its_signature(site: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    browser.get((site / "api" / "causalcam.html").as_uri() + "#causalcam.Explainer")
    heading = browser.find_element(By.ID, "causalcam.Explainer")
    assert heading.text.strip().startswith("Explainer")
    signature = heading.find_element(By.XPATH, "following::div[contains(@class, 'doc-signature')]")
    text = " ".join(signature.text.split())
    assert text.startswith("Explainer( model: Module, target_layer:"), text
    assert "Explanation maps of a classifier" in browser.find_element(By.TAG_NAME, "article").text


def test_search_works_from_the_file_system(site: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((site / "index.html").as_uri())
    browser.find_element(By.CSS_SELECTOR, "label.md-search__icon, .md-search__input").click()
    browser.find_element(By.CSS_SELECTOR, "input.md-search__input").send_keys("Huffman")
    results = WebDriverWait(browser, 30).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, ".md-search-result__item")
    )
    assert any("evaluation" in r.get_attribute("innerHTML") for r in results)


#: Modules whose public functions and classes document every argument (Google style): Args
#: (of a class: of its constructor), Returns, and the Attributes of a dataclass.
DOCUMENTED = ("causalcam.evaluate",)


@pytest.mark.parametrize("module", DOCUMENTED)
def test_public_names_document_their_arguments(module: str) -> None:
    griffe = pytest.importorskip("griffe")
    package = griffe.load(module, search_paths=[str(REPO / "src")], resolve_aliases=True)
    undocumented = []
    for name in importlib.import_module(module).__all__:
        target = package[name].final_target if package[name].is_alias else package[name]
        if target.kind.value not in ("function", "class"):
            continue
        sections = target.docstring.parse("google") if target.docstring else []
        kinds = {section.kind.value for section in sections}
        if "dataclass" in target.labels:
            if "attributes" not in kinds:
                undocumented.append(f"{name}: no Attributes")
            continue
        named = {
            item.name
            for section in sections
            if section.kind.value == "parameters"
            for item in section.value
        }
        wanted = {p.name for p in target.parameters if p.name not in ("self", "cls")}
        if wanted - named:
            undocumented.append(f"{name}: {sorted(wanted - named)} not in Args")
        returns = target.kind.value == "function" and target.returns not in (None, "None")
        if returns and "returns" not in kinds:
            undocumented.append(f"{name}: no Returns")
    assert not undocumented, undocumented

"""The dashboard's plotly.js bundles: served by the API itself, gzipped, cached for good when versioned."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from backend.main import FRONTEND_DIR, plotly_js_path

CHARTS_JS = FRONTEND_DIR / "js" / "charts.js"


def bundle_urls() -> list[str]:
    """Every plotly.js URL the frontend can load (PLOTLY_BUNDLES in js/charts.js)."""
    return re.findall(r'url: "(/vendor/[^"]+)"', CHARTS_JS.read_text())


def test_every_bundle_the_frontend_names_is_served_gzipped_and_cacheable(client: TestClient) -> None:
    urls = bundle_urls()
    # the full bundle is plotly.js's "strict" build: the dashboard's CSP allows no eval (test_security_headers.py)
    assert len(urls) == 3 and any(url.startswith("/vendor/plotly-strict-") for url in urls)
    for url in urls:
        response = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.headers["content-encoding"] == "gzip"
        assert response.headers["vary"] == "Accept-Encoding"
        assert int(response.headers["content-length"]) < len(response.content) / 2  # httpx decoded it
        assert "plotly.js" in response.text[:200] and "window.Plotly" in response.text
        cache = response.headers["cache-control"]
        if url == "/vendor/plotly.min.js":  # the plotly Python package's: no version in its URL
            assert cache == "public, max-age=86400"
        else:
            assert cache == "public, max-age=31536000, immutable"
            name = Path(url).name
            assert (FRONTEND_DIR / "vendor" / name).read_bytes() == response.content
            version = re.search(r"-(\d+\.\d+\.\d+)\.min\.js$", name)
            assert version and f"v{version.group(1)}" in response.text[:200]
        again = client.get(url, headers={"If-None-Match": response.headers["etag"]})
        assert again.status_code == 304 and again.content == b""


def test_without_gzip_the_file_comes_as_it_is(client: TestClient) -> None:
    response = client.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert "content-encoding" not in response.headers
    assert response.content == plotly_js_path().read_bytes()


def test_only_scripts_of_the_vendor_folder(client: TestClient) -> None:
    for url in ("/vendor/README.md", "/vendor/LICENSE.plotly.js.txt", "/vendor/nope.js", "/vendor/..%2Fjs%2Fapp.js"):
        assert client.get(url).status_code == 404, url
    assert client.get("/vendor/.hidden.js").status_code == 404

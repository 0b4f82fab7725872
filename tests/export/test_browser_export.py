"""End to end on the synthetic hospital, in a real browser (Playwright on the system Chromium against a
live uvicorn server): a researcher saves a dataset and requests its export → the researcher's attempt
to approve their own request is refused → a steward approves → the package is built → the requester
downloads it (a zip whose manifest holds the sha256 of every file), and the steward is refused."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher

from medlake.cli import main
from medlake.settings import Settings
from medlake.store.engine import dispose_engine
from medlake.web import passwords
from medlake.web.app import create_app
from medlake.web.services.demo import create_demo_accounts
from tests.browser_support import chromium, live_server

PASSWORD = "demo-password-1"
pytestmark = pytest.mark.browser

SPEC: dict[str, Any] = {
    "name": "t2dm",
    "project": "demo",
    "cohort": {"kind": "filter"},
    "index": {"kind": "first_visit"},
    "variables": [
        {"type": "demographic", "name": "age", "field": "age"},
        {"type": "demographic", "name": "sex", "field": "sex"},
        {
            "type": "condition",
            "name": "t2dm",
            "codes": ["E11"],
            "window": {"start_days": -3650, "end_days": 3650},
        },
    ],
    "notes": {},
    "deid": {"k": 5},
}


@pytest.fixture(scope="module")
def cheap_argon2() -> Iterator[None]:
    """Argon2id with minimal cost (the default's 64 MiB per hash is slow on a shared box)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
        passwords._dummy_hash.cache_clear()
        yield
    passwords._dummy_hash.cache_clear()


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory, cheap_argon2: None) -> Iterator[Settings]:
    """A small synthetic hospital ingested into a lake, with the demo accounts (researcher is a member
    of project ``demo``; steward is the data steward)."""
    from medlake.synth import SynthConfig, generate

    root = tmp_path_factory.mktemp("browser-export")
    src, data = root / "hospital", root / "medlake-data"
    generate(SynthConfig(patients=30, seed=5, out=src, max_dicom_files=0))
    try:
        main(["ingest", str(src), "--data-dir", str(data), "--quiet"])
    except SystemExit as exc:
        assert not exc.code
    settings = Settings(data_dir=data, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    yield settings
    dispose_engine(settings)


@pytest.fixture(scope="module")
def live_url(hospital: Settings) -> Iterator[str]:
    app = create_app(hospital)
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


def _session(browser: Any, base: str, username: str) -> Any:
    """A fresh browser context logged in as ``username``; returns its page."""
    context = browser.new_context(locale="en-US", accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/dashboard")
    assert "/login" in page.url
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(f"{base}/dashboard")
    return page


def test_request_refused_self_approval_steward_approval_build_download(
    browser: Any, live_url: str, tmp_path: Path
) -> None:
    base = live_url

    # the researcher saves a dataset over the lake and requests its export
    researcher = _session(browser, base, "researcher")
    researcher.goto(f"{base}/datasets")
    researcher.fill("textarea[name=spec_json]", json.dumps(SPEC))
    researcher.click("form[action='/datasets'] button[type=submit]")
    researcher.wait_for_url(f"{base}/datasets")
    row = researcher.locator("#datasets tr", has_text="t2dm")
    assert row.count() == 1
    row.locator("input[name=purpose]").fill("diabetes outcomes")
    row.locator("input[name=accept_dua]").check()
    row.locator("button[type=submit]").click()
    researcher.wait_for_url(f"{base}/exports/*")
    rid = researcher.url.rsplit("/", 1)[1]
    assert rid.isdigit()
    assert researcher.inner_text("#state") == "submitted"
    assert researcher.locator("#approve").count() == 0  # the page offers the requester no approval

    # ... and forging the approval form from the browser (with a valid CSRF token) is refused
    with researcher.expect_response(lambda r: r.url.endswith(f"/exports/{rid}/approve")) as info:
        researcher.evaluate(
            """(rid) => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = `/exports/${rid}/approve`;
                const token = document.querySelector('input[name=csrf_token]').value;
                for (const [k, v] of [['csrf_token', token], ['comment', 'self']]) {
                    const i = document.createElement('input');
                    i.type = 'hidden'; i.name = k; i.value = v; form.appendChild(i);
                }
                document.body.appendChild(form);
                form.submit();
            }""",
            rid,
        )
    assert info.value.status == 403
    researcher.wait_for_selector("#error-status")
    assert "403" in researcher.inner_text("#error-status")
    researcher.goto(f"{base}/exports/{rid}")
    assert researcher.inner_text("#state") == "submitted"

    # the steward finds it in the queue, sees the preview, approves and builds
    steward = _session(browser, base, "steward")
    steward.goto(f"{base}/exports")
    steward.click(f"#exports a[href='/exports/{rid}']")
    steward.wait_for_url(f"{base}/exports/{rid}")
    assert steward.locator("#preview-patients").count() == 1
    steward.fill("form[action$='/approve'] input[name=comment]", "ok for the study")
    steward.click("#approve")
    steward.wait_for_selector("#build")
    assert steward.inner_text("#state") == "approved"
    steward.click("#build")
    steward.wait_for_selector("#state:text('built')")
    assert steward.locator("#download").count() == 0

    # the steward, not being the requester, is refused the download
    response = steward.goto(f"{base}/exports/{rid}/download")
    assert response is not None and response.status == 403
    assert "403" in steward.inner_text("#error-status")

    # the requester downloads the package: a zip whose manifest matches every file
    researcher.goto(f"{base}/exports/{rid}")
    assert researcher.inner_text("#state") == "built"
    with researcher.expect_download() as dl_info:
        researcher.click("#download")
    target = tmp_path / dl_info.value.suggested_filename
    dl_info.value.save_as(target)
    assert target.suffix == ".zip"
    with zipfile.ZipFile(target) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        assert manifest["dataset"] == "t2dm"
        assert manifest["requester"] == "researcher" and manifest["steward"] == "steward"
        files = manifest["files"]
        assert {"data/patients.parquet", "data_dictionary.csv", "README.md"} <= set(files)
        assert set(files) | {"manifest.json"} == {n for n in names if not n.endswith("/")}
        for name, entry in files.items():
            blob = zf.read(name)
            assert hashlib.sha256(blob).hexdigest() == entry["sha256"]
            assert len(blob) == entry["bytes"]
    researcher.goto(f"{base}/exports/{rid}")
    assert researcher.inner_text("#state") == "downloaded"
    researcher.context.close()
    steward.context.close()

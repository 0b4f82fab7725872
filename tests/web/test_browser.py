"""A real browser (Playwright on the system Chromium) against a live uvicorn server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI

from tests.browser_support import chromium, live_server
from tests.web.conftest import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def live_url(app: FastAPI) -> Iterator[str]:
    with live_server(app) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: object) -> Iterator[object]:
    context = browser.new_context(locale="zh-CN")  # type: ignore[attr-defined]
    pg = context.new_page()
    pg.set_default_timeout(20_000)
    yield pg
    context.close()


def _login(page: object, base: str, username: str) -> None:
    page.goto(f"{base}/dashboard")  # type: ignore[attr-defined]
    assert "/login" in page.url  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("#login-submit")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/dashboard")  # type: ignore[attr-defined]


def test_clinician_dashboard_search_and_timeline(page: object, live_url: str) -> None:
    pg = page
    _login(pg, live_url, "clinician")
    assert pg.inner_text("#count-patients") == "3"  # type: ignore[attr-defined]
    pg.wait_for_selector("#chart-pyramid .main-svg")  # type: ignore[attr-defined]  # plotly drew the chart
    assert "临床医生" in pg.inner_text("#whoami")  # type: ignore[attr-defined]
    pg.click("text=患者检索")  # type: ignore[attr-defined]
    pg.fill("#q", "张三")  # type: ignore[attr-defined]
    pg.click("#search")  # type: ignore[attr-defined]
    pg.click("#results a")  # type: ignore[attr-defined]
    pg.wait_for_url(f"{live_url}/patients/1001")  # type: ignore[attr-defined]
    rows = pg.locator("#timeline tr.event")  # type: ignore[attr-defined]
    assert rows.count() == 11
    assert "PACS" in pg.inner_text("#timeline")  # type: ignore[attr-defined]
    pg.wait_for_selector("[data-lab='GLU'] .main-svg")  # type: ignore[attr-defined]
    pg.click("text=English")  # type: ignore[attr-defined]
    pg.wait_for_selector("text=Patient 360")  # type: ignore[attr-defined]


def test_researcher_is_refused_the_audit_page(page: object, live_url: str) -> None:
    pg = page
    _login(pg, live_url, "researcher")
    assert pg.locator("a[href='/audit']").count() == 0  # type: ignore[attr-defined]
    response = pg.goto(f"{live_url}/audit")  # type: ignore[attr-defined]
    assert response.status == 403
    assert "403" in pg.inner_text("#error-status")  # type: ignore[attr-defined]
    response = pg.goto(f"{live_url}/patients/1001")  # type: ignore[attr-defined]
    assert response.status == 403
    pg.click("#logout")  # type: ignore[attr-defined]
    pg.wait_for_url(f"{live_url}/login")  # type: ignore[attr-defined]

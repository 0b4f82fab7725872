"""Models into care in a real browser (Playwright on the system Chromium) against a live server.

A researcher defines a task in the editor and trains two versions on the toy lake, sees the
results and the side-by-side comparison and validates one; a steward publishes it; a clinician
opens the CDS simulator, sees the card for a patient, overrides it with a reason; the monitoring
page then shows that feedback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher

from medlake.models.toylake import TOY_TASK, build_toy_lake
from medlake.settings import Settings
from tests.browser_support import chromium, live_server

PASSWORD = "demo-password-1"
pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as b:
        yield b


@pytest.fixture(scope="module")
def live_url(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from medlake.store.engine import dispose_engine
    from medlake.web import passwords
    from medlake.web.app import create_app
    from medlake.web.services.demo import create_demo_accounts

    mp = pytest.MonkeyPatch()  # cheap Argon2id, as in tests/web/conftest.py
    mp.setattr(passwords, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    passwords._dummy_hash.cache_clear()
    data_dir = tmp_path_factory.mktemp("mbrowser") / "data"
    build_toy_lake(data_dir, n=200, seed=4)
    settings = Settings(data_dir=data_dir, env="test")
    create_demo_accounts(settings, password=PASSWORD)
    with live_server(create_app(settings)) as url:
        yield url
    mp.undo()
    passwords._dummy_hash.cache_clear()
    dispose_engine(settings)


def _session(browser: Any, base: str, username: str) -> Any:
    """A fresh browser context logged in as ``username`` through the login form, on /models."""
    context = browser.new_context(locale="en-US")
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(f"{base}/models")
    assert "/login" in pg.url
    for _attempt in range(2):
        pg.fill("#username", username)
        pg.fill("#password", PASSWORD)
        pg.click("#login-submit")
        pg.wait_for_load_state("load", timeout=90_000)
        if "/login" not in pg.url:
            break
    # land on the registry whatever page the login redirected to
    pg.goto(f"{base}/models", timeout=90_000)
    assert "/login" not in pg.url, f"{username} could not log in"
    return pg


def _train(pg: Any, base: str, algorithm: str, version: int) -> None:
    pg.goto(f"{base}/models")
    pg.click("#new-model")
    pg.wait_for_url(f"{base}/models/new")
    pg.fill("#task-json", json.dumps(TOY_TASK, indent=2))
    pg.select_option("select[name=algorithm]", algorithm)
    pg.click("#train")
    pg.wait_for_url(f"{base}/models/toy_reoperation/v{version}")
    pg.wait_for_selector("#chart-roc .main-svg")  # plotly drew the ROC


def test_train_publish_use_and_monitor(browser: Any, live_url: str) -> None:
    base = live_url
    # researcher: define the task in the editor, train two versions, compare, validate v1
    pg = _session(browser, base, "researcher")
    _train(pg, base, "lasso", 1)
    _train(pg, base, "lightgbm", 2)
    assert pg.inner_text("#stage") == "draft"
    comparison = pg.inner_text("pre:not(#card)")
    assert "| toy_reoperation | v1 | lasso |" in comparison
    assert "| toy_reoperation | v2 | lightgbm |" in comparison
    pg.goto(f"{base}/models/toy_reoperation/v1")
    pg.click("#to-validated")
    pg.wait_for_selector("#stage:text('validated')")
    pg.context.close()

    # steward: publish the validated version
    pg = _session(browser, base, "steward")
    pg.click("a[href='/models/toy_reoperation/v1']")
    pg.click("#to-published")
    pg.wait_for_selector("#stage:text('published')")
    pg.context.close()

    # clinician: the card for a chosen patient in the CDS simulator, overridden with a reason
    pg = _session(browser, base, "clinician")
    pg.click("a[href='/cds/simulator']")
    pg.select_option("select[name=service]", "toy_reoperation")
    pg.fill("input[name=patient]", "H00001000")
    pg.click("#show-card")
    card = pg.inner_text("#cds-card")
    assert "risk" in card.lower()
    pg.select_option("#override-reason", "disagree-risk")
    pg.fill("#override-comment", "seen at clinic")
    pg.click("#override")
    assert "overridden" in pg.inner_text("#feedback-recorded")

    # the monitoring page, reached from the model's page, shows the use and the override
    pg.goto(f"{base}/models/toy_reoperation/v1")
    pg.click("#monitoring-link")
    pg.wait_for_url(f"{base}/models/toy_reoperation/v1/monitoring")
    assert pg.inner_text("#use-cards") == "1"
    assert pg.inner_text("#fb-overridden") == "1"
    assert pg.inner_text("#acceptance-rate") == "0%"
    reasons = pg.inner_text("#override-reasons")
    assert "Clinical judgement differs from the predicted risk" in reasons
    assert pg.locator("#drift tr[data-feature]").count() > 0
    pg.context.close()

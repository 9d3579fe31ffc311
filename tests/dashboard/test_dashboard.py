"""The dashboard: password, JSON status, suspend/resume, and the page in headless Chromium after a sync."""

import base64
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text
from werkzeug.serving import make_server

from app.dashboard.blueprint import create_dashboard
from app.sync.report import SyncOptions
from app.sync.run import run_sync
from tests.support.configs import make_settings

PASSWORD = "s3cret-dashboard"
CHROMIUM = "/usr/bin/chromium"


def dashboard_app(settings, engine) -> Flask:
    app = Flask(__name__)
    app.register_blueprint(create_dashboard(settings, engine))
    return app


def auth(password: str = PASSWORD) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"admin:{password}".encode()).decode()}


@pytest.fixture
def synced(emulator, engine, database_url):
    """Both demo orgs synced for Account and Contact, Contact of emea failing on every describe."""
    settings = replace(make_settings(emulator, database_url, objects=("Account", "Contact")), admin_password=PASSWORD)
    emulator.inject_fault(
        "status",
        path="*/sobjects/Contact/describe*",
        count=10,
        status=500,
        error_code="UNKNOWN_EXCEPTION",
        message="An unexpected error occurred",
    )
    report = run_sync(settings, engine, SyncOptions(orgs=("emea",)))
    emulator.clear_faults()
    report_amer = run_sync(settings, engine, SyncOptions(orgs=("amer",)))
    assert report_amer.ok and not report.ok
    with engine.begin() as conn:
        conn.execute(text("insert into orgfeed.feeds (name, views) values ('global', array['global_contact'])"))
        conn.execute(
            text(
                "insert into orgfeed.access_log (at, feed, username, client, method, path, entity_set, rows, status, "
                "duration_ms) select timestamptz '2026-12-01 09:00:00+00' + n * interval '1 minute', 'global', "
                "'global-reader', '127.0.0.1', 'GET', '/odata/v4/global/global_contact?$top=' || n, "
                "'global_contact', n, 200, 3 from generate_series(1, 7) as n"
            )
        )
    return settings


def test_every_route_needs_the_admin_password(synced, engine):
    client = dashboard_app(synced, engine).test_client()
    for path in ("/", "/dashboard/status.json"):
        assert client.get(path).status_code == 401
        wrong = client.get(path, headers=auth("nope"))
        assert wrong.status_code == 401 and wrong.headers["WWW-Authenticate"] == 'Basic realm="orgfeed dashboard"'
        assert client.get(path, headers=auth()).status_code == 200
    assert client.post("/dashboard/orgs/amer/suspend", headers={"X-Orgfeed-Action": "suspend"}).status_code == 401


def test_without_a_configured_password_the_dashboard_is_closed(synced, engine):
    client = dashboard_app(replace(synced, admin_password=None), engine).test_client()
    response = client.get("/", headers=auth(""))
    assert response.status_code == 401 and response.text == "set ORGFEED_ADMIN_PASSWORD to use the dashboard\n"


def test_status_json_reports_each_object_the_failure_and_the_feed(synced, engine, emulator):
    client = dashboard_app(synced, engine).test_client()
    data = client.get("/dashboard/status.json", headers=auth(), base_url="https://orgfeed.example.com").get_json()
    objects = {(o["org"], o["sobject"]): o for o in data["objects"]}
    assert objects[("emea", "Contact")]["status"] == "failed"
    assert "UNKNOWN_EXCEPTION" in objects[("emea", "Contact")]["last_error"]
    live = len(emulator.ids("amer", "Contact"))
    assert (objects[("amer", "Contact")]["status"], objects[("amer", "Contact")]["database_rows"]) == ("synced", live)
    assert data["feeds"] == [
        {"name": "global", "views": ["global_contact"], "service_url": "https://orgfeed.example.com/odata/v4/global/"}
    ]
    assert {org["name"]: org["suspended"] for org in data["orgs"]} == {"amer": False, "emea": False}
    assert list(data["access"]) == ["global"]
    assert [entry["path"] for entry in data["access"]["global"]] == [
        f"/odata/v4/global/global_contact?$top={n}" for n in (7, 6, 5, 4, 3)
    ]
    assert data["access"]["global"][0] == {
        "at": "2026-12-01T09:07:00+00:00",
        "feed": "global",
        "username": "global-reader",
        "client": "127.0.0.1",
        "method": "GET",
        "path": "/odata/v4/global/global_contact?$top=7",
        "entity_set": "global_contact",
        "rows": 7,
        "status": 200,
        "duration_ms": 3,
    }


def test_suspend_and_resume_need_the_pages_header(synced, engine):
    client = dashboard_app(synced, engine).test_client()
    assert client.post("/dashboard/orgs/emea/suspend", headers=auth()).status_code == 400
    done = client.post("/dashboard/orgs/emea/suspend", headers={**auth(), "X-Orgfeed-Action": "suspend"})
    assert (done.status_code, done.get_json()) == (200, {"org": "emea", "suspended": True})
    with engine.connect() as conn:
        assert conn.execute(text("select suspended from orgfeed.orgs where name = 'emea'")).scalar() is True
    assert (
        client.post("/dashboard/orgs/apac/suspend", headers={**auth(), "X-Orgfeed-Action": "suspend"}).status_code
        == 404
    )
    resumed = client.post("/dashboard/orgs/emea/resume", headers={**auth(), "X-Orgfeed-Action": "resume"})
    assert resumed.get_json() == {"org": "emea", "suspended": False}


def test_the_page_in_chromium_shows_status_failure_log_feed_and_suspends(synced, engine, tmp_path):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        # CI installs Chromium (.ci/run) and must never skip this; a fresh development machine may lack it.
        message = "Debian's chromium is not installed: apt-get install chromium (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    server = make_server("127.0.0.1", 0, dashboard_app(synced, engine), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
            )
            context = browser.new_context(
                http_credentials={"username": "admin", "password": PASSWORD}, viewport={"width": 1280, "height": 800}
            )
            page = context.new_page()
            page.goto(url)
            emea = page.locator('section[data-org="emea"]')
            emea.get_by_text("Failed").first.wait_for()
            contact_row = emea.locator("tr", has_text="Contact")
            assert "UNKNOWN_EXCEPTION" in contact_row.inner_text()
            amer_contact = page.locator('section[data-org="amer"] tr', has_text="Contact").inner_text()
            assert "OK" in amer_contact
            assert page.locator("#feeds").inner_text().count("/odata/v4/global/") == 1
            assert page.locator("#access").inner_text().count("GET /odata/v4/global/global_contact?$top=") == 5
            assert "Failed" in page.locator("#log").inner_text()
            page.screenshot(path=str(tmp_path / "dashboard-1280.png"), full_page=True)
            emea.get_by_role("button", name="Suspend").click()
            page.locator('section[data-org="emea"] h2').get_by_text("Suspended").wait_for()
            phone = browser.new_context(
                http_credentials={"username": "admin", "password": PASSWORD},
                viewport={"width": 390, "height": 844},
                is_mobile=True,
            )
            small = phone.new_page()
            small.goto(url)
            small.get_by_text("Suspended").first.wait_for()
            assert small.evaluate("document.documentElement.scrollWidth") <= 390
            small.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
            if os.environ.get("ORGFEED_SCREENSHOTS"):
                for name in ("dashboard-1280.png", "dashboard-phone.png"):
                    Path(os.environ["ORGFEED_SCREENSHOTS"], name).write_bytes((tmp_path / name).read_bytes())
            browser.close()
    finally:
        server.shutdown()

"""Views over the emulator's demo orgs: the committed golden files, auto-apply and staleness after drift."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import text

from app.config import load_settings
from app.sync.run import run_sync
from app.views.generate import render_views
from tests.support.configs import make_settings, write_config

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "sql" / "views"


def demo_settings(emu, database_url, **sync):
    """The emulator's demo orgs with the mappings and views of the repository's orgfeed.toml."""
    example = load_settings(environ={}, path=ROOT / "orgfeed.toml", resolve_secrets=False)
    return replace(
        make_settings(emu, database_url, **sync),
        mappings=example.mappings,
        views=example.views,
        config_path=ROOT / "orgfeed.toml",
    )


def test_committed_view_files_are_what_the_demo_configuration_generates(emulator, engine, database_url):
    settings = demo_settings(emulator, database_url)
    assert run_sync(settings, engine).ok
    with engine.connect() as conn:
        rendered = render_views(conn, settings)
    if os.environ.get("ORGFEED_WRITE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name, sql in rendered.items():
            (GOLDEN / name).write_text(sql)
        pytest.fail(
            f"wrote {sorted(rendered)} into {GOLDEN}: review and commit them, then run without ORGFEED_WRITE_GOLDEN"
        )
    committed = {path.name: path.read_text() for path in GOLDEN.glob("*.sql")}
    assert sorted(committed) == ["global_assessment.sql", "global_contact.sql"]
    assert committed == rendered


def test_a_new_field_reaches_the_view_when_auto_apply_is_on(emulator, engine, database_url, tmp_path):
    settings = demo_settings(emulator, database_url, auto_apply_views=True)
    # global_contact with every column
    view = settings.views[1].model_copy(update={"columns": None, "joins": (), "indexed": ()})
    every_field = tuple(mapping.model_copy(update={"fields": None}) for mapping in settings.mappings)
    settings = replace(settings, views=(view,), mappings=every_field, config_path=tmp_path / "orgfeed.toml")
    assert run_sync(settings, engine).ok
    emulator.add_field("emea", "Contact", "Nickname__c", "string", length=30)
    first = emulator.ids("emea", "Contact")[0]
    emulator.update("emea", "Contact", [{"Id": first, "Nickname__c": "Jo"}])
    assert run_sync(settings, engine).ok
    with engine.connect() as conn:
        rows = dict(conn.execute(text("select geo, count(nickname__c) from global_contact group by geo")).all())
        applied = (
            conn.execute(
                text("select message from orgfeed.sync_log where action = 'Views' and status = 'Succeeded' order by id")
            )
            .scalars()
            .all()
        )
    assert rows == {"AMER": 0, "EMEA": 1}
    assert applied[-1] == "applied changed views: global_contact"
    assert (tmp_path / "sql" / "views" / "global_contact.sql").read_text().count("nickname__c") >= 3


def test_stale_views_are_reported_when_auto_apply_is_off(emulator, engine, database_url, tmp_path):
    config, env = write_config(emulator, tmp_path, database_url, objects=("Account", "Contact"))
    config.write_text(config.read_text() + '\n[[views]]\nname = "everyone"\nobject = "Contact"\ncolumns = "*"\n')
    orgfeed = [sys.executable, "-m", "app"]
    assert subprocess.run([*orgfeed, "sync"], env=env, capture_output=True, timeout=120).returncode == 0
    assert subprocess.run([*orgfeed, "views", "generate"], env=env, capture_output=True, timeout=60).returncode == 0
    assert subprocess.run([*orgfeed, "views", "apply"], env=env, capture_output=True, timeout=60).returncode == 0
    check = subprocess.run([*orgfeed, "views", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert (check.returncode, check.stdout) == (0, "every view file is current\n")
    emulator.add_field("amer", "Contact", "Shoe__c", "string", length=10)
    assert subprocess.run([*orgfeed, "sync"], env=env, capture_output=True, timeout=120).returncode == 0
    check = subprocess.run([*orgfeed, "views", "check"], env=env, capture_output=True, text=True, timeout=60)
    assert (check.returncode, check.stdout) == (1, "stale: sql/views/everyone.sql\n")
    status = subprocess.run([*orgfeed, "status", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert '"stale_views": [\n    "everyone"\n  ]' in status.stdout
    with engine.connect() as conn:
        codes = conn.execute(text("select error_code from orgfeed.sync_log where action = 'Views'")).scalars().all()
    assert codes == ["VIEWS_STALE"]


def test_release_phase_apply_skips_views_whose_tables_do_not_exist_yet(database_url):
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORGFEED_")}
    env.update(DATABASE_URL=database_url, ORGFEED_CONFIG=str(ROOT / "orgfeed.toml"))
    for _ in range(2):  # the release phase runs on every deploy
        result = subprocess.run(
            [sys.executable, "-m", "app", "views", "apply", "--if-ready"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert (result.returncode, result.stderr) == (0, "")
        assert result.stdout.splitlines() == [
            "skipped view global_assessment: table amer.employee does not exist yet "
            "(the worker creates the view after its first sync)",
            "skipped view global_contact: table amer.account does not exist yet "
            "(the worker creates the view after its first sync)",
        ]


def test_the_first_sync_creates_committed_views_that_are_missing(emulator, engine, database_url, tmp_path):
    settings = replace(demo_settings(emulator, database_url), config_path=tmp_path / "orgfeed.toml")
    (tmp_path / "sql" / "views").mkdir(parents=True)
    for path in GOLDEN.glob("*.sql"):
        (tmp_path / "sql" / "views" / path.name).write_text(path.read_text())
    assert run_sync(settings, engine).ok
    with engine.connect() as conn:
        geos = conn.execute(text("select geo, count(*) from global_assessment group by geo order by geo")).all()
        contacts = conn.execute(text("select count(*) from global_contact")).scalar()
    assert [geo for geo, _ in geos] == ["AMER", "EMEA"] and all(count > 0 for _, count in geos)
    assert contacts == len(emulator.ids("amer", "Contact")) + len(emulator.ids("emea", "Contact"))

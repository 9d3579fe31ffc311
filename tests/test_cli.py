import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from app.warehouse.migrate import head_revision
from tests.support.cli import run
from tests.support.databases import embedded_data_dir

ROOT = Path(__file__).resolve().parents[1]


def test_db_upgrade_migrates_then_reports_nothing_to_do(fresh_database_url):
    first = run(["db", "upgrade"], DATABASE_URL=fresh_database_url)
    second = run(["db", "upgrade"], DATABASE_URL=fresh_database_url)
    assert (first.exit_code, first.stdout) == (
        0,
        f"orgfeed schema upgraded from an empty database to revision {head_revision()}\n",
    )
    assert (second.exit_code, second.stdout) == (0, f"orgfeed schema already at revision {head_revision()}\n")


def test_db_url_prints_herokus_url_in_libpq_form():
    result = run(["db", "url"], DATABASE_URL="postgres://u:p@db.example.com:5432/d")
    assert (result.exit_code, result.stdout) == (0, "postgresql://u:p@db.example.com:5432/d\n")


def test_unreachable_database_exits_2_with_one_masked_line(unused_tcp_port):
    result = run(["db", "upgrade"], DATABASE_URL=f"postgres://u:hunter2@127.0.0.1:{unused_tcp_port}/d")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"error: database postgresql://u:***@127.0.0.1:{unused_tcp_port}/d is unreachable: ")


def test_malformed_database_url_exits_2():
    result = run(["db", "url"], DATABASE_URL="mysql://root@localhost/x")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: environment: DATABASE_URL: expected a URL like postgresql://user:password@host:5432/dbname, "
        "got one starting with 'mysql://'\n"
    )


def test_db_stop_refuses_when_database_url_is_set():
    result = run(["db", "stop"], DATABASE_URL="postgresql://u@localhost/d")
    assert result.exit_code == 2
    assert result.stderr == "error: environment: DATABASE_URL is set: orgfeed runs no embedded server to stop\n"


def test_config_check_lists_every_problem_and_exits_2(tmp_path):
    path = tmp_path / "orgfeed.toml"
    path.write_text(
        '[[orgs]]\nname = "EMEA"\nauth = "client_credentials"\nlogin_url = "https://x.example.com"\n'
        'client_id_env = "E_ID"\nclient_secret_env = "E_SECRET"\nfoo = 1\n'
    )
    result = run(["config", "check"], ORGFEED_CONFIG=str(path), E_ID="id")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"error: {path}: orgs.EMEA.foo: unknown key (known keys here: api_budget_percent, api_version, audience, "
        "auth, ca_bundle, client_id_env, client_secret_env, delete_mode, geo, instance_url, login_url, managed_by, "
        "name, password_env, private_key_env, pubsub_url, security_token_env, session_id_env, stream, username_env)",
        f"error: {path}: orgs.EMEA.name: 'EMEA' is not a valid schema name: use lower-case letters, digits and "
        "underscores, starting with a letter or underscore, at most 63 characters",
        f"error: {path}: orgs.EMEA.client_secret_env: environment variable E_SECRET is not set: "
        "org 'EMEA' needs its client secret there",
    ]


def test_config_check_summarises_a_valid_configuration(tmp_path):
    data_dir = tmp_path / "pg"
    result = run(
        ["config", "check", "--no-secrets"], ORGFEED_CONFIG=str(ROOT / "orgfeed.toml"), ORGFEED_DATA_DIR=str(data_dir)
    )
    assert result.exit_code == 0
    assert result.stdout.splitlines()[:4] == [
        f"{ROOT / 'orgfeed.toml'}: valid",
        f"database: embedded PostgreSQL in {data_dir}",
        "org amer (geo AMER): auth client_credentials at https://acme-amer.my.salesforce.com; "
        "secrets in AMER_CLIENT_ID, AMER_CLIENT_SECRET",
        "org emea (geo EMEA): auth jwt at https://acme-emea.my.salesforce.com; "
        "secrets in EMEA_CLIENT_ID, EMEA_USERNAME, EMEA_PRIVATE_KEY",
    ]
    assert not data_dir.exists()  # checking the configuration starts no database


@pytest.mark.slow
def test_embedded_default_through_the_console_script():
    data_dir = embedded_data_dir()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "ORGFEED_CONFIG")}
    env["ORGFEED_DATA_DIR"] = str(data_dir)
    orgfeed = [sys.executable, "-m", "app"]
    try:
        upgrade = subprocess.run([*orgfeed, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
        assert (upgrade.returncode, upgrade.stderr) == (0, "")
        url = subprocess.run([*orgfeed, "db", "url"], env=env, capture_output=True, text=True, timeout=60)
        assert url.returncode == 0
        assert url.stdout.strip() == f"postgresql://postgres:@/orgfeed?host={data_dir}"
        with psycopg.connect(url.stdout.strip()) as conn:
            assert conn.execute("select version_num from orgfeed.alembic_version").fetchall() == [(head_revision(),)]
    finally:
        stop = subprocess.run([*orgfeed, "db", "stop"], env=env, capture_output=True, text=True, timeout=60)
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    assert stop.stdout == f"stopped the embedded PostgreSQL in {data_dir}\n"


def test_python_dash_m_app_lists_the_commands():
    result = subprocess.run([sys.executable, "-m", "app", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert {"config", "db", "orgs", "status", "sync"} <= listed

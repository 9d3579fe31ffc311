from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from app.warehouse import DatabaseUnreachable
from app.warehouse.database import (
    check_database,
    create_database_engine,
    describe_connection_error,
    mask_url,
    sqlalchemy_url,
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql://u:s3cret@db.example.com:5432/d", "postgresql://u:***@db.example.com:5432/d"),
        ("postgresql://u:p%40ss@host/d?sslmode=require", "postgresql://u:***@host/d?sslmode=require"),
        ("postgresql://u@host/d", "postgresql://u@host/d"),
        ("postgresql://postgres:@/orgfeed?host=/tmp/pg", "postgresql://postgres:@/orgfeed?host=/tmp/pg"),
    ],
)
def test_mask_url_hides_only_the_password(url, masked):
    assert mask_url(url) == masked


def test_sqlalchemy_url_selects_psycopg_and_keeps_the_socket_host():
    url = sqlalchemy_url("postgresql://postgres:@/orgfeed?host=/tmp/pg")
    assert (url.drivername, url.database, url.query["host"]) == ("postgresql+psycopg", "orgfeed", "/tmp/pg")


def test_unreachable_database_gets_one_line_with_masked_url_and_reason(unused_tcp_port):
    url = f"postgresql://orgfeed:hunter2@127.0.0.1:{unused_tcp_port}/orgfeed"
    with pytest.raises(DatabaseUnreachable) as caught:
        check_database(url, timeout_seconds=3)
    message = str(caught.value)
    assert "\n" not in message and "hunter2" not in message
    assert message.startswith(f"database postgresql://orgfeed:***@127.0.0.1:{unused_tcp_port}/orgfeed is unreachable: ")
    assert "Connection refused" in message


def test_wrong_database_name_is_reported_with_the_servers_reason(server_url):
    url = urlunsplit(urlsplit(server_url)._replace(path="/orgfeed_no_such_database"))
    with pytest.raises(DatabaseUnreachable) as caught:
        check_database(url)
    assert str(caught.value).endswith('database "orgfeed_no_such_database" does not exist')


def test_reachable_database_passes_the_check_and_gets_an_engine(fresh_database_url):
    check_database(fresh_database_url)
    engine = create_database_engine(fresh_database_url, application_name="orgfeed-test")
    with engine.connect() as connection:
        name = connection.exec_driver_sql("select current_setting('application_name')").scalar()
    engine.dispose()
    assert name == "orgfeed-test"


def test_describe_connection_error_keeps_the_first_line_and_the_hint():
    error = psycopg.OperationalError(
        'connection failed: connection to server at "10.0.0.1", port 5432 failed: timeout expired\n'
        "\tIs the server running on that host and accepting TCP/IP connections?"
    )
    assert describe_connection_error(error) == (
        'connection to server at "10.0.0.1", port 5432 failed: timeout expired '
        "(Is the server running on that host and accepting TCP/IP connections?)"
    )

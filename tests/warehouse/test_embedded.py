import shutil

import psycopg
import pytest

from app.warehouse.embedded import start_embedded_server, stop_embedded_server
from tests.support.databases import embedded_data_dir


@pytest.mark.slow
def test_embedded_server_keeps_its_data_across_a_restart():
    data_dir = embedded_data_dir()
    url = start_embedded_server(data_dir)
    try:
        assert url.startswith("postgresql://postgres:@/orgfeed?host=")
        with psycopg.connect(url) as conn:
            conn.execute("create table kept (value text)")
            conn.execute("insert into kept values ('still here')")
        assert stop_embedded_server(data_dir) is True
        assert stop_embedded_server(data_dir) is False
        url_again = start_embedded_server(data_dir)
        with psycopg.connect(url_again) as conn:
            assert conn.execute("select value from kept").fetchall() == [("still here",)]
    finally:
        stop_embedded_server(data_dir)
        shutil.rmtree(data_dir.parent, ignore_errors=True)


def test_stopping_a_server_that_never_started_reports_false(tmp_path):
    assert stop_embedded_server(tmp_path / "never") is False

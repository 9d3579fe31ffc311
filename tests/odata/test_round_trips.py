"""Round trips per request, counted on the wire by a TCP proxy in front of PostgreSQL: authentication, the feed's
role, the time budget and the query cost two; connections are pinged only after idling; a dead one is replaced."""

from __future__ import annotations

import base64
import selectors
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from app.config import DatabaseSettings, Settings
from app.odata.app import create_app
from app.odata.feeds import create_feed, delete_feed
from app.odata.session import ping_when_idle
from app.warehouse.database import create_database_engine


class CountingProxy:
    """Relays TCP connections to PostgreSQL and counts flights: bytes from the client after an answer (or first)."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.flights = 0
        self.connections: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def take(self) -> int:
        """The flights since the last call."""
        with self.lock:
            flights, self.flights = self.flights, 0
        return flights

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.connections.append(client)
            threading.Thread(target=self._relay, args=(client, server), daemon=True).start()

    def _relay(self, client: socket.socket, server: socket.socket) -> None:
        last = "server"
        with selectors.DefaultSelector() as selector, client, server:
            selector.register(client, selectors.EVENT_READ, "client")
            selector.register(server, selectors.EVENT_READ, "server")
            while True:
                for key, _ in selector.select():
                    try:
                        data = key.fileobj.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    if key.data == "client":
                        if last == "server":
                            with self.lock:
                                self.flights += 1
                        last = "client"
                        server.sendall(data)
                    else:
                        last = "server"
                        client.sendall(data)

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def feed_app(database_url) -> Iterator[tuple]:
    """(client, headers, feed root, proxy, engine): the app reading through the proxy, its access log not."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "create table t_src (id varchar(18) primary key, geo varchar(4), n int);"
            "insert into t_src select 'k' || g, 'AMER', g from generate_series(1, 100) g;"
            "create view t as select * from t_src"
        )
    parts = urlsplit(database_url)
    proxy = CountingProxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    proxied = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    engine = ping_when_idle(create_database_engine(proxied, pool_size=4, pre_ping=False))
    log_engine = create_database_engine(database_url, pool_size=1)
    name = f"r{uuid.uuid4().hex[:8]}"
    credential = create_feed(log_engine, name, ["t"], base_url="http://localhost").credential
    settings = Settings(
        config_path=Path("orgfeed.toml"), database=DatabaseSettings(url=database_url, data_dir=Path("/x"))
    )
    app = create_app(settings, engine=engine)
    app.extensions["orgfeed.odata"].access_log.engine = log_engine  # written off the request path: not counted
    token = base64.b64encode(f"{credential.username}:{credential.password}".encode()).decode()
    try:
        yield app.test_client(), {"Authorization": f"Basic {token}"}, f"/odata/v4/{name}/", proxy, engine
    finally:
        app.extensions["orgfeed.odata"].access_log.flush()
        delete_feed(log_engine, name)
        engine.dispose()
        log_engine.dispose()
        proxy.close()


@pytest.mark.parametrize(
    "path",
    ["t?$count=true&$top=26", "t?$select=id,n&$orderby=n desc", "t('k5')", "t('k5')/n", "t/$count", "$metadata", ""],
)
def test_an_authenticated_request_costs_two_round_trips(feed_app, path):
    client, headers, root, proxy, _ = feed_app
    assert client.get(root + path, headers=headers, buffered=True).status_code == 200  # warm: scrypt, catalog
    proxy.take()
    response = client.get(root + path, headers=headers, buffered=True)
    assert (response.status_code, proxy.take()) == (200, 2)


def test_a_refused_password_costs_no_more_than_an_accepted_one(feed_app):
    client, headers, root, proxy, _ = feed_app
    wrong = {"Authorization": "Basic " + base64.b64encode(b"nobody:wrong").decode()}
    client.get(root + "t", headers=headers, buffered=True)
    proxy.take()
    assert client.get(root + "t", headers=wrong, buffered=True).status_code == 401
    assert proxy.take() == 2  # the credential query, then the end of its transaction


def test_an_idle_connection_is_pinged_and_a_dead_one_replaced(feed_app, database_url):
    client, headers, root, proxy, engine = feed_app
    assert client.get(root + "t?$top=1", headers=headers, buffered=True).status_code == 200
    with psycopg.connect(database_url, autocommit=True) as admin:  # the server drops the pooled connections
        admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid() and application_name = 'orgfeed'"
        )
    assert client.get(root + "t?$top=1", headers=headers, buffered=True).status_code == 200  # replaced, retried
    ping_when_idle(engine, seconds=0)  # every checkout now counts as idle: one ping more
    client.get(root + "t?$top=1", headers=headers, buffered=True)
    proxy.take()
    assert client.get(root + "t?$top=1", headers=headers, buffered=True).status_code == 200
    assert proxy.take() == 3

"""Throw-away database servers for the reliability tests: PostgreSQL clusters, a streaming pair, PgBouncer.

Each launcher is a context manager that starts its server on a free port of 127.0.0.1 in a temp
directory of its own and stops it, and removes the directory, whatever happens. The machine's
PostgreSQL is only ever put behind a PgBouncer of the test's own; it is never restarted or
reconfigured. As root the servers run as the `postgres` OS user (PostgreSQL and PgBouncer refuse
to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg

from tests.support.servers import free_port

# The newest PostgreSQL server Debian installed (initdb, pg_ctl, pg_basebackup).
BIN = max(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda path: int(path.parent.name), default=Path("/usr/bin"))
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
AS_POSTGRES = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def as_postgres(*command: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    """Runs a PostgreSQL binary, as the `postgres` OS user when we are root."""
    result = subprocess.run([*AS_POSTGRES, *command], capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{command[0]} failed: {result.stdout[-2000:]} {result.stderr[-2000:]}"
    return result


def _private_directory(prefix: str) -> Path:
    base = Path(tempfile.mkdtemp(prefix=prefix))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    return base


@dataclass(frozen=True)
class Cluster:
    """A throw-away PostgreSQL cluster: its data directory, port, and how to stop, start or promote it."""

    data: Path
    port: int
    log: Path

    @property
    def url(self) -> str:
        """The server's URL without a database name."""
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def stop(self, mode: str = "fast") -> None:
        as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def start(self) -> None:
        as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")

    def promote(self) -> None:
        as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "-w", "promote")

    def is_running(self) -> bool:
        return as_postgres(str(BIN / "pg_ctl"), "-D", str(self.data), "status", check=False).returncode == 0


def _init_cluster(base: Path, name: str, port: int) -> Cluster:
    data = base / name
    as_postgres(str(BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--no-sync")
    with (data / "postgresql.conf").open("a") as conf:
        conf.write(
            f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{base}'\n"
            "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\nfsync = off\n"
            "synchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n"
        )
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write("host replication postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 trust\n")
    return Cluster(data, port, base / f"{name}.log")


def _stop_quietly(cluster: Cluster) -> None:
    subprocess.run(
        [*AS_POSTGRES, str(BIN / "pg_ctl"), "-D", str(cluster.data), "-m", "immediate", "-w", "stop"],
        capture_output=True,
        timeout=120,
    )


@contextlib.contextmanager
def throwaway_cluster(database: str | None = "orgfeed") -> Iterator[Cluster]:
    """A new single PostgreSQL cluster, started, with an empty `database` created in it."""
    base = _private_directory("orgfeed-cluster-")
    cluster = _init_cluster(base, "data", free_port())
    try:
        cluster.start()
        if database:
            with psycopg.connect(f"{cluster.url}/postgres", autocommit=True) as conn:
                conn.execute(f'create database "{database}"')
        yield cluster
    finally:
        _stop_quietly(cluster)
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def primary_and_standby() -> Iterator[tuple[Cluster, Cluster]]:
    """(primary, standby): a new cluster and a streaming replica cloned from it by `pg_basebackup -R`."""
    base = _private_directory("orgfeed-replica-")
    primary = _init_cluster(base, "primary", free_port())
    standby = Cluster(base / "standby", free_port(), base / "standby.log")
    started: list[Cluster] = []
    try:
        primary.start()
        started.append(primary)
        as_postgres(
            str(BIN / "pg_basebackup"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres", "-D", str(standby.data)),
            *("-R", "-X", "stream", "--checkpoint=fast", "--no-sync"),
        )
        with (standby.data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {standby.port}\n")
        standby.start()
        started.append(standby)
        yield primary, standby
    finally:
        for cluster in reversed(started):
            _stop_quietly(cluster)
        shutil.rmtree(base, ignore_errors=True)


@dataclass(frozen=True)
class Pooler:
    """A running PgBouncer: `url` is its address without a database name; `for_database` names one."""

    port: int
    directory: Path

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def for_database(self, url: str) -> str:
        """`url`'s database through this pooler."""
        return f"{self.url}{urlsplit(url).path}"

    def show(self, what: str) -> list[dict]:
        """`SHOW <what>` on PgBouncer's admin console, as dicts."""
        with psycopg.connect(f"{self.url}/pgbouncer", autocommit=True, prepare_threshold=None) as conn:
            cursor = conn.execute(f"show {what}")
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


@contextlib.contextmanager
def pgbouncer(server_url: str, *, pool_size: int = 20, settings: str = "") -> Iterator[Pooler]:
    """Debian's PgBouncer in transaction mode on a free port, in front of the server of `server_url`.

    Every database name is passed through to that server (`* =`), users authenticate as the
    server would (trust, as on the test server), and each (database, user) pair gets `pool_size`
    server connections, so consecutive transactions of one client land on different ones.
    """
    assert Path(PGBOUNCER).exists(), "pgbouncer is not installed: apt-get install -y pgbouncer"
    server = urlsplit(server_url)
    directory = _private_directory("orgfeed-pgbouncer-")
    port = free_port()
    (directory / "userlist.txt").write_text('"postgres" ""\n')
    config = directory / "pgbouncer.ini"
    config.write_text(
        "[databases]\n"
        f"* = host={server.hostname or '127.0.0.1'} port={server.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {directory / 'userlist.txt'}\nadmin_users = postgres\n"
        f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 1000\n"
        f"logfile = {directory / 'pgbouncer.log'}\npidfile = {directory / 'pgbouncer.pid'}\n" + settings
    )
    for path in directory.iterdir():
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")
    process = subprocess.Popen(
        [*AS_POSTGRES, PGBOUNCER, str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log = (directory / "pgbouncer.log").read_text() if (directory / "pgbouncer.log").exists() else ""
                    raise AssertionError(f"pgbouncer did not start: {process.stderr.read()!r} {log[-2000:]}") from None
                time.sleep(0.05)
        yield Pooler(port, directory)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)  # PgBouncer's immediate shutdown
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stderr:
            process.stderr.close()
        shutil.rmtree(directory, ignore_errors=True)

"""Mapping locks: one holder at a time, released with their session, cut off when the holder goes silent.

The same locks behind PgBouncer in transaction mode are tested in tests/reliability/test_pooler.py.
"""

import os
import socket
import time

import psycopg
import pytest
from sqlalchemy import text

from app.warehouse.database import create_database_engine
from app.warehouse.locks import LockSession, MappingLockLost, find_lock_holder


@pytest.fixture
def lock_engine(shared_database_url):
    engine = create_database_engine(shared_database_url, pool_size=4)
    yield engine
    engine.dispose()


def advisory_locks_held(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from pg_locks where locktype = 'advisory' "
            "and database = (select oid from pg_database where datname = current_database())"
        ).fetchone()[0]


def test_a_mapping_has_one_lock_holder_at_a_time(lock_engine, shared_database_url):
    with LockSession(lock_engine) as first, LockSession(lock_engine) as second:
        employee = first.acquire("emea", "Employee")
        assert employee is not None
        assert second.acquire("emea", "Employee") is None
        account = second.acquire("emea", "Account")
        assert account is not None
        assert advisory_locks_held(shared_database_url) == 2
        employee.release()
        assert advisory_locks_held(shared_database_url) == 1
        assert second.acquire("emea", "Employee") is not None
    assert advisory_locks_held(shared_database_url) == 0  # closing a session releases whatever it still held


def test_a_lock_session_keeps_one_connection_in_one_transaction(lock_engine, shared_database_url):
    with LockSession(lock_engine) as locks:
        for sobject in ("Employee", "Account", "Contact"):
            assert locks.acquire("amer", sobject) is not None
        with psycopg.connect(shared_database_url) as conn:
            sessions = conn.execute(
                "select count(distinct l.pid), min(a.state) from pg_locks l join pg_stat_activity a using (pid) "
                "where l.locktype = 'advisory' and a.datname = current_database()"
            ).fetchone()
    assert sessions == (1, "idle in transaction")


def test_the_lock_holder_is_named_by_host_and_pid_with_the_time_it_was_taken(lock_engine):
    with LockSession(lock_engine) as locks:
        assert locks.acquire("amer", "Contact") is not None
        with lock_engine.connect() as conn:
            holder = find_lock_holder(conn, "amer", "Contact")
            assert find_lock_holder(conn, "amer", "Account") is None
    assert holder is not None and holder.since is not None
    assert holder.application_name == f"orgfeed-sync {socket.gethostname()} pid {os.getpid()}"[:63]


def test_a_heartbeat_keeps_the_locks_past_the_idle_timeout(lock_engine):
    with LockSession(lock_engine, heartbeat_seconds=0.2, idle_timeout_seconds=1) as locks:
        lock = locks.acquire("amer", "Account")
        assert lock is not None
        time.sleep(2.5)
        lock.check()  # raises if the server ended the session
        with LockSession(lock_engine) as rival:
            assert rival.acquire("amer", "Account") is None


def test_a_silent_holder_loses_its_locks_after_the_idle_timeout_and_its_check_raises(lock_engine):
    # A heartbeat slower than the timeout stands for a hung process: the server ends its session.
    with LockSession(lock_engine, heartbeat_seconds=3, idle_timeout_seconds=1) as silent:
        lock = silent.acquire("amer", "Employee")
        assert lock is not None
        started = time.monotonic()
        with LockSession(lock_engine) as rival:
            while rival.acquire("amer", "Employee") is None:
                assert time.monotonic() - started < 10, "the silent holder kept its lock"
                time.sleep(0.1)
            taken_after = time.monotonic() - started
        assert 0.9 <= taken_after < 3
        time.sleep(3.5)  # its next heartbeat finds the session gone
        assert lock.lost
        with pytest.raises(MappingLockLost, match=r"lost the lock of amer\.Employee"):
            lock.check()
        assert silent.acquire("amer", "Employee") is not None  # a new session for what comes next


def test_locks_whose_connection_was_killed_are_lost_and_free_for_others(lock_engine, shared_database_url):
    with LockSession(lock_engine, heartbeat_seconds=0.2) as locks:
        lock = locks.acquire("emea", "Contact")
        assert lock is not None
        with psycopg.connect(shared_database_url, autocommit=True) as admin:
            admin.execute(
                "select pg_terminate_backend(pid) from pg_locks where locktype = 'advisory' "
                "and database = (select oid from pg_database where datname = current_database())"
            )
        deadline = time.monotonic() + 5
        while not lock.lost:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with LockSession(lock_engine) as rival:
            assert rival.acquire("emea", "Contact") is not None
    with lock_engine.connect() as conn:  # the pool hands out a fresh connection, not the dead one
        assert conn.execute(text("select 1")).scalar() == 1

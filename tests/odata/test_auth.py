"""HTTP Basic per feed: who gets 401, the reset grace period, revocation, slowing repeated failures, the access log."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, text, update

from app.odata.credentials import FailureThrottle, ThrottlePolicy, hash_password, verify_password
from app.odata.feeds import reset_credentials, revoke_credentials
from app.warehouse.metadata import access_log, feed_credentials
from tests.support.feeds import FeedClient, basic


def assert_401_without_data(response) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Basic realm="orgfeed"'
    assert list(response.get_json()) == ["error"]
    assert b"a01" not in response.data


@pytest.mark.parametrize("path", ["", "$metadata", "people", "people('a01')", "people/$count"])
def test_unauthenticated_requests_get_401_and_no_data(client, path):
    assert_401_without_data(client.client.get(client.root + path))


@pytest.mark.parametrize(
    "header",
    [
        "Basic " + "bm9jb2xvbg==",  # "nocolon"
        "Basic !!!",
        "Bearer abc",
        "Basic",
        "",
    ],
)
def test_malformed_authorization_is_401(client, header):
    assert_401_without_data(client.client.get(client.root + "people", headers={"Authorization": header}))


def test_wrong_password_unknown_user_and_unknown_feed_are_401(client):
    user, password = client.credential.username, client.credential.password
    for root, headers in (
        (client.root, basic(user, password + "x")),
        (client.root, basic("someone", password)),
        ("/odata/v4/nosuchfeed/", basic(user, password)),
    ):
        assert_401_without_data(client.client.get(root + "people", headers=headers))


def test_another_feeds_credentials_get_401(flask_app, feed_factory, client):
    other = feed_factory(["big"])
    assert_401_without_data(client.client.get(f"/odata/v4/{other.feed}/big", headers=client.headers))
    assert_401_without_data(client.client.get(client.root + "people", headers=basic(other.username, other.password)))
    assert FeedClient(flask_app, other).json("big?$top=1")["value"][0]["id"] == "k000001"


def test_a_feed_does_not_serve_views_it_does_not_list(flask_app, feed_factory):
    only_big = FeedClient(flask_app, feed_factory(["big"]))
    assert only_big.get("people").status_code == 404


def test_after_reset_the_old_password_works_for_ten_minutes_then_not(flask_app, feed_factory, engine):
    old = feed_factory(["people"])
    new = reset_credentials(engine, old.feed, base_url="http://localhost")
    assert new.username == old.username and new.password != old.password
    assert FeedClient(flask_app, old).get("people").status_code == 200
    assert FeedClient(flask_app, new).get("people").status_code == 200
    with engine.begin() as conn:
        expires = conn.execute(
            select(feed_credentials.c.expires_at - text("now()")).where(
                feed_credentials.c.feed == old.feed, feed_credentials.c.expires_at.is_not(None)
            )
        ).scalar_one()
        assert 9 * 60 < expires.total_seconds() <= 10 * 60
        conn.execute(
            update(feed_credentials)
            .where(feed_credentials.c.feed == old.feed, feed_credentials.c.expires_at.is_not(None))
            .values(expires_at=text("now() - interval '1 second'"))
        )
    assert_401_without_data(FeedClient(flask_app, old).get("people"))
    assert FeedClient(flask_app, new).get("people").status_code == 200


def test_revoke_ends_every_credential_at_once(flask_app, feed_factory, engine):
    old = feed_factory(["people"])
    new = reset_credentials(engine, old.feed, base_url="http://localhost")
    assert FeedClient(flask_app, new).get("people").status_code == 200  # now remembered as verified
    assert revoke_credentials(engine, old.feed) == 2
    assert_401_without_data(FeedClient(flask_app, old).get("people"))
    assert_401_without_data(FeedClient(flask_app, new).get("people"))


def test_repeated_failures_from_one_client_are_slowed_down(client):
    wrong = basic(client.credential.username, "wrong")
    elapsed = []
    for _ in range(6):
        started = time.monotonic()
        response = client.client.get(client.root + "people", headers=wrong, environ_base={"REMOTE_ADDR": "10.9.9.9"})
        elapsed.append(time.monotonic() - started)
        assert response.status_code == 401
    # the test app's policy: 3 free failures, then 0.05 s doubling up to 0.2 s
    assert elapsed[3] >= 0.05 and elapsed[4] >= 0.1 and elapsed[5] >= 0.2
    ok = client.client.get(client.root + "people", headers=client.headers, environ_base={"REMOTE_ADDR": "10.9.9.10"})
    assert ok.status_code == 200


def test_the_throttle_slows_only_the_failing_client_and_forgets_it_on_success():
    throttle = FailureThrottle(ThrottlePolicy(free_failures=3, base_delay=0.05, max_delay=0.2))
    delays = [throttle.record_failure("10.0.0.1") for _ in range(6)]
    assert delays == [0.0, 0.0, 0.0, 0.05, 0.1, 0.2]
    assert throttle.record_failure("10.0.0.2") == 0.0  # another client is not slowed
    throttle.record_success("10.0.0.1")
    assert throttle.record_failure("10.0.0.1") == 0.0


def test_passwords_are_stored_as_scrypt_hashes(engine, feed):
    with engine.connect() as conn:
        stored = conn.execute(
            select(feed_credentials.c.password_hash).where(feed_credentials.c.feed == feed.feed)
        ).scalar_one()
    assert stored.startswith("scrypt$16384$8$1$") and feed.password not in stored
    assert verify_password(feed.password, stored) and not verify_password(feed.password + "x", stored)
    assert hash_password("same") != hash_password("same")  # salted


def test_every_request_lands_in_the_access_log(flask_app, feed_factory, engine):
    credential = feed_factory(["people", "big"])
    client = FeedClient(flask_app, credential)
    client.get("big?$top=5")
    client.get("people('a01')")
    client.get("people?$top=x")
    client.client.get(client.root + "people", headers=basic(credential.username, "bad"), buffered=True)
    flask_app.extensions["orgfeed.odata"].access_log.flush()
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                access_log.c.username,
                access_log.c.method,
                access_log.c.path,
                access_log.c.entity_set,
                access_log.c.rows,
                access_log.c.status,
                access_log.c.duration_ms,
            )
            .where(access_log.c.feed == credential.feed)
            .order_by(access_log.c.id)
        ).all()
    root = f"/odata/v4/{credential.feed}/"
    assert [row[:6] for row in rows] == [
        (credential.username, "GET", root + "big?$top=5", "big", 5, 200),
        (credential.username, "GET", root + "people('a01')", "people", 1, 200),
        (credential.username, "GET", root + "people?$top=x", None, None, 400),
        (credential.username, "GET", root + "people", None, None, 401),
    ]
    assert all(row.duration_ms >= 0 for row in rows)


def test_the_verified_cache_knows_only_pairs_that_verified():
    from app.odata.credentials import VerifiedCache, hash_password

    cache = VerifiedCache()
    old = hash_password("old-secret", n=2**4)
    new = hash_password("new-secret", n=2**4)
    known_before = cache.knows("new-secret", new)
    verified = cache.verify("new-secret", new)
    known_after = cache.knows("new-secret", new)
    wrong_pair = (cache.knows("new-secret", old), cache.verify("new-secret", old), cache.knows("old-secret", new))
    assert (known_before, verified, known_after, wrong_pair) == (False, True, True, (False, False, False))

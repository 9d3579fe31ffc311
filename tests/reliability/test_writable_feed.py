"""Writable feeds end to end: the emulator's two orgs, `orgfeed sync`, the Procfile's gunicorn, OData clients.

Requests are shaped as Salesforce Connect sends them (JSON bodies, all fields on an edit, Basic auth);
one test drives the feed with python-odata. What each write did is checked in the org (simple-salesforce
on the emulator), in the mirror and through the feed.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import requests
from simple_salesforce import Salesforce
from sqlalchemy import text

from app.emulator.client import API_VERSION, https_session
from app.emulator.emulator import Emulator
from app.warehouse.database import create_database_engine
from tests.support.configs import write_full_config
from tests.support.databases import create_database, drop_database, unique_name
from tests.support.emulators import start_emulator
from tests.support.parity import assert_parity
from tests.support.processes import run_orgfeed
from tests.support.servers import web_server

ROWS = {"Employee": 30, "EmployeeCrisisAssessment": 30, "Account": 20, "Contact": 40}


@dataclass
class Site:
    emu: Emulator
    url: str
    root: str  # the writable feed's service root
    auth: tuple[str, str]
    feed: str
    read_only_root: str
    read_only_auth: tuple[str, str]
    engine: object
    database_url: str
    env: dict[str, str]
    master: list  # [gunicorn's master process]
    no_default_root: str  # a writable feed without default_geo
    no_default_auth: tuple[str, str]
    scoped_root: str  # a writable feed scoped to EMEA, without global_contact.mobilephone
    scoped_auth: tuple[str, str]

    def contacts(self) -> str:
        return self.root + "global_contact"

    def entity(self, key: str) -> str:
        return f"{self.root}global_contact('{key}')"

    def get(self, key: str) -> requests.Response:
        return requests.get(self.entity(key), auth=self.auth, timeout=30)

    def sf(self, org: str) -> Salesforce:
        return Salesforce(
            instance_url=self.emu.base_url,
            session_id=self.emu.session_id(org),
            session=https_session(self.emu),
            version=API_VERSION,
        )

    def mirror(self, org: str, sfid: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(text(f"select * from {org}.contact where sfid = :s"), {"s": sfid}).mappings().first()
        return dict(row) if row else None


def _feed(env: dict[str, str], name: str, *extra: str) -> tuple[str, str]:
    import json

    result = run_orgfeed(env, "feeds", "create", name, "--views", "global_contact,global_assessment", "--json", *extra)
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    return created["user"], created["password"]


@pytest.fixture(scope="module")
def site(server_url: str, migrated_template: str, tmp_path_factory) -> Iterator[Site]:
    directory: Path = tmp_path_factory.mktemp("writable")
    name = unique_name("orgfeed_writes")
    database_url = create_database(server_url, name, template=migrated_template)
    engine = create_database_engine(database_url, pool_size=2)
    emu = start_emulator(ROWS)
    feeds = [unique_name(prefix).replace("_", "") for prefix in ("w", "r", "n", "s")]
    try:
        config, env = write_full_config(emu, directory, database_url)
        result = run_orgfeed(env, "sync")
        assert result.returncode == 0, result.stderr[-3000:]
        writable = _feed(env, feeds[0], "--writable", "--default-geo", "AMER")
        read_only = _feed(env, feeds[1])
        no_default = _feed(env, feeds[2], "--writable")
        scoped = _feed(env, feeds[3], "--writable", "--geos", "EMEA", "--hide", "global_contact.mobilephone")
        secrets = {key: value for key, value in env.items() if key.startswith(("AMER_", "EMEA_"))}
        with web_server(database_url, config, env={**os.environ, **secrets}) as server:
            url, master = server.url, [server.process]
            yield Site(
                emu,
                url,
                f"{url}/odata/v4/{feeds[0]}/",
                writable,
                feeds[0],
                f"{url}/odata/v4/{feeds[1]}/",
                read_only,
                engine,
                database_url,
                env,
                master,
                f"{url}/odata/v4/{feeds[2]}/",
                no_default,
                f"{url}/odata/v4/{feeds[3]}/",
                scoped,
            )
    finally:
        from app.odata.feeds import delete_feed

        for feed in feeds:
            delete_feed(engine, feed)
        engine.dispose()
        emu.stop()
        drop_database(server_url, name)


def some_contact(site: Site, org: str, offset: int = 0) -> str:
    return site.emu.ids(org, "Contact")[offset]


def create_contact(site: Site, **body) -> requests.Response:
    return requests.post(site.contacts(), json=body, auth=site.auth, timeout=30)


def patch(site: Site, key: str, body: dict, **headers: str) -> requests.Response:
    return requests.patch(site.entity(key), json=body, auth=site.auth, headers=headers, timeout=30)


def error_of(response: requests.Response) -> dict:
    return response.json()["error"]


# -- $metadata ---------------------------------------------------------------------------------


def test_metadata_marks_writable_sets_and_read_only_properties(site: Site) -> None:
    xml = requests.get(site.root + "$metadata", auth=site.auth, timeout=30).text
    assert '<PropertyValue Property="Insertable" Bool="true"/>' in xml
    assert '<PropertyValue Property="Deletable" Bool="true"/>' in xml
    contact_type = xml.split('<EntityType Name="global_contact">', 1)[1].split("</EntityType>", 1)[0]

    def declaration(prop: str) -> str:
        return contact_type.split(f'<Property Name="{prop}" ', 1)[1].split("<Property ", 1)[0]

    for prop in ("id", "industry", "name"):
        assert '<Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/>' in declaration(prop), prop
    assert '<Annotation Term="Org.OData.Core.V1.Immutable" Bool="true"/>' in declaration("geo")
    for prop in ("lastname", "email", "phone"):
        assert "Computed" not in declaration(prop), prop
    read_only = requests.get(site.read_only_root + "$metadata", auth=site.read_only_auth, timeout=30).text
    assert '<PropertyValue Property="Insertable" Bool="false"/>' in read_only and "Computed" not in read_only


# -- creates -----------------------------------------------------------------------------------


@pytest.mark.parametrize("geo, org", [("AMER", "amer"), ("EMEA", "emea")])
def test_create_is_routed_to_the_org_of_its_geo(site: Site, geo: str, org: str) -> None:
    response = create_contact(site, geo=geo, lastname=f"Created-{geo}", firstname="Ada", email="ada@example.com")
    assert response.status_code == 201, response.text
    entity = response.json()
    key = entity["id"]
    assert response.headers["Location"] == f"{site.root}global_contact('{key}')"
    assert entity["geo"] == geo and entity["lastname"] == f"Created-{geo}" and entity["email"] == "ada@example.com"
    assert entity["@odata.etag"].startswith('W/"')
    record = site.sf(org).Contact.get(key)
    assert (record["LastName"], record["FirstName"], record["Email"]) == (f"Created-{geo}", "Ada", "ada@example.com")
    fetched = site.get(key).json()
    assert (fetched["geo"], fetched["lastname"]) == (geo, f"Created-{geo}")
    other = "emea" if org == "amer" else "amer"
    assert site.mirror(org, key) is not None and site.mirror(other, key) is None


def test_create_without_geo_goes_to_the_default_geo(site: Site) -> None:
    response = create_contact(site, lastname="Defaulted")
    assert response.status_code == 201, response.text
    assert response.json()["geo"] == "AMER"
    assert site.sf("amer").Contact.get(response.json()["id"])["LastName"] == "Defaulted"


def test_create_with_return_minimal_answers_204_with_location_and_entity_id(site: Site) -> None:
    response = requests.post(
        site.contacts(),
        json={"geo": "EMEA", "lastname": "Minimal"},
        auth=site.auth,
        headers={"Prefer": "return=minimal"},
        timeout=30,
    )
    assert response.status_code == 204 and response.content == b""
    assert response.headers["OData-EntityId"] == response.headers["Location"]
    key = response.headers["Location"].split("('")[1].rstrip("')")
    assert site.get(key).json()["lastname"] == "Minimal"


def test_create_count_shows_the_new_row(site: Site) -> None:
    before = int(requests.get(site.contacts() + "/$count", auth=site.auth, timeout=30).text)
    assert create_contact(site, geo="EMEA", lastname="Counted").status_code == 201
    assert int(requests.get(site.contacts() + "/$count", auth=site.auth, timeout=30).text) == before + 1


def test_gzip_body_and_annotations_are_accepted(site: Site) -> None:
    body = (
        b'{"@odata.type": "#orgfeed.global_contact", "geo": "EMEA", "lastname": "Zipped", '
        b'"lastname@odata.type": "String"}'
    )
    response = requests.post(
        site.contacts(),
        data=gzip.compress(body),
        auth=site.auth,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    assert response.json()["lastname"] == "Zipped"


def test_python_odata_client_reads_updates_and_deletes(site: Site) -> None:
    """python-odata 0.8.1 cannot create into a set whose key is Core.Computed (a KeyError in
    state._clean_new_entity), so the entity is created as Salesforce Connect would, then edited with python-odata."""
    from odata import ODataService

    key = create_contact(site, geo="EMEA", lastname="Pyodata").json()["id"]
    service = ODataService(
        site.root, auth=requests.auth.HTTPBasicAuth(*site.auth), reflect_entities=True, quiet_progress=True
    )
    contact_type = service.entities["global_contact"]
    contact = service.query(contact_type).filter(contact_type.id == key).first()
    assert (contact.geo, contact.lastname) == ("EMEA", "Pyodata")
    contact.phone = "555-0100"
    service.save(contact)
    assert site.sf("emea").Contact.get(key)["Phone"] == "555-0100"
    assert site.get(key).json()["phone"] == "555-0100"
    service.delete(contact)
    assert site.get(key).status_code == 404


# -- updates and deletes -----------------------------------------------------------------------


def test_partial_update_changes_only_the_named_fields(site: Site) -> None:
    key = some_contact(site, "emea", 1)
    before = site.sf("emea").Contact.get(key)
    response = patch(site, key, {"phone": "555-0101"})
    assert response.status_code == 204, response.text
    after = site.sf("emea").Contact.get(key)
    assert (
        after["Phone"] == "555-0101" and after["LastName"] == before["LastName"] and after["Email"] == before["Email"]
    )
    assert site.get(key).json()["phone"] == "555-0101"
    assert site.mirror("emea", key)["phone"] == "555-0101"


def test_full_update_as_salesforce_connect_sends_it(site: Site) -> None:
    """Every property, the read-only ones unchanged, as the Salesforce UI sends an edit."""
    key = some_contact(site, "amer", 2)
    entity = {k: v for k, v in site.get(key).json().items() if not k.startswith("@")}
    entity.update(lastname="Full", firstname="Grace", email="grace@example.com", mobilephone="555-0102")
    response = patch(site, key, entity, Prefer="return=representation")
    assert response.status_code == 200, response.text
    assert response.json()["lastname"] == "Full" and response.headers["ETag"] == response.json()["@odata.etag"]
    record = site.sf("amer").Contact.get(key)
    assert (record["LastName"], record["FirstName"], record["Email"], record["MobilePhone"]) == (
        "Full",
        "Grace",
        "grace@example.com",
        "555-0102",
    )


def test_null_clears_a_field(site: Site) -> None:
    key = some_contact(site, "amer", 3)
    assert patch(site, key, {"email": "x@example.com"}).status_code == 204
    assert patch(site, key, {"email": None}).status_code == 204
    assert site.sf("amer").Contact.get(key)["Email"] is None
    assert site.get(key).json()["email"] is None


def test_put_replaces_every_writable_field(site: Site) -> None:
    key = some_contact(site, "emea", 4)
    assert patch(site, key, {"phone": "555-0104", "fax": "555-0105"}).status_code == 204
    response = requests.put(site.entity(key), json={"lastname": "Put"}, auth=site.auth, timeout=30)
    assert response.status_code == 204, response.text
    record = site.sf("emea").Contact.get(key)
    assert (record["LastName"], record["Phone"], record["Fax"], record["FirstName"]) == ("Put", None, None, None)


def test_merge_and_tunnelled_patch_are_updates(site: Site) -> None:
    key = some_contact(site, "amer", 14)
    merged = requests.request("MERGE", site.entity(key), json={"fax": "555-0115"}, auth=site.auth, timeout=30)
    assert merged.status_code == 204
    tunnelled = requests.post(
        site.entity(key), json={"phone": "555-0116"}, auth=site.auth, headers={"X-HTTP-Method": "PATCH"}, timeout=30
    )
    assert tunnelled.status_code == 204
    record = site.sf("amer").Contact.get(key)
    assert (record["Fax"], record["Phone"]) == ("555-0115", "555-0116")


def test_delete_then_second_delete_is_404(site: Site) -> None:
    key = create_contact(site, geo="EMEA", lastname="Doomed").json()["id"]
    first = requests.delete(site.entity(key), auth=site.auth, timeout=30)
    assert first.status_code == 204
    deleted = site.sf("emea").query_all(f"select IsDeleted from Contact where Id = '{key}'", include_deleted=True)
    assert deleted["records"][0]["IsDeleted"] is True
    assert site.get(key).status_code == 404
    assert site.mirror("emea", key)["isdeleted"] is True
    second = requests.delete(site.entity(key), auth=site.auth, timeout=30)
    assert second.status_code == 404 and error_of(second)["code"] == "NotFound"


# -- refusals ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body, target",
    [
        ({"id": "003000000000001AAA", "geo": "AMER", "lastname": "X"}, "id"),
        ({"geo": "APAC", "lastname": "X"}, "geo"),
        ({"geo": "AMER", "lastname": "X", "industry": "Banking"}, "industry"),
        ({"geo": "AMER", "lastname": 42}, "lastname"),
        ({"geo": "AMER", "lastname": "X", "shoe_size": 9}, "body"),
    ],
)
def test_create_refusals_are_400_naming_the_property(site: Site, body: dict, target: str) -> None:
    before = len(site.emu.ids("amer", "Contact"))
    response = create_contact(site, **body)
    assert response.status_code == 400, response.text
    assert error_of(response)["target"] == target
    assert len(site.emu.ids("amer", "Contact")) == before


def test_create_without_geo_in_a_feed_without_default_geo_is_400(site: Site) -> None:
    response = requests.post(
        site.no_default_root + "global_contact", json={"lastname": "Nowhere"}, auth=site.no_default_auth, timeout=30
    )
    assert response.status_code == 400
    assert error_of(response)["target"] == "geo" and "default_geo" in error_of(response)["message"]


def test_changing_a_read_only_column_is_400_naming_it(site: Site) -> None:
    key = some_contact(site, "amer", 5)
    current = site.get(key).json()
    response = patch(site, key, {"industry": (current["industry"] or "") + "-changed"})
    assert response.status_code == 400 and error_of(response)["target"] == "industry"
    moved = patch(site, key, {"geo": "EMEA"})
    assert moved.status_code == 400 and error_of(moved)["target"] == "geo"


def test_required_field_missing_is_passed_through(site: Site) -> None:
    response = create_contact(site, geo="AMER", firstname="NoLastName")
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "REQUIRED_FIELD_MISSING" and error["target"] == "lastname"
    assert "LastName" in error["message"]


def test_salesforce_validation_error_is_passed_through(site: Site) -> None:
    requests.post(
        f"{site.emu.base_url}/__emulator/orgs/emea/sobjects/Contact/validation-rules",
        json={"field": "Email", "equals": "banned@example.com", "message": "Email is on the blocklist"},
        verify=str(site.emu.ca_bundle),
        timeout=30,
    ).raise_for_status()
    key = some_contact(site, "emea", 6)
    try:
        response = patch(site, key, {"email": "banned@example.com"})
    finally:
        site.emu.clear_validation_rules()
    assert response.status_code == 400
    assert error_of(response) == {
        "code": "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "message": "Email is on the blocklist",
        "target": "email",
        "details": [
            {"code": "FIELD_CUSTOM_VALIDATION_EXCEPTION", "message": "Email is on the blocklist", "target": "email"}
        ],
    }
    assert site.sf("emea").Contact.get(key)["Email"] != "banned@example.com"


def test_record_deleted_in_the_org_is_404_entity_is_deleted(site: Site) -> None:
    key = some_contact(site, "amer", 7)
    site.emu.delete("amer", "Contact", [key])  # the mirror has not seen it yet
    response = patch(site, key, {"phone": "555-0107"})
    assert response.status_code == 404 and error_of(response)["code"] == "ENTITY_IS_DELETED"


def test_request_limit_exceeded_is_503_with_retry_after(site: Site) -> None:
    key = some_contact(site, "amer", 8)
    site.emu.inject_fault(
        "status",
        path="*/sobjects/Contact/*",
        method="PATCH",
        status=403,
        error_code="REQUEST_LIMIT_EXCEEDED",
        message="TotalRequests Limit exceeded.",
    )
    response = patch(site, key, {"phone": "555-0108"})
    assert response.status_code == 503 and response.headers["Retry-After"].isdigit()
    assert error_of(response)["code"] == "REQUEST_LIMIT_EXCEEDED"


def test_a_create_whose_answer_never_came_is_504_and_not_retried(site: Site) -> None:
    before = len(site.emu.ids("emea", "Contact"))
    site.emu.inject_fault("drop", path="*/sobjects/Contact*", method="POST")
    response = create_contact(site, geo="EMEA", lastname="Unknown")
    assert response.status_code == 504 and error_of(response)["code"] == "OutcomeUnknown"
    assert "may or may not" in error_of(response)["message"]
    assert len(site.emu.ids("emea", "Contact")) == before  # one attempt, which the org never answered


def test_unknown_key_is_404(site: Site) -> None:
    response = patch(site, "003000000000000AAA", {"phone": "1"})
    assert response.status_code == 404 and error_of(response)["code"] == "NotFound"


def test_a_body_over_8_mb_is_413(site: Site) -> None:
    response = requests.post(
        site.contacts(),
        data=b'{"lastname": "' + b"x" * (8 * 1024 * 1024) + b'"}',
        auth=site.auth,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 413


def test_a_scoped_writable_feed_writes_only_inside_its_scope(site: Site) -> None:
    root, auth = site.scoped_root, site.scoped_auth
    outside, inside = some_contact(site, "amer", 5), some_contact(site, "emea", 5)
    refused = requests.post(root + "global_contact", json={"geo": "AMER", "lastname": "Out"}, auth=auth, timeout=30)
    assert refused.status_code == 400
    assert "geo 'AMER' is outside this feed's scope (EMEA)" in error_of(refused)["message"]
    before = site.sf("amer").Contact.get(outside)["Phone"]
    for method in (requests.patch, requests.put):
        answer = method(f"{root}global_contact('{outside}')", json={"phone": "555-0000"}, auth=auth, timeout=30)
        assert answer.status_code == 404, answer.text
    assert requests.delete(f"{root}global_contact('{outside}')", auth=auth, timeout=30).status_code == 404
    assert site.sf("amer").Contact.get(outside)["Phone"] == before
    hidden = requests.patch(f"{root}global_contact('{inside}')", json={"mobilephone": "1"}, auth=auth, timeout=30)
    assert hidden.status_code == 400 and "mobilephone" in error_of(hidden)["message"]
    done = requests.patch(f"{root}global_contact('{inside}')", json={"phone": "555-0199"}, auth=auth, timeout=30)
    assert done.status_code == 204, done.text
    assert site.sf("emea").Contact.get(inside)["Phone"] == "555-0199"


def test_a_read_only_feed_answers_405(site: Site) -> None:
    key = some_contact(site, "amer", 9)
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        url = site.read_only_root + ("global_contact" if method == "POST" else f"global_contact('{key}')")
        response = requests.request(method, url, json={"lastname": "No"}, auth=site.read_only_auth, timeout=30)
        assert response.status_code == 405 and error_of(response)["code"] == "MethodNotAllowed"


# -- concurrency, ETags, crashes ---------------------------------------------------------------


def test_etag_of_a_stale_read_is_412(site: Site) -> None:
    key = some_contact(site, "emea", 10)
    read = site.get(key)
    tag = read.headers["ETag"]
    assert read.json()["@odata.etag"] == tag and tag.startswith('W/"')
    written = patch(site, key, {"phone": "555-0110"}, **{"If-Match": tag})  # current: accepted
    assert written.status_code == 204 and written.headers["ETag"] != tag
    assert site.get(key).headers["ETag"] == written.headers["ETag"]
    stale = patch(site, key, {"phone": "555-0112"}, **{"If-Match": tag})
    assert stale.status_code == 412 and error_of(stale)["code"] == "PreconditionFailed"
    assert site.sf("emea").Contact.get(key)["Phone"] == "555-0110"


def test_etag_read_before_a_change_made_in_the_org_is_412(site: Site) -> None:
    key = some_contact(site, "amer", 13)
    tag = site.get(key).headers["ETag"]
    site.emu.update("amer", "Contact", [{"Id": key, "Phone": "555-0113"}])  # not synced to the mirror yet
    stale = patch(site, key, {"fax": "555-0114"}, **{"If-Match": tag})
    assert stale.status_code == 412
    assert patch(site, key, {"fax": "555-0114"}).status_code == 204  # If-Match is optional


def test_eight_concurrent_clients_leave_one_value_in_org_and_mirror(site: Site) -> None:
    key = some_contact(site, "amer", 11)
    values = [f"555-02{n:02d}" for n in range(8)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(values))

    def write(value: str) -> None:
        barrier.wait()
        statuses.append(patch(site, key, {"phone": value, "mobilephone": value}).status_code)

    threads = [threading.Thread(target=write, args=(value,)) for value in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [204] * 8
    record = site.sf("amer").Contact.get(key)
    assert record["Phone"] in values and record["MobilePhone"] == record["Phone"]
    mirror = site.mirror("amer", key)
    assert (mirror["phone"], mirror["mobilephone"]) == (record["Phone"], record["Phone"])
    assert (
        mirror["systemmodstamp"].isoformat(timespec="milliseconds").replace("+00:00", "")
        == record["SystemModstamp"][:23]
    )
    assert site.get(key).json()["phone"] == record["Phone"]


def _worker_pids(master_pid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    if int(stat.read().rsplit(")", 1)[1].split()[1]) == master_pid:
                        pids.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return pids


def test_worker_killed_between_the_org_answer_and_the_mirror_update_then_sync_is_parity(site: Site) -> None:
    key = some_contact(site, "emea", 12)
    with psycopg.connect(site.database_url) as blocker:
        # Hold the mirror row: the worker writes the org, then waits on this lock to refresh the row.
        blocker.execute("select 1 from emea.contact where sfid = %s for update", (key,))
        thread = threading.Thread(target=lambda: _swallow(lambda: patch(site, key, {"phone": "555-0300"})))
        thread.start()
        deadline = time.monotonic() + 30
        while site.sf("emea").Contact.get(key)["Phone"] != "555-0300":
            assert time.monotonic() < deadline, "the org never got the write"
            time.sleep(0.1)
        time.sleep(0.3)  # the worker is now waiting for the row
        for pid in _worker_pids(site.master[0].pid):
            os.kill(pid, signal.SIGKILL)
        blocker.rollback()
    thread.join(timeout=60)
    assert site.mirror("emea", key)["phone"] != "555-0300"  # the refresh died with the worker
    result = run_orgfeed(site.env, "sync", "--org", "emea", "--object", "Contact")
    assert result.returncode == 0, result.stderr[-3000:]
    assert site.mirror("emea", key)["phone"] == "555-0300"
    assert_parity(site.emu, site.engine, "emea", "Contact")
    deadline = time.monotonic() + 30
    while True:  # gunicorn's master started a new worker
        try:
            if site.get(key).status_code == 200:
                break
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert site.get(key).json()["phone"] == "555-0300"


def _swallow(action) -> None:
    with contextlib.suppress(requests.RequestException):  # the worker died mid-request: the connection drops
        action()


# -- the read role and the audit trail ---------------------------------------------------------


def test_the_feed_role_still_cannot_write(site: Site) -> None:
    role = f"orgfeed_feed_{site.feed}"
    statements = [
        "insert into emea.contact (sfid, systemmodstamp) values ('003x', now())",
        "update amer.contact set phone = 'x'",
        "delete from public.sentinel_does_not_exist",
        "update public.global_contact set phone = 'x'",
        "delete from orgfeed.feeds",
        "create table public.intruder (id int)",
    ]
    with psycopg.connect(site.database_url, autocommit=True) as conn:
        for statement in statements:
            with pytest.raises(psycopg.Error), conn.transaction():
                conn.execute(f'set local role "{role}"')
                conn.execute(statement)


def test_every_write_is_in_the_sync_log_and_the_access_log(site: Site) -> None:
    key = create_contact(site, geo="EMEA", lastname="Audited").json()["id"]
    assert patch(site, key, {"phone": "555-0400"}).status_code == 204
    assert requests.delete(site.entity(key), auth=site.auth, timeout=30).status_code == 204
    failed = create_contact(site, geo="EMEA", firstname="NoLastName")
    assert failed.status_code == 400
    time.sleep(0.5)  # the access log is written when the response closes
    with site.engine.connect() as conn:
        logged = conn.execute(
            text(
                "select action, status, message from orgfeed.sync_log where org = 'emea' and record_id = :k order by id"
            ),
            {"k": key},
        ).all()
        refused = conn.execute(
            text(
                "select status, error_code from orgfeed.sync_log "
                "where action = 'Create' and status = 'Failed' order by id desc limit 1"
            )
        ).one()
        access = conn.execute(
            text("select method, status from orgfeed.access_log where feed = :f and path like :p order by id"),
            {"f": site.feed, "p": f"%('{key}')%"},
        ).all()
    assert [(action, status) for action, status, _ in logged] == [
        ("Create", "Succeeded"),
        ("Update", "Succeeded"),
        ("Delete", "Succeeded"),
    ]
    assert all(f"through feed {site.feed} (user {site.auth[0]})" in message for _, _, message in logged)
    assert tuple(refused) == ("Failed", "REQUIRED_FIELD_MISSING")
    assert [tuple(row) for row in access] == [("PATCH", 204), ("DELETE", 204)]


def test_feeds_list_says_which_feeds_are_writable(site: Site) -> None:
    import json

    result = run_orgfeed(site.env, "feeds", "list", "--json")
    assert result.returncode == 0, result.stderr
    writable = {feed["feed"]: feed["writable"] for feed in json.loads(result.stdout)}
    assert writable[site.feed] is True
    assert writable[site.read_only_root.rstrip("/").rsplit("/", 1)[1]] is False


@pytest.mark.parametrize(
    "method, path, body",
    [
        ("POST", "global_contact", b"\xff\xfe not json"),
        ("POST", "global_contact", b"[1, 2]"),
        ("POST", "global_contact", b'{"geo": 5, "lastname": "x"}'),
        ("POST", "global_contact", b'{"geo": "AMER", "lastname": {"nested": true}}'),
        ("POST", "global_contact", b'{"geo": "AMER", "lastname": "x", "phone": 1e999}'),
        ("POST", "global_contact('003x')", b'{"lastname": "x"}'),
        ("PATCH", "global_contact", b'{"lastname": "x"}'),
        ("PATCH", "global_contact('it''s')", b'{"lastname": "x"}'),
        ("PATCH", "global_contact('unclosed", b'{"lastname": "x"}'),
        ("PATCH", "global_contact('{amer0}')/lastname", b'{"lastname": "x"}'),
        ("PATCH", "global_contact('{amer0}')", b'{"id": "other", "lastname": "x"}'),
        ("PATCH", "global_contact('{amer0}')", b'{"lastname": ""}'),
        ("PUT", "global_contact('{amer0}')", b"{}"),
        ("DELETE", "no_such_set('x')", b""),
        ("PATCH", "global_assessment('{amer0}')", b'{"lastname": "x"}'),
    ],
)
def test_hostile_writes_get_an_odata_error_never_a_5xx(site: Site, method: str, path: str, body: bytes) -> None:
    path = path.replace("{amer0}", some_contact(site, "amer", 15))
    response = requests.request(
        method, site.root + path, data=body, auth=site.auth, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    error = error_of(response)
    assert isinstance(error["code"], str) and error["message"]

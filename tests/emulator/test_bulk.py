"""Bulk API 2.0 query jobs: states, CSV result pages to the `null` locator, abort, delete, errors."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceOperationError

from app.emulator import Emulator, demo_orgs
from app.emulator.client import OrgClient


def _create(client: OrgClient, soql: str, operation: str = "query") -> dict:
    response = client.post("jobs/query", json={"operation": operation, "query": soql})
    assert response.status_code == 200, response.text
    return response.json()


def _run(client: OrgClient, soql: str, operation: str = "query") -> str:
    job = _create(client, soql, operation)
    states = [job["state"]]
    while states[-1] not in ("JobComplete", "Failed", "Aborted"):
        states.append(client.get(f"jobs/query/{job['id']}").json()["state"])
    assert states[-1] == "JobComplete"
    return job["id"]


def _pages(client: OrgClient, job_id: str, max_records: int) -> list:
    pages, locator = [], None
    while locator != "null":
        params = {"maxRecords": max_records, **({"locator": locator} if locator else {})}
        response = client.get(f"jobs/query/{job_id}/results", params=params)
        assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/csv")
        locator = response.headers["Sforce-Locator"]
        pages.append(
            (int(response.headers["Sforce-NumberOfRecords"]), locator, list(csv.reader(io.StringIO(response.text))))
        )
    return pages


def test_a_query_job_moves_through_its_states(shared_client: OrgClient) -> None:
    job = _create(shared_client, "SELECT Id FROM Account")
    assert job["state"] == "UploadComplete" and job["id"].startswith("750")
    assert {
        k: job[k]
        for k in (
            "operation",
            "object",
            "contentType",
            "lineEnding",
            "columnDelimiter",
            "apiVersion",
            "concurrencyMode",
        )
    } == {
        "operation": "query",
        "object": "Account",
        "contentType": "CSV",
        "lineEnding": "LF",
        "columnDelimiter": "COMMA",
        "apiVersion": 62.0,
        "concurrencyMode": "Parallel",
    }
    polled = shared_client.get(f"jobs/query/{job['id']}").json()
    assert polled["state"] == "InProgress" and polled["jobType"] == "V2Query"
    states = set()
    while polled["state"] == "InProgress":
        polled = shared_client.get(f"jobs/query/{job['id']}").json()
        states.add(polled["state"])
    assert polled["state"] == "JobComplete" and polled["numberRecordsProcessed"] == 300


def test_results_page_with_max_records_until_the_null_locator(shared: Emulator, shared_client: OrgClient) -> None:
    job_id = _run(shared_client, "SELECT Id, Name, BillingCity FROM Account")
    pages = _pages(shared_client, job_id, 120)
    assert [(count, len(rows)) for count, _, rows in pages] == [(120, 121), (120, 121), (60, 61)]
    assert [locator for _, locator, _ in pages][-1] == "null"
    assert all(rows[0] == ["Id", "Name", "BillingCity"] for _, _, rows in pages)
    ids = [row[0] for _, _, rows in pages for row in rows[1:]]
    assert ids == shared.ids("amer", "Account")


def test_a_locator_can_be_read_again(shared_client: OrgClient) -> None:
    job_id = _run(shared_client, "SELECT Id FROM Contact")
    first = shared_client.get(f"jobs/query/{job_id}/results", params={"maxRecords": 100})
    locator = first.headers["Sforce-Locator"]
    again = [
        shared_client.get(f"jobs/query/{job_id}/results", params={"maxRecords": 100, "locator": locator})
        for _ in range(2)
    ]
    assert again[0].content == again[1].content and again[0].content != first.content


def test_csv_cells_are_quoted_and_null_is_empty(shared: Emulator, shared_client: OrgClient) -> None:
    job_id = _run(
        shared_client,
        "SELECT Id, MiddleName, IsDeleted, CreatedDate, StatusAsOf, "
        "ShiftStartTime__c, HourlyRate__c, Description FROM Employee",
    )
    body = shared_client.get(f"jobs/query/{job_id}/results").text
    table = shared.table("amer", "Employee")
    first_line = body.split("\n")[1]
    assert first_line == (
        '"0hE5e0000000001EAA","","false","2023-01-02T00:00:00.000Z","2024-04-08",'
        '"11:15:00.000Z","83.98","Speaks three languages, ""fluently""."'
    )
    rows = list(csv.reader(io.StringIO(body)))
    assert len(rows) == 301
    descriptions = {row[7] for row in rows[1:]}
    assert 'Speaks three languages, "fluently".' in descriptions and "Mentor for new hires,\nquarterly." in descriptions
    assert [row[1] or None for row in rows[1:]] == [table.value(r, "MiddleName") for r in range(300)]


def test_query_all_job_includes_deleted_rows(emulator: Emulator, client: OrgClient) -> None:
    doomed = emulator.ids("amer", "Employee", limit=4)
    emulator.delete("amer", "Employee", doomed)
    live = _pages(client, _run(client, "SELECT Id, IsDeleted FROM Employee"), 1000)
    everything = _pages(client, _run(client, "SELECT Id, IsDeleted FROM Employee", "queryAll"), 1000)
    assert live[0][0] == 296 and everything[0][0] == 300
    assert [row[0] for row in everything[0][2][1:] if row[1] == "true"] == doomed


def test_simple_salesforce_bulk2_query_yields_csv_pages(shared: Emulator, shared_sf: Salesforce) -> None:
    pages = list(shared_sf.bulk2.Employee.query("SELECT Id, Email FROM Employee", max_records=100, wait=0.05))
    assert len(pages) == 3
    ids = [row["Id"] for page in pages for row in csv.DictReader(io.StringIO(page))]
    assert ids == shared.ids("amer", "Employee")


def test_simple_salesforce_bulk2_download_writes_every_page(shared_sf: Salesforce, tmp_path) -> None:
    results = shared_sf.bulk2.Contact.download(
        "SELECT Id, LastName FROM Contact", str(tmp_path), max_records=250, wait=0.05
    )
    assert [r["number_of_records"] for r in results] == [250, 50]
    lines = [line for r in results for line in Path(r["file"]).read_text().splitlines()[1:]]
    assert len(lines) == 300


def test_results_before_completion_are_refused(shared_client: OrgClient) -> None:
    job = _create(shared_client, "SELECT Id FROM Account")
    response = shared_client.get(f"jobs/query/{job['id']}/results")
    assert response.status_code == 400
    assert response.json()[0]["errorCode"] == "INVALIDJOBSTATE"


def test_abort_ends_a_job_and_delete_removes_it(client: OrgClient) -> None:
    job = _create(client, "SELECT Id FROM Account")
    aborted = client.patch(f"jobs/query/{job['id']}", json={"state": "Aborted"})
    assert (aborted.status_code, aborted.json()["state"]) == (200, "Aborted")
    assert client.get(f"jobs/query/{job['id']}").json()["state"] == "Aborted"
    deleted = client.delete(f"jobs/query/{job['id']}")
    assert (deleted.status_code, deleted.content) == (204, b"")
    assert client.get(f"jobs/query/{job['id']}").status_code == 404


def test_jobs_are_listed_per_org(emulator: Emulator, client: OrgClient) -> None:
    job = _create(client, "SELECT Id FROM Account")
    listed = client.get("jobs/query").json()
    assert [j["id"] for j in listed["records"]] == [job["id"]] and listed["done"] is True
    assert OrgClient(emulator, "emea").get("jobs/query").json()["records"] == []
    assert OrgClient(emulator, "emea").get(f"jobs/query/{job['id']}").status_code == 404


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"operation": "query", "query": "SELECT Id FROM Nope"}, "INVALID_TYPE"),
        ({"operation": "query", "query": "SELECT Nope FROM Account"}, "INVALID_FIELD"),
        ({"operation": "query", "query": "SELECT FROM Account"}, "MALFORMED_QUERY"),
        ({"operation": "query", "query": "SELECT Id, BillingAddress FROM Account"}, "API_ERROR"),
        ({"operation": "query", "query": "SELECT Id, Photo FROM Employee"}, "API_ERROR"),
        ({"operation": "upsert", "query": "SELECT Id FROM Account"}, "INVALIDJOB"),
    ],
)
def test_invalid_jobs_are_refused_at_creation(shared_client: OrgClient, body: dict, code: str) -> None:
    response = shared_client.post("jobs/query", json=body)
    assert (response.status_code, response.json()[0]["errorCode"]) == (400, code)


@pytest.mark.parametrize(("kind", "state"), [("bulk_failed", "Failed"), ("bulk_aborted", "Aborted")])
def test_injected_bulk_faults_end_the_job(
    emulator: Emulator, client: OrgClient, sf: Salesforce, kind: str, state: str
) -> None:
    emulator.inject_fault(kind, path="*/jobs/query", count=2)
    job = _create(client, "SELECT Id FROM Account")
    final = client.get(f"jobs/query/{job['id']}").json()
    while final["state"] == "InProgress":
        final = client.get(f"jobs/query/{job['id']}").json()
    assert final["state"] == state
    assert ("errorMessage" in final) == (state == "Failed")
    with pytest.raises(SalesforceOperationError):
        list(sf.bulk2.Account.query("SELECT Id FROM Account", wait=0.05))
    assert _run(client, "SELECT Id FROM Account")  # the third job is not affected


def test_crlf_line_endings_are_honoured(shared_client: OrgClient) -> None:
    job = shared_client.post(
        "jobs/query", json={"operation": "query", "query": "SELECT Id FROM Account", "lineEnding": "CRLF"}
    ).json()
    while shared_client.get(f"jobs/query/{job['id']}").json()["state"] != "JobComplete":
        pass
    body = shared_client.get(f"jobs/query/{job['id']}/results", params={"maxRecords": 2}).content
    assert body.count(b"\r\n") == 3 and body.startswith(b'"Id"\r\n')


def test_a_warmed_cache_serves_the_same_bytes_as_rendering() -> None:
    results = []
    for warm in (False, True):
        with Emulator(demo_orgs(rows={"Employee": 5000}, seed=3)) as emulator:
            if warm:
                assert emulator.warm_bulk_cache(min_rows=1000) == 8000  # whole blocks of 2,000 in both orgs
            client = OrgClient(emulator, "emea")
            fields = [
                f["name"]
                for f in client.get("sobjects/Employee/describe").json()["fields"]
                if f["type"] not in ("address", "location", "base64")
            ]
            job_id = _run(client, f"SELECT {', '.join(fields)} FROM Employee", "queryAll")
            results.append(client.get(f"jobs/query/{job_id}/results", params={"maxRecords": 3001}).content)
    assert results[0] == results[1]
    assert results[0].count(b'\n"0hE7X') == 3001


WARM_IN_WORKERS = """
import hashlib, threading
from app.emulator import Emulator, demo_orgs
from app.emulator.warmup import full_load_fields
emulator = Emulator(demo_orgs(rows={"Employee": 4000}, seed=3))
assert threading.active_count() == 1
print(emulator.warm_bulk_cache(min_rows=1000))
table = emulator.table("emea", "Employee")
fields = full_load_fields(table)
print(table.csv_block(fields, 1).data == table.csv_chunk(fields, range(2000, 4000)).data)
"""


def test_warming_before_start_renders_the_same_blocks_in_worker_processes() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WARM_IN_WORKERS],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
        check=False,
    )
    assert (done.returncode, done.stdout.split()) == (0, ["8000", "True"]), done.stderr

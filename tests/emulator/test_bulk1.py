"""Bulk API 1.0 query jobs as the Bulk API Developer Guide walks through them, in XML, JSON and with simple-salesforce.

"Walk Through a Bulk Query Sample": create a job (X-SFDC-Session, application/xml), add a batch with
the SOQL (text/csv), poll the batch to Completed, get the result list, get the result, close the job.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest
import requests
from simple_salesforce import Salesforce

from app.emulator import Emulator
from app.emulator.client import OrgClient, https_session

NS = "{http://www.force.com/2009/06/asyncapi/dataload}"
API = "62.0"


def job_xml(**fields: str) -> str:
    elements = "".join(f"<{name}>{value}</{name}>" for name, value in fields.items())
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<jobInfo xmlns="http://www.force.com/2009/06/asyncapi/dataload">{elements}</jobInfo>'
    )


class AsyncApi:
    """Plain HTTPS to /services/async/<version>/ of one org, with the session in X-SFDC-Session."""

    def __init__(self, emulator: Emulator, org: str = "amer", version: str = API) -> None:
        self.http = https_session(emulator)
        self.base = f"{emulator.base_url}/services/async/{version}"
        self.session = emulator.session_id(org)

    def send(self, method: str, path: str, content_type: str = "application/xml; charset=UTF-8", **kw: object):
        headers = {"X-SFDC-Session": self.session, "Content-Type": content_type, **kw.pop("headers", {})}  # type: ignore[dict-item]
        return self.http.request(method, f"{self.base}/{path}", headers=headers, **kw)  # type: ignore[arg-type]

    def create_job(self, sobject: str = "Account", content_type: str = "CSV", headers=None, **extra: str) -> dict:
        fields = {"operation": "query", "object": sobject, "concurrencyMode": "Parallel", "contentType": content_type}
        response = self.send("POST", "job", data=job_xml(**{**fields, **extra}), headers=headers or {})
        assert response.status_code == 201, response.text
        return fields_of(response)

    def add_batch(self, job_id: str, soql: str, content_type: str = "text/csv; charset=UTF-8") -> dict:
        response = self.send("POST", f"job/{job_id}/batch", content_type, data=soql)
        assert response.status_code == 201, response.text
        return fields_of(response)

    def batch(self, job_id: str, batch_id: str) -> dict:
        return fields_of(self.send("GET", f"job/{job_id}/batch/{batch_id}"))

    def batches(self, job_id: str) -> list[dict]:
        root = ElementTree.fromstring(self.send("GET", f"job/{job_id}/batch").content)
        return [{child.tag.removeprefix(NS): child.text for child in info} for info in root]

    def poll(self, job_id: str, batch_id: str) -> dict:
        for _ in range(10):
            info = self.batch(job_id, batch_id)
            if info["state"] not in ("Queued", "InProgress"):
                return info
        raise AssertionError(f"batch {batch_id} still {info['state']}")

    def result_csv(self, job_id: str, batch_id: str) -> str:
        listing = ElementTree.fromstring(self.send("GET", f"job/{job_id}/batch/{batch_id}/result").content)
        [result_id] = [element.text for element in listing]
        response = self.send("GET", f"job/{job_id}/batch/{batch_id}/result/{result_id}")
        assert response.headers["Content-Type"].startswith("text/csv")
        return response.text

    def close(self, job_id: str, state: str = "Closed") -> requests.Response:
        return self.send("POST", f"job/{job_id}", data=job_xml(state=state))


def fields_of(response: requests.Response) -> dict:
    root = ElementTree.fromstring(response.content)
    return {"_root": root.tag.removeprefix(NS), **{child.tag.removeprefix(NS): child.text for child in root}}


def error_of(response: requests.Response) -> tuple[int, str | None, str | None]:
    root = ElementTree.fromstring(response.content)
    assert root.tag == f"{NS}error"
    return response.status_code, root.findtext(f"{NS}exceptionCode"), root.findtext(f"{NS}exceptionMessage")


def csv_lines(emulator: Emulator, org: str, sobject: str, fields: list[str], rows) -> str:
    table = emulator.table(org, sobject)
    header = ",".join(f'"{name}"' for name in fields)
    body = [",".join(f'"{table.value(row, name) or ""}"' for name in fields) for row in rows]
    return "\n".join([header, *body]) + "\n"


@pytest.fixture
def api(emulator: Emulator) -> AsyncApi:
    return AsyncApi(emulator)


@pytest.fixture
def shared_api(shared: Emulator) -> AsyncApi:
    return AsyncApi(shared)


def test_the_documented_query_walkthrough_returns_the_rows_as_csv(shared: Emulator, shared_api: AsyncApi) -> None:
    job = shared_api.create_job()
    assert job["_root"] == "jobInfo"
    assert list(job)[1:] == [
        "id", "operation", "object", "createdById", "createdDate", "systemModstamp", "state", "concurrencyMode",
        "contentType", "numberBatchesQueued", "numberBatchesInProgress", "numberBatchesCompleted",
        "numberBatchesFailed", "numberBatchesTotal", "numberRecordsProcessed", "numberRetries", "apiVersion",
        "numberRecordsFailed", "totalProcessingTime", "apiActiveProcessingTime", "apexProcessingTime",
    ]  # fmt: skip
    assert (job["id"][:3], job["state"], job["operation"], job["object"], job["apiVersion"]) == (
        "750", "Open", "query", "Account", "62.0",
    )  # fmt: skip
    batch = shared_api.add_batch(job["id"], "SELECT Id, Name FROM Account ORDER BY Id LIMIT 5")
    assert (batch["_root"], batch["id"][:3], batch["jobId"], batch["state"]) == (
        "batchInfo",
        "751",
        job["id"],
        "Queued",
    )
    assert shared_api.batch(job["id"], batch["id"])["state"] == "InProgress"
    done = shared_api.poll(job["id"], batch["id"])
    assert (done["state"], done["numberRecordsProcessed"]) == ("Completed", "5")
    assert shared_api.result_csv(job["id"], batch["id"]) == csv_lines(
        shared, "amer", "Account", ["Id", "Name"], range(5)
    )
    closed = fields_of(shared_api.close(job["id"]))
    assert (closed["state"], closed["numberBatchesCompleted"], closed["numberBatchesTotal"]) == ("Closed", "1", "1")
    assert closed["numberRecordsProcessed"] == "5"


def test_query_all_jobs_include_the_recycle_bin(emulator: Emulator, api: AsyncApi) -> None:
    doomed = emulator.ids("amer", "Contact", limit=2)
    emulator.delete("amer", "Contact", doomed)
    for operation, expected in (("query", 298), ("queryAll", 300)):
        job = api.create_job("Contact", operation=operation)
        batch = api.add_batch(job["id"], "SELECT Id, IsDeleted FROM Contact")
        assert api.poll(job["id"], batch["id"])["numberRecordsProcessed"] == str(expected)
    assert api.result_csv(job["id"], batch["id"]).count('"true"') == 2


def test_simple_salesforce_bulk_queries_a_json_job(shared: Emulator, shared_sf: Salesforce) -> None:
    # simple-salesforce's Bulk handler: a JSON job, its concurrencyMode sent as 0, the results as JSON.
    records = shared_sf.bulk.Contact.query("SELECT Id, LastName, CreatedDate, Birthdate FROM Contact", wait=0.01)
    table = shared.table("amer", "Contact")
    assert len(records) == 300
    first = records[0]
    assert first == {
        "attributes": {"type": "Contact", "url": f"/services/data/v{API}/sobjects/Contact/{table.record_id(0)}"},
        "Id": table.record_id(0),
        "LastName": table.value(0, "LastName"),
        # Bulk API 1.0 writes date and dateTime values of JSON results as epoch milliseconds.
        "CreatedDate": int(table.value(0, "CreatedDate").timestamp() * 1000),
        "Birthdate": (
            int(datetime.combine(table.value(0, "Birthdate"), datetime.min.time(), UTC).timestamp() * 1000)
            if table.value(0, "Birthdate")
            else None
        ),
    }


def test_json_jobs_and_batches_have_the_documented_json_fields(shared_api: AsyncApi) -> None:
    body = b'{"operation": "query", "object": "Account", "contentType": "JSON"}'
    created = shared_api.send("POST", "job", "application/json", data=body)
    assert created.status_code == 201 and created.headers["Content-Type"].startswith("application/json")
    job = created.json()
    assert set(job) == {
        "apexProcessingTime", "apiActiveProcessingTime", "apiVersion", "assignmentRuleId", "concurrencyMode",
        "contentType", "createdById", "createdDate", "externalIdFieldName", "fastPathEnabled", "id",
        "numberBatchesCompleted", "numberBatchesFailed", "numberBatchesInProgress", "numberBatchesQueued",
        "numberBatchesTotal", "numberRecordsFailed", "numberRecordsProcessed", "numberRetries", "object",
        "operation", "state", "systemModstamp", "totalProcessingTime",
    }  # fmt: skip
    assert (job["apiVersion"], job["concurrencyMode"], job["state"]) == (62.0, "Parallel", "Open")
    assert job["createdDate"].endswith("+0000")
    batch = shared_api.send("POST", f"job/{job['id']}/batch", "application/json", data="SELECT Id FROM Account").json()
    assert set(batch) == {
        "apexProcessingTime", "apiActiveProcessingTime", "createdDate", "id", "jobId", "numberRecordsFailed",
        "numberRecordsProcessed", "state", "stateMessage", "systemModstamp", "totalProcessingTime",
    }  # fmt: skip
    assert (batch["state"], batch["stateMessage"]) == ("Queued", None)


def test_an_xml_job_returns_xml_records_with_nulls_as_nil(shared: Emulator, shared_api: AsyncApi) -> None:
    job = shared_api.create_job("Contact", content_type="XML")
    batch = shared_api.add_batch(job["id"], "SELECT Id, Fax FROM Contact ORDER BY Id LIMIT 3", "application/xml")
    shared_api.poll(job["id"], batch["id"])
    listing = ElementTree.fromstring(shared_api.send("GET", f"job/{job['id']}/batch/{batch['id']}/result").content)
    result = shared_api.send("GET", f"job/{job['id']}/batch/{batch['id']}/result/{listing[0].text}")
    root = ElementTree.fromstring(result.content)
    assert root.tag == f"{NS}queryResult"
    table = shared.table("amer", "Contact")
    nil = "{http://www.w3.org/2001/XMLSchema-instance}nil"
    records = [
        (r.findtext(f"{NS}type"), r.findtext(f"{NS}Id"), r.find(f"{NS}Fax").text, r.find(f"{NS}Fax").get(nil))  # type: ignore[union-attr]
        for r in root
    ]
    assert records == [
        ("Contact", table.record_id(row), table.value(row, "Fax"), None if table.value(row, "Fax") else "true")
        for row in range(3)
    ]


@pytest.mark.parametrize(
    ("soql", "message"),
    [
        ("SELECT Nope__c FROM Account", "InvalidBatch : Failed to process query: INVALID_FIELD: \nSELECT Nope__c FROM"),
        ("SELECT COUNT() FROM Account", "InvalidBatch : Failed to process query: API_ERROR: COUNT() and OFFSET"),
        ("SELECT Id FROM Account OFFSET 5", "InvalidBatch : Failed to process query: API_ERROR: COUNT() and OFFSET"),
        ("SELECT BillingAddress FROM Account", "InvalidBatch : Failed to process query: API_ERROR: Selecting compound"),
        ("SELECT Id FROM Contact", "InvalidBatch : Failed to process query: INVALID_TYPE: The query's object Contact"),
    ],
)
def test_a_batch_whose_soql_bulk_refuses_fails_with_a_state_message(
    shared_api: AsyncApi, soql: str, message: str
) -> None:
    job = shared_api.create_job()
    batch = shared_api.add_batch(job["id"], soql)
    assert batch["state"] == "Queued"
    failed = shared_api.poll(job["id"], batch["id"])
    assert failed["state"] == "Failed" and failed["stateMessage"].startswith(message)
    assert error_of(shared_api.send("GET", f"job/{job['id']}/batch/{batch['id']}/result")) == (
        400,
        "InvalidBatch",
        "Batch not completed",
    )


def test_the_session_comes_from_the_x_sfdc_session_header(shared: Emulator) -> None:
    base = f"{shared.base_url}/services/async/{API}/job"
    http = https_session(shared)
    for headers in ({}, {"X-SFDC-Session": "00Dnope!nope"}, {"Authorization": f"Bearer {shared.session_id('amer')}"}):
        response = http.post(base, data=job_xml(operation="query", object="Account"), headers=headers)
        assert error_of(response) == (401, "InvalidSessionId", "Invalid session id")


@pytest.mark.parametrize(
    ("fields", "code", "message"),
    [
        ({"operation": "query", "object": "Nope"}, "InvalidJob", "Unable to find object: Nope"),
        ({"operation": "QUERY", "object": "Account"}, "InvalidJob", "Invalid operation: QUERY"),
        (
            {"operation": "insert", "object": "Account"},
            "InvalidJob",
            "Operation insert is not supported by the orgfeed emulator (query jobs only)",
        ),
        (
            {"operation": "query", "object": "Account", "contentType": "ZIP_CSV"},
            "InvalidJob",
            "contentType ZIP_CSV is not supported by the orgfeed emulator",
        ),
        ({"operation": "query", "object": "Account", "contentType": "TSV"}, "InvalidJob", "Invalid contentType: TSV"),
        (
            {"operation": "query", "object": "Account", "concurrencyMode": "Fast"},
            "InvalidJob",
            "Invalid concurrencyMode: Fast",
        ),
    ],
)
def test_a_job_bulk_cannot_run_is_refused(shared_api: AsyncApi, fields: dict, code: str, message: str) -> None:
    assert error_of(shared_api.send("POST", "job", data=job_xml(**fields))) == (400, code, message)


def test_a_job_body_that_is_not_a_job_info_is_invalid_xml(shared_api: AsyncApi) -> None:
    status, code, _ = error_of(shared_api.send("POST", "job", data="<jobInfo><operation>query"))
    assert (status, code) == (400, "InvalidXML")


def test_a_batch_must_come_in_the_jobs_content_type(shared_api: AsyncApi) -> None:
    job = shared_api.create_job()
    response = shared_api.send("POST", f"job/{job['id']}/batch", "text/plain", data="SELECT Id FROM Account")
    assert error_of(response) == (
        400,
        "InvalidBatch",
        "Content-Type text/plain does not match the job's contentType CSV",
    )


def test_batches_go_to_open_jobs_only(shared_api: AsyncApi) -> None:
    job = shared_api.create_job()
    assert fields_of(shared_api.close(job["id"]))["state"] == "Closed"
    response = shared_api.send("POST", f"job/{job['id']}/batch", "text/csv", data="SELECT Id FROM Account")
    assert error_of(response) == (
        400,
        "InvalidJobState",
        f"Job {job['id']} is Closed: batches can be added to Open jobs only",
    )
    assert error_of(shared_api.close(job["id"], "Open")) == (
        400,
        "InvalidJobState",
        f"Job {job['id']} is Closed and cannot become Open",
    )


def test_aborting_a_job_leaves_its_queued_batches_not_processed(shared_api: AsyncApi) -> None:
    # "Interpret Batch State": Queued batches of an aborted job are NotProcessed; InProgress ones finish.
    job = shared_api.create_job()
    started = shared_api.add_batch(job["id"], "SELECT Id FROM Account")
    assert shared_api.batch(job["id"], started["id"])["state"] == "InProgress"
    queued = shared_api.add_batch(job["id"], "SELECT Name FROM Account")
    assert fields_of(shared_api.close(job["id"], "Aborted"))["state"] == "Aborted"
    assert [(b["id"], b["state"]) for b in shared_api.batches(job["id"])] == [
        (started["id"], "Completed"),
        (queued["id"], "NotProcessed"),
    ]


def test_an_unknown_job_or_batch_is_invalid(shared_api: AsyncApi) -> None:
    assert error_of(shared_api.send("GET", "job/7505e0000000999AAA")) == (
        400,
        "InvalidJob",
        "Invalid job id: 7505e0000000999AAA",
    )
    job = shared_api.create_job()
    assert error_of(shared_api.send("GET", f"job/{job['id']}/batch/7515e0000000999AAA")) == (
        400,
        "InvalidBatch",
        "Invalid batch id: 7515e0000000999AAA",
    )


def test_batch_operations_use_the_jobs_api_version(shared: Emulator, shared_api: AsyncApi) -> None:
    job = shared_api.create_job()
    other = AsyncApi(shared, version="61.0")
    assert error_of(other.send("GET", f"job/{job['id']}")) == (
        400,
        "InvalidUrl",
        f"Job {job['id']} was created with API version 62.0",
    )


def test_the_batch_request_is_its_soql(shared_api: AsyncApi) -> None:
    job = shared_api.create_job()
    batch = shared_api.add_batch(job["id"], "SELECT Id FROM Account")
    assert shared_api.send("GET", f"job/{job['id']}/batch/{batch['id']}/request").text == "SELECT Id FROM Account"


def test_batches_count_against_daily_bulk_api_batches(emulator: Emulator, api: AsyncApi) -> None:
    job = api.create_job()
    api.add_batch(job["id"], "SELECT Id FROM Account")
    api.add_batch(job["id"], "SELECT Id FROM Account")
    limits = OrgClient(emulator).get("limits").json()
    assert limits["DailyBulkApiBatches"] == {"Max": 15000, "Remaining": 14998}


def test_an_injected_status_fault_answers_in_the_bulk_error_shape(emulator: Emulator, api: AsyncApi) -> None:
    emulator.inject_fault("status", path="/services/async/*", status=503, error_code="Unknown", message="try later")
    assert error_of(api.send("POST", "job", data=job_xml(operation="query", object="Account"))) == (
        503,
        "Unknown",
        "try later",
    )


# -- PK chunking ("PK Chunking" and "Walk Through a Bulk Query Sample Using PK Chunking") ---------------


def chunked_results(api: AsyncApi, job_id: str, original_id: str) -> tuple[list[dict], list[str]]:
    """Poll until the original batch is NotProcessed and its chunks are done; return the chunks and their ids."""
    for _ in range(10):
        batches = api.batches(job_id)
        if all(b["state"] not in ("Queued", "InProgress") for b in batches):
            break
    original, *chunks = batches
    assert (original["id"], original["state"]) == (original_id, "NotProcessed")
    assert {b["state"] for b in chunks} == {"Completed"}
    ids = []
    for chunk in chunks:
        ids += [line.split(",")[0].strip('"') for line in api.result_csv(job_id, chunk["id"]).splitlines()[1:]]
    return chunks, ids


def test_pk_chunking_splits_the_query_into_batches_of_chunk_size_ids(shared: Emulator, shared_api: AsyncApi) -> None:
    job = shared_api.create_job(headers={"Sforce-Enable-PKChunking": "chunkSize=120"})
    original = shared_api.add_batch(job["id"], "SELECT Id, Name FROM Account")
    chunks, ids = chunked_results(shared_api, job["id"], original["id"])
    table = shared.table("amer", "Account")
    assert ids == shared.ids("amer", "Account")
    assert [int(c["numberRecordsProcessed"]) for c in chunks] == [120, 120, 60]
    requests_ = [shared_api.send("GET", f"job/{job['id']}/batch/{c['id']}/request").text for c in chunks]
    first, second, third = (table.record_id(n)[:15] for n in (0, 120, 240))
    assert requests_ == [
        f"SELECT Id, Name FROM Account WHERE Id >= '{first}' AND Id < '{second}'",
        f"SELECT Id, Name FROM Account WHERE Id >= '{second}' AND Id < '{third}'",
        f"SELECT Id, Name FROM Account WHERE Id >= '{third}'",
    ]


def test_pk_chunking_keeps_the_where_clause_and_starts_at_start_row(shared: Emulator, shared_api: AsyncApi) -> None:
    table = shared.table("amer", "Contact")
    start = table.record_id(100)
    job = shared_api.create_job("Contact", headers={"Sforce-Enable-PKChunking": f"chunkSize=100; startRow={start}"})
    original = shared_api.add_batch(job["id"], "SELECT Id FROM Contact WHERE DoNotCall = true OR Fax = null")
    chunks, ids = chunked_results(shared_api, job["id"], original["id"])
    expected = [
        table.record_id(row)
        for row in range(100, 300)
        if table.value(row, "DoNotCall") or table.value(row, "Fax") is None
    ]
    assert len(chunks) == 2 and ids == expected
    request_text = shared_api.send("GET", f"job/{job['id']}/batch/{chunks[0]['id']}/request").text
    assert request_text.startswith(
        f"SELECT Id FROM Contact WHERE (DoNotCall = true OR Fax = null) AND Id >= '{start[:15]}'"
    )


def test_pk_chunking_true_uses_chunks_of_100000(shared: Emulator, shared_api: AsyncApi) -> None:
    job = shared_api.create_job(headers={"Sforce-Enable-PKChunking": "TRUE"})
    original = shared_api.add_batch(job["id"], "SELECT Id FROM Account")
    chunks, ids = chunked_results(shared_api, job["id"], original["id"])
    assert len(chunks) == 1 and ids == shared.ids("amer", "Account")


def test_pk_chunking_false_is_a_plain_job(shared_api: AsyncApi) -> None:
    job = shared_api.create_job(headers={"Sforce-Enable-PKChunking": "false"})
    batch = shared_api.add_batch(job["id"], "SELECT Id FROM Account")
    assert shared_api.poll(job["id"], batch["id"])["state"] == "Completed"


@pytest.mark.parametrize(
    ("sobject", "soql", "message"),
    [
        # Employee is not among the objects "PK Chunking" lists.
        ("Employee", "SELECT Id FROM Employee", "FEATURE_NOT_ENABLED: PK chunking is not supported for Employee"),
        (
            "Account",
            "SELECT Id FROM Account ORDER BY Name",
            "FEATURE_NOT_ENABLED: PK chunking works only with queries that have no clause but WHERE",
        ),
    ],
)
def test_pk_chunking_fails_the_batch_of_a_query_it_cannot_chunk(
    shared_api: AsyncApi, sobject: str, soql: str, message: str
) -> None:
    job = shared_api.create_job(sobject, headers={"Sforce-Enable-PKChunking": "TRUE"})
    batch = shared_api.add_batch(job["id"], soql)
    failed = shared_api.poll(job["id"], batch["id"])
    assert (failed["state"], failed["stateMessage"]) == ("Failed", f"InvalidBatch : Failed to process query: {message}")
    assert len(shared_api.batches(job["id"])) == 1


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("chunkSize=250001", "chunkSize must be a whole number from 1 to 250000: 250001"),
        ("chunkSize=0", "chunkSize must be a whole number from 1 to 250000: 0"),
        ("startRow=001", "startRow must be a 15- or 18-character record id: 001"),
        ("size=10", "Invalid Sforce-Enable-PKChunking header: size=10"),
    ],
)
def test_a_pk_chunking_header_out_of_range_refuses_the_job(shared_api: AsyncApi, header: str, message: str) -> None:
    response = shared_api.send(
        "POST", "job", data=job_xml(operation="query", object="Account"), headers={"Sforce-Enable-PKChunking": header}
    )
    assert error_of(response) == (400, "InvalidJob", message)

"""HTTP behaviour through Flask's test client: Salesforce Connect's request shapes, paging, headers, errors."""

from __future__ import annotations

import gzip
import time
from urllib.parse import quote, urlsplit

import orjson
import psycopg
import pytest

from app.odata.session import ReadSession

FIELDS = ["lastname", "firstname", "email", "notes", "allowedvalue", "wellness_c", "geo"]


def follow(client, path: str, headers: dict | None = None) -> list[dict]:
    """Every page of a collection, following @odata.nextLink to the end; the pages' bodies."""
    pages = [client.json(path, headers=headers)]
    while "@odata.nextLink" in pages[-1]:
        link = urlsplit(pages[-1]["@odata.nextLink"])
        assert link.scheme == "http" and link.netloc == "localhost"  # absolute
        pages.append(client.json(link.path.removeprefix(client.root) + "?" + link.query, headers=headers))
    return pages


# -- What Salesforce Connect sends -----------------------------------------------------------------


def test_list_view_select_orderby_top26_count(client):
    body = client.json("people?$select=lastname,headcount,id&$orderby=headcount&$top=26&$count=true")
    assert list(body) == ["@odata.context", "@odata.count", "value"]
    assert body["@odata.context"] == f"http://localhost{client.root}$metadata#people(lastname,headcount,id)"
    assert body["@odata.count"] == 8
    assert body["value"] == [
        {"id": "a03", "lastname": None, "headcount": None},  # nulls first when ascending
        {"id": "a04", "lastname": "smith", "headcount": 0},
        {"id": "a06", "lastname": "MIXED Case", "headcount": 1},
        {"id": "a07", "lastname": "Zed", "headcount": 2},
        {"id": "a01", "lastname": "Smith", "headcount": 3},
        {"id": "a02", "lastname": "O'Brien", "headcount": 5},
        {"id": "a05", "lastname": " Smith ", "headcount": 7},
        {"id": "a08", "lastname": "Smithson", "headcount": 11},
    ]


def test_descending_order_puts_nulls_last_and_the_key_breaks_ties(client):
    assert client.ids("people?$orderby=headcount%20desc&$select=id") == [
        "a08",
        "a05",
        "a02",
        "a01",
        "a07",
        "a06",
        "a04",
        "a03",
    ]
    assert client.ids("people?$orderby=geo%20desc,allowedvalue&$select=id") == [
        "a05",
        "a04",
        "a06",
        "a07",
        "a08",
        "a03",
        "a02",
        "a01",
    ]


def test_count_false_is_accepted_and_gives_no_count(client):
    body = client.json("people?$select=id&$count=false&$top=26&$skip=0")
    assert "@odata.count" not in body
    assert len(body["value"]) == 8


def test_client_paging_with_top_and_skip_at_any_offset(client):
    assert client.ids("big?$select=id&$top=26&$skip=9990") == [f"k{i:06d}" for i in range(9991, 10001)]
    assert client.ids("big?$select=id&$orderby=n%20desc&$skip=5&$top=3") == ["k009995", "k009994", "k009993"]
    body = client.json("people?$top=0&$count=true")
    assert (body["value"], body["@odata.count"]) == ([], 8)


def test_detail_page_by_key_filter(client):
    body = client.json("people?$filter=id%20eq%20'a02'&$select=lastname,notes,amount,id")
    assert body["value"] == [{"id": "a02", "lastname": "O'Brien", "amount": 20.00, "notes": "50% off"}]


def test_search_by_contains_over_every_text_column(client):
    expression = " or ".join(f"contains({field},'Smith') eq true" for field in FIELDS)
    assert client.ids(f"people?$select=id&$count=true&$filter={quote(expression, safe='')}&$top=25") == [
        "a01",
        "a05",
        "a08",
    ]


def test_search_by_free_text(client):
    assert client.ids("people?$select=id,lastname&$count=true&$search=Smith&$top=25") == ["a01", "a05", "a08"]
    assert client.ids('people?$search="50%25 off"') == ["a02"]
    assert client.ids("people?$search=nobody") == []


def test_a_long_search_url_is_served(client):
    expression = " or ".join(f"contains({field},'danielle hutchens') eq true" for field in FIELDS * 30)
    path = f"people?$select=id&$count=true&$filter={quote(expression)}&$top=25"
    assert len(path) > 8000 - 200
    body = client.json(path)
    assert (body["@odata.count"], body["value"]) == (0, [])


# -- Server-driven paging ---------------------------------------------------------------------------------------


def test_server_driven_paging_delivers_every_row_exactly_once(client):
    pages = follow(client, "big?$select=id,n&$count=true")
    assert [len(page["value"]) for page in pages] == [2000] * 5
    assert all(page["@odata.count"] == 10000 for page in pages)
    assert [row["id"] for page in pages for row in page["value"]] == [f"k{i:06d}" for i in range(1, 10001)]


def test_paging_by_a_nullable_column_with_duplicates_keeps_odata_order(client):
    pages = follow(
        client,
        "big?$select=id,label&$orderby=label%20desc&$filter=geo%20eq%20'AMER'",
        headers={"Prefer": "odata.maxpagesize=777"},
    )
    rows = [row for page in pages for row in page["value"]]
    assert len(rows) == 5000 and len({row["id"] for row in rows}) == 5000
    labelled = [row for row in rows if row["label"] is not None]
    assert rows[len(labelled) :] == [row for row in rows if row["label"] is None]  # descending: nulls last
    by_key = sorted(labelled, key=lambda row: row["id"])
    assert labelled == sorted(by_key, key=lambda row: row["label"], reverse=True)  # the key breaks ties (stable sort)


@pytest.mark.parametrize(
    "orderby",
    [
        "amount",
        "score desc",
        "big",
        "born desc",
        "updated",
        "wake desc",
        "uid",
        "active desc",
        "lastname",
        "headcount desc,geo",
        "tags",
    ],
)
def test_paging_by_any_column_type_returns_each_row_once_in_order(client, orderby):
    expected = client.ids(f"people?$select=id&$orderby={quote(orderby)}")
    pages = follow(client, f"people?$select=id&$orderby={quote(orderby)}", headers={"Prefer": "odata.maxpagesize=3"})
    assert [len(page["value"]) for page in pages] == [3, 3, 2]
    assert [row["id"] for page in pages for row in page["value"]] == expected


def test_maxpagesize_is_applied_and_said_so(client):
    response = client.get("big?$select=id", headers={"Prefer": "odata.maxpagesize=300"})
    assert response.headers["Preference-Applied"] == "odata.maxpagesize=300"
    assert len(response.get_json()["value"]) == 300
    huge = client.get("big?$select=id", headers={"Prefer": "odata.maxpagesize=50000"})
    assert huge.headers["Preference-Applied"] == "odata.maxpagesize=2000"
    ignored = client.get("big?$select=id", headers={"Prefer": "odata.maxpagesize=0"})
    assert "Preference-Applied" not in ignored.headers and len(ignored.get_json()["value"]) == 2000


def test_paging_stops_once_top_rows_are_delivered(client):
    pages = follow(client, "big?$select=id&$top=4500&$skip=10")
    assert [len(page["value"]) for page in pages] == [2000, 2000, 500]
    assert [row["id"] for page in pages for row in page["value"]] == [f"k{i:06d}" for i in range(11, 4511)]
    assert client.json("big?$top=2000&$select=id").keys() == {"@odata.context", "value"}


def test_a_bad_skiptoken_is_a_400(client):
    response = client.get("big?$skiptoken=garbage")
    assert (response.status_code, response.get_json()["error"]["code"]) == (400, "BadRequest")


# -- Values ---------------------------------------------------------------------------------------------------


def test_values_by_type(client):
    body = client.json("people('a01')")
    assert body == {
        "@odata.context": f"http://localhost{client.root}$metadata#people/$entity",
        "id": "a01",
        "geo": "AMER",
        "lastname": "Smith",
        "firstname": "Ann",
        "email": "ann@example.com",
        "amount": 10.5,
        "score": 1.5,
        "headcount": 3,
        "big": 9007199254740993,
        "active": True,
        "born": "1990-01-31",
        "updated": "2024-01-31T10:00:00Z",
        "wake": "09:30:00",
        "uid": "01234567-89ab-cdef-0123-456789abcdef",
        "notes": "x",
        "allowedvalue": "yes",
        "wellness_c": "Green",
        "tags": '{"a": 1}',
    }
    raw = client.get("people('a01')").data
    assert b'"amount":10.50,' in raw and b'"big":9007199254740993,' in raw  # exact digits, no float rounding
    assert client.json("people('a06')")["updated"] == "2024-06-01T06:00:00Z"


def test_ieee754compatible_serialises_int64_and_decimal_as_strings(client):
    response = client.get(
        "people('a01')?$select=big,amount,headcount",
        headers={"Accept": "application/json;odata.metadata=minimal;IEEE754Compatible=true"},
    )
    assert response.content_type == "application/json;odata.metadata=minimal;IEEE754Compatible=true"
    body = response.get_json()
    assert (body["big"], body["amount"], body["headcount"]) == ("9007199254740993", "10.50", 3)


def test_entity_by_key_forms_and_properties(client):
    assert client.json("people(id='a02')?$select=lastname") == {
        "@odata.context": f"http://localhost{client.root}$metadata#people/$entity",
        "id": "a02",
        "lastname": "O'Brien",
    }
    assert client.json("people('a02')/lastname")["value"] == "O'Brien"
    raw = client.get("people('a02')/lastname/$value")
    assert (raw.status_code, raw.content_type, raw.get_data(as_text=True)) == (
        200,
        "text/plain; charset=utf-8",
        "O'Brien",
    )
    assert client.get("people('nope')").status_code == 404
    assert client.get("people('a02')/nosuch").status_code == 400


def test_count_segment_honours_filter_and_search(client):
    for path, count in (
        ("people/$count", "8"),
        ("people/$count?$filter=geo%20eq%20'EMEA'", "3"),
        ("people/$count?$search=Smith", "3"),
        ("big/$count", "10000"),
    ):
        response = client.get(path)
        assert (response.status_code, response.content_type, response.get_data(as_text=True)) == (
            200,
            "text/plain",
            count,
        )


# -- Headers, formats, compression ---------------------------------------------------------------------------


def test_odata_version_on_every_response(client, flask_app):
    responses = [
        client.get("people"),
        client.get("nosuch"),
        client.get("people?$top=x"),
        flask_app.test_client().get(client.root + "people"),
        flask_app.test_client().get("/elsewhere"),
    ]
    assert [r.status_code for r in responses] == [200, 404, 400, 401, 404]
    assert all(r.headers["OData-Version"] == "4.0" for r in responses)
    codes = [r.get_json()["error"]["code"] for r in responses[1:]]
    assert codes == ["NotFound", "BadRequest", "Unauthorized", "NotFound"]


def test_the_same_app_serves_the_dashboard_behind_its_own_password(flask_app):
    response = flask_app.test_client().get("/")
    assert (response.status_code, response.headers["WWW-Authenticate"]) == (401, 'Basic realm="orgfeed dashboard"')


@pytest.mark.parametrize(
    ("path", "accept", "status"),
    [
        ("people?$top=1", "application/xml", 406),
        ("people?$top=1", "application/atom+xml", 406),
        ("people?$top=1", "application/atom+xml, application/xml;q=0.9", 406),
        ("people?$top=1", "application/json;q=0", 406),
        ("people?$top=1", "text/plain", 406),
        ("people('a01')", "application/xml", 406),
        ("", "application/atomsvc+xml", 406),
        ("people?$top=1&$format=json", "application/xml", 200),  # $format overrides Accept
        ("people?$top=1", "application/xml, application/json;q=0.5", 200),
        ("people?$top=1", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", 200),  # a browser
        ("people?$top=1", "application/*", 200),
        ("people?$top=1", "garbage", 200),  # no media range to honour: ignored
        ("people/$count", "text/plain", 200),
        ("people('a01')/lastname/$value", "text/plain", 200),
        ("$metadata", "application/xml", 200),
    ],
)
def test_accept_without_json_is_answered_406_like_format_xml(client, path, accept, status):
    response = client.get(path, headers={"Accept": accept})
    assert response.status_code == status, response.get_data(as_text=True)
    if status == 406:
        assert response.get_json()["error"]["code"] == "NotAcceptable"


def test_json_format_and_accept_variants(client):
    for path, headers in (
        ("people?$top=1&$format=json", {}),
        ("people?$top=1", {"Accept": "application/json"}),
        ("people?$top=1", {"Accept": "application/json;q=0.2;odata.metadata=minimal"}),
        ("people?$top=1&$format=application/json;odata.metadata=minimal", {}),
        ("people?$top=1", {}),
    ):
        response = client.get(path, headers=headers)
        assert (response.status_code, response.content_type) == (200, "application/json;odata.metadata=minimal")
    assert client.get("people?$format=xml").status_code == 406


@pytest.mark.parametrize(
    ("header", "value", "status"),
    [
        ("OData-Version", "4.0", 200),
        ("OData-Version", "4.01", 200),
        ("OData-Version", "5.0", 400),
        ("OData-MaxVersion", "4.0", 200),
        ("OData-MaxVersion", "5.0", 200),
        ("OData-MaxVersion", "3.0", 400),
    ],
)
def test_odata_version_headers(client, header, value, status):
    assert client.get("people?$top=1", headers={header: value}).status_code == status


def test_gzip_when_accepted_including_streamed_pages(client):
    response = client.get("big?$select=id,n", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert len(orjson.loads(gzip.decompress(response.data))["value"]) == 2000
    small = client.get("people('a01')?$select=id", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers  # not worth it under 1 KB
    assert "Content-Encoding" not in client.get("big?$select=id", headers={"Accept-Encoding": "gzip;q=0"}).headers


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "MERGE"])
def test_writes_are_405(client, method):
    response = client.client.open(
        client.root + "people('a01')", method=method, headers=client.headers, json={"lastname": "x"}
    )
    assert (response.status_code, response.headers["Allow"]) == (405, "GET, HEAD")
    assert response.get_json()["error"]["code"] == "MethodNotAllowed"


def test_gzip_request_bodies_are_accepted(client):
    body = gzip.compress(orjson.dumps({"lastname": "x"}))
    headers = {**client.headers, "Content-Encoding": "gzip", "Content-Type": "application/json"}
    assert client.client.post(client.root + "people", data=body, headers=headers).status_code == 405
    assert client.client.post(client.root + "people", data=b"not gzip", headers=headers).status_code == 400


def test_head_answers_like_get_without_a_body(client, engine):
    response = client.client.head(client.root + "big?$select=id", headers=client.headers, buffered=True)
    assert (response.status_code, response.data) == (200, b"")
    client.client.application.extensions["orgfeed.odata"].access_log.flush()
    assert engine.pool.checkedout() == 0  # the streamed body was closed: its connection went back to the pool


def test_a_csrf_token_fetch_is_answered_but_never_required(client):
    assert client.get("people?$top=1", headers={"X-CSRF-Token": "Fetch"}).headers["X-CSRF-Token"] == "unused"


def test_batch_and_unsupported_options_are_501(client):
    assert client.client.post(client.root + "$batch", headers=client.headers).status_code == 501
    assert client.get("people?$expand=x").status_code == 501


@pytest.mark.parametrize(
    "path",
    [
        "people?$select=nosuch",
        "people?$orderby=nosuch",
        "people?$top=-1",
        "people?$count=maybe",
        "people?$bogus=1",
        "people?$filter=",
        "people('a01'",
        "people/nosuch",
        "people?$top=99999999999999999999",
    ],
)
def test_bad_requests_are_400(client, path):
    response = client.get(path)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "BadRequest"


def test_unknown_entity_set_is_404(client):
    assert client.get("nosuch").status_code == 404
    assert client.get("nosuch?$top=1").get_json()["error"]["code"] == "NotFound"


def test_option_and_property_names_are_case_insensitive(client):
    assert client.ids("People?ORDERBY=HeadCount%20DESC&Select=ID&TOP=2") == ["a08", "a05"]


# -- Time budget ------------------------------------------------------------------------------------------------


def test_a_statement_cannot_outlive_the_request_budget(engine):
    session = ReadSession(engine, None, started=time.monotonic(), budget=0.3)
    try:
        with pytest.raises(psycopg.errors.QueryCanceled), session.cursor() as cursor:
            cursor.execute("select pg_sleep(2)")
    finally:
        session.close()


def test_views_are_read_from_odata_database_url_and_feeds_from_database_url(odata_database_url, database_url, feed):
    from dataclasses import replace

    from app.odata.app import create_app
    from tests.support.feeds import FeedClient, settings_for

    settings = settings_for(odata_database_url)
    follower_without_views = replace(settings, database=replace(settings.database, odata_url=database_url))
    app = create_app(follower_without_views)
    try:
        client = FeedClient(app, feed)
        assert client.json("")["value"] == []  # authenticated against DATABASE_URL, no views on the "follower"
        assert client.get("people").status_code == 404
    finally:
        extension = app.extensions["orgfeed.odata"]
        extension.access_log.flush()
        extension.engine.dispose()
        extension.odata_engine.dispose()

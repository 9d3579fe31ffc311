"""The emulator's Pub/Sub API over a real TLS gRPC connection: auth, topics, schemas, events, flow control, faults."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator

import fastavro
import grpc
import pytest

from app.emulator.emulator import Emulator
from app.eventbus import pubsub_api_pb2 as pb2
from app.eventbus import pubsub_api_pb2_grpc as pb2_grpc
from app.salesforce.pubsub import decode_bitmap

TOPIC = "/data/EmployeeChangeEvent"


@pytest.fixture
def pubsub(emulator: Emulator) -> Iterator[tuple[pb2_grpc.PubSubStub, tuple]]:
    assert emulator.pubsub is not None
    emulator.pubsub.service.keepalive_seconds = 0.5
    credentials = grpc.ssl_channel_credentials(root_certificates=emulator.ca_bundle.read_bytes())
    channel = grpc.secure_channel(emulator.pubsub.url, credentials)
    yield pb2_grpc.PubSubStub(channel), metadata(emulator, "amer")
    channel.close()


def metadata(emu: Emulator, org: str, token: str | None = None) -> tuple:
    return (
        ("accesstoken", token or emu.session_id(org)),
        ("instanceurl", emu.base_url),
        ("tenantid", emu.org(org).org_id),
    )


class Subscription:
    """A Subscribe call fed from a queue of FetchRequests; responses gathered on a thread."""

    def __init__(self, stub, meta, first: pb2.FetchRequest) -> None:
        import queue

        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.requests.put(first)
        self.call = stub.Subscribe(iter(self.requests.get, None), metadata=meta)
        self.responses: list = []
        self.error: grpc.RpcError | None = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for response in self.call:
                self.responses.append(response)
        except grpc.RpcError as error:
            self.error = error

    def events(self) -> list:
        return [event for response in self.responses for event in response.events]

    def wait_for(self, count: int, timeout: float = 10) -> list:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline and self.error is None:
            time.sleep(0.02)
        return self.events()

    def close(self) -> None:
        self.requests.put(None)
        self.call.cancel()
        self.thread.join(5)


def decode(stub, meta, event) -> tuple[dict, dict]:
    info = stub.GetSchema(pb2.SchemaRequest(schema_id=event.event.schema_id), metadata=meta)
    document = json.loads(info.schema_json)
    return fastavro.schemaless_reader(io.BytesIO(event.event.payload), fastavro.parse_schema(document), None), document


def latest(stub, meta) -> Subscription:
    subscription = Subscription(stub, meta, pb2.FetchRequest(topic_name=TOPIC, num_requested=100))
    deadline = time.monotonic() + 5
    while not subscription.responses and time.monotonic() < deadline:
        time.sleep(0.02)
    return subscription


def test_calls_without_a_live_session_are_unauthenticated(emulator: Emulator, pubsub) -> None:
    stub, _ = pubsub
    for meta in (
        metadata(emulator, "amer", token="00D000000000000!nope"),
        (
            ("accesstoken", emulator.session_id("amer")),
            ("instanceurl", emulator.base_url),
            ("tenantid", emulator.org("emea").org_id),
        ),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=meta)
        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_get_topic_names_the_schema_get_schema_returns(pubsub) -> None:
    stub, meta = pubsub
    topic = stub.GetTopic(pb2.TopicRequest(topic_name=TOPIC), metadata=meta)
    assert topic.can_subscribe and not topic.can_publish
    schema = json.loads(stub.GetSchema(pb2.SchemaRequest(schema_id=topic.schema_id), metadata=meta).schema_json)
    assert schema["name"] == "EmployeeChangeEvent"
    assert schema["fields"][0]["name"] == "ChangeEventHeader"
    assert {"IsDeleted", "SystemModstamp", "Id"}.isdisjoint(field["name"] for field in schema["fields"])


def test_unknown_topics_are_not_found(pubsub) -> None:
    stub, meta = pubsub
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetTopic(pb2.TopicRequest(topic_name="/data/NopeChangeEvent"), metadata=meta)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_every_write_publishes_its_change_event(emulator: Emulator, pubsub) -> None:
    stub, meta = pubsub
    subscription = latest(stub, meta)
    record_id = emulator.ids("amer", "Employee", 1)[0]
    emulator.update("amer", "Employee", [{"Id": record_id, "Title": "Chief", "MiddleName": None}])
    emulator.delete("amer", "Employee", [record_id])
    emulator.undelete("amer", "Employee", [record_id])
    events = subscription.wait_for(3)
    subscription.close()
    decoded = [decode(stub, meta, event) for event in events]
    assert [record["ChangeEventHeader"]["changeType"] for record, _ in decoded] == ["UPDATE", "DELETE", "UNDELETE"]
    update, schema = decoded[0]
    assert update["ChangeEventHeader"]["recordIds"] == [record_id]
    changed = decode_bitmap(update["ChangeEventHeader"]["changedFields"], schema)
    assert set(changed) == {"Title", "MiddleName", "LastModifiedDate", "LastModifiedById"}
    assert decode_bitmap(update["ChangeEventHeader"]["nulledFields"], schema) == ["MiddleName"]
    assert update["Title"] == "Chief" and update["FirstName"] is None  # unchanged fields arrive as null
    assert all(value is None for name, value in decoded[1][0].items() if name != "ChangeEventHeader")
    assert len({event.replay_id for event in events}) == 3


def test_the_same_change_to_several_records_is_one_event_with_their_ids(emulator: Emulator, pubsub) -> None:
    stub, meta = pubsub
    subscription = latest(stub, meta)
    ids = emulator.ids("amer", "Employee", 3)
    emulator.update("amer", "Employee", [{"Id": record_id, "Title": "Same"} for record_id in ids])
    events = subscription.wait_for(1)
    time.sleep(0.3)
    subscription.close()
    assert len(subscription.events()) == 1
    assert decode(stub, meta, events[0])[0]["ChangeEventHeader"]["recordIds"] == ids


def test_creates_through_rest_carry_their_fields(emulator: Emulator, pubsub) -> None:
    import requests

    stub, meta = pubsub
    subscription = latest(stub, meta)
    response = requests.post(
        f"{emulator.base_url}/services/data/v62.0/sobjects/Account/",
        json={"Name": "Streamed Ltd"},
        headers={"Authorization": f"Bearer {meta[0][1]}"},
        verify=str(emulator.ca_bundle),
        timeout=10,
    )
    assert response.status_code == 201
    account = Subscription(
        stub,
        meta,
        pb2.FetchRequest(
            topic_name="/data/AccountChangeEvent", replay_preset=pb2.ReplayPreset.EARLIEST, num_requested=10
        ),
    )
    events = account.wait_for(1)
    account.close()
    subscription.close()
    record = decode(stub, meta, events[0])[0]
    assert record["ChangeEventHeader"]["changeType"] == "CREATE"
    assert record["ChangeEventHeader"]["recordIds"] == [response.json()["id"]]
    assert record["Name"] == "Streamed Ltd"


def test_flow_control_delivers_only_what_was_requested(emulator: Emulator, pubsub) -> None:
    stub, meta = pubsub
    ids = emulator.ids("amer", "Employee", 5)
    start = latest(stub, meta)
    start.close()
    replay = start.responses[0].latest_replay_id
    for index, record_id in enumerate(ids):
        emulator.update("amer", "Employee", [{"Id": record_id, "Title": f"T{index}"}])
    subscription = Subscription(
        stub,
        meta,
        pb2.FetchRequest(topic_name=TOPIC, replay_preset=pb2.ReplayPreset.CUSTOM, replay_id=replay, num_requested=2),
    )
    assert len(subscription.wait_for(2)) == 2
    time.sleep(0.8)
    assert len(subscription.events()) == 2  # nothing beyond the credit
    assert subscription.responses[-1].pending_num_requested == 0
    subscription.requests.put(pb2.FetchRequest(num_requested=500))  # capped at 100 by the server
    assert len(subscription.wait_for(5)) == 5
    subscription.close()


def test_replay_resumes_after_the_given_id(emulator: Emulator, pubsub) -> None:
    stub, meta = pubsub
    first = latest(stub, meta)
    ids = emulator.ids("amer", "Employee", 2)
    emulator.update("amer", "Employee", [{"Id": ids[0], "Title": "one"}])
    emulator.update("amer", "Employee", [{"Id": ids[1], "Title": "two"}])
    events = first.wait_for(2)
    first.close()
    again = Subscription(
        stub,
        meta,
        pb2.FetchRequest(
            topic_name=TOPIC, replay_preset=pb2.ReplayPreset.CUSTOM, replay_id=events[0].replay_id, num_requested=10
        ),
    )
    resumed = again.wait_for(1)
    again.close()
    assert [event.replay_id for event in resumed] == [events[1].replay_id]


def test_replay_ids_older_than_72_hours_are_refused(emulator: Emulator, pubsub) -> None:
    stub, meta = pubsub
    first = latest(stub, meta)
    emulator.update("amer", "Employee", [{"Id": emulator.ids("amer", "Employee", 1)[0], "Title": "old"}])
    first.wait_for(1)
    first.close()
    replay = first.responses[0].latest_replay_id
    emulator.advance_clock(72 * 3600 + 60)
    emulator.update("amer", "Account", [{"Id": emulator.ids("amer", "Account", 1)[0], "Name": "new"}])  # purges
    meta = metadata(emulator, "amer")  # the session of three days ago has expired too
    late = Subscription(
        stub,
        meta,
        pb2.FetchRequest(topic_name=TOPIC, replay_preset=pb2.ReplayPreset.CUSTOM, replay_id=replay, num_requested=10),
    )
    late.thread.join(5)
    assert late.error is not None and late.error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "replayid" in dict(late.error.trailing_metadata())["error-code"]


def test_faults_drop_streams_send_gaps_and_overflow_and_expire_replay_ids(emulator: Emulator, pubsub) -> None:
    stub, meta = pubsub
    subscription = latest(stub, meta)
    ids = emulator.ids("amer", "Employee", 2)
    emulator.pubsub_fault("gap", "amer", "Employee", ids, "GAP_UPDATE")
    emulator.pubsub_fault("overflow", "amer", "Employee")
    events = subscription.wait_for(2)
    gap, overflow = (decode(stub, meta, event)[0]["ChangeEventHeader"] for event in events)
    assert (gap["changeType"], gap["recordIds"]) == ("GAP_UPDATE", ids)
    assert (overflow["changeType"], overflow["recordIds"]) == ("GAP_OVERFLOW", [])
    emulator.pubsub_fault("drop", "amer")
    subscription.thread.join(5)
    assert subscription.error is not None and subscription.error.code() == grpc.StatusCode.UNAVAILABLE
    emulator.pubsub_fault("expire", "amer")
    expired = Subscription(
        stub,
        meta,
        pb2.FetchRequest(
            topic_name=TOPIC, replay_preset=pb2.ReplayPreset.CUSTOM, replay_id=events[0].replay_id, num_requested=1
        ),
    )
    expired.thread.join(5)
    assert expired.error is not None and expired.error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_json_summary_names_the_pubsub_endpoint(emulator: Emulator) -> None:
    assert emulator.pubsub is not None
    assert all(org["pubsub_url"] == emulator.pubsub.url for org in emulator.describe_orgs())

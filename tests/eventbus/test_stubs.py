"""The committed Pub/Sub stubs are what protoc makes of the committed .proto, and carry the documented field numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.eventbus import pubsub_api_pb2 as pb2
from app.eventbus.generate import ROOT, generate_stubs


def test_committed_stubs_match_a_fresh_generation(tmp_path: Path) -> None:
    pytest.importorskip("grpc_tools")
    for generated in generate_stubs(tmp_path):
        committed = ROOT / "app" / "eventbus" / generated.name
        assert committed.read_text() == generated.read_text(), (
            f"{generated.name} is stale: run python -m app.eventbus.generate"
        )


@pytest.mark.parametrize(
    ("message", "numbers"),
    [
        (
            pb2.FetchRequest,
            {"topic_name": 1, "replay_preset": 2, "replay_id": 3, "num_requested": 4, "auth_refresh": 5},
        ),
        (pb2.FetchResponse, {"events": 1, "latest_replay_id": 2, "rpc_id": 3, "pending_num_requested": 4}),
        (pb2.ConsumerEvent, {"event": 1, "replay_id": 2}),
        (pb2.ProducerEvent, {"id": 1, "schema_id": 2, "payload": 3, "headers": 4}),
        (pb2.EventHeader, {"key": 1, "value": 2}),
        (
            pb2.TopicInfo,
            {"topic_name": 1, "tenant_guid": 2, "can_publish": 3, "can_subscribe": 4, "schema_id": 5, "rpc_id": 6},
        ),
        (pb2.SchemaInfo, {"schema_json": 1, "schema_id": 2, "rpc_id": 3}),
        (pb2.SchemaRequest, {"schema_id": 1}),
        (pb2.TopicRequest, {"topic_name": 1}),
    ],
)
def test_messages_carry_the_documented_field_numbers(message, numbers: dict[str, int]) -> None:
    assert {field.name: field.number for field in message.DESCRIPTOR.fields} == numbers


def test_replay_presets_are_latest_earliest_custom() -> None:
    assert (pb2.ReplayPreset.LATEST, pb2.ReplayPreset.EARLIEST, pb2.ReplayPreset.CUSTOM) == (0, 1, 2)


def test_the_service_is_eventbus_v1_pubsub() -> None:
    service = pb2.DESCRIPTOR.services_by_name["PubSub"]
    assert service.full_name == "eventbus.v1.PubSub"
    assert {"Subscribe", "GetTopic", "GetSchema"} <= set(service.methods_by_name)

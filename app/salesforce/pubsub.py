"""Change Data Capture over the Pub/Sub API: subscribe to an object's change channel and decode its events.

Events are Avro, decoded with fastavro and the schema GetSchema returns (cached by schema id).
UPDATE events carry every field but only those named in the `changedFields` bitmap changed
(unchanged fields arrive as null), so `ChangeEvent.values` holds exactly the fields an event sets.
Calls carry the org's session as metadata (`accesstoken`, `instanceurl`, `tenantid`); an expired
session logs in again once and retries. Facts: DESIGN 4.2b and
https://developer.salesforce.com/docs/platform/pub-sub-api/guide/event-deserialization-considerations.html
"""

from __future__ import annotations

import io
import json
import queue
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import fastavro
import grpc

from app.eventbus import pubsub_api_pb2 as pb2
from app.eventbus import pubsub_api_pb2_grpc as pb2_grpc
from app.salesforce import SalesforceError
from app.salesforce.client import OrgClient

MAX_BATCH = 100  # FetchRequest.num_requested is capped at 100 by Salesforce
HEADER = "ChangeEventHeader"


class StreamError(SalesforceError):
    """The stream ended or could not start (dropped connection, server error); reconnecting may help."""


class ReplayIdExpired(StreamError):
    """The stored replay id cannot be resumed from (older than the 72 h retention, or unknown to the org)."""


@dataclass(frozen=True)
class ChangeEvent:
    """One decoded change event. `values` maps field names to Salesforce REST-style values (see rest_value)."""

    replay_id: bytes
    entity: str
    change_type: str  # CREATE UPDATE DELETE UNDELETE, GAP_*, GAP_OVERFLOW
    record_ids: tuple[str, ...]
    values: Mapping[str, object]
    nulled: tuple[str, ...]
    commit_timestamp: datetime
    transaction_key: str
    sequence_number: int
    commit_user: str = ""


@dataclass(frozen=True)
class FetchBatch:
    """The events of one FetchResponse (none for a keepalive) and the replay id to resume after."""

    events: tuple[ChangeEvent, ...]
    latest_replay_id: bytes


def topic_for(sobject: str) -> str:
    """The change channel of `sobject`: /data/AccountChangeEvent, /data/Shoe__ChangeEvent for Shoe__c."""
    name = sobject[:-3] + "__ChangeEvent" if sobject.endswith("__c") else sobject + "ChangeEvent"
    return f"/data/{name}"


def decode_bitmap(bitmaps: Sequence[str], schema: Mapping[str, Any]) -> list[str]:
    """The field names a changedFields/nulledFields/diffFields bitmap names, in schema order.

    The first element covers top-level fields: hex, bit i (least significant first) = schema field i.
    `pos-0xHEX` elements cover the sub-fields of the compound field at top-level position `pos`
    (e.g. an address): they come back as "Parent.Sub".
    """
    fields = schema["fields"]
    names: list[str] = []
    for entry in bitmaps:
        if "-" in entry:
            position, _, hex_bits = entry.partition("-")
            parent = fields[int(position)]
            nested = next(item for item in _types(parent["type"]) if isinstance(item, dict) and item.get("fields"))
            names += [f"{parent['name']}.{name}" for name in _bit_names(hex_bits, nested["fields"])]
        else:
            names += _bit_names(entry, fields)
    return names


def _bit_names(hex_bits: str, fields: Sequence[Mapping[str, Any]]) -> list[str]:
    bits = int(hex_bits, 16)
    return [field["name"] for index, field in enumerate(fields) if bits >> index & 1]


def _types(avro_type: Any) -> list[Any]:
    return list(avro_type) if isinstance(avro_type, list) else [avro_type]


def component_field(parent: str, sub: str) -> str:
    """The field a compound sub-field stands for: BillingAddress.Street → BillingStreet, Name.FirstName → FirstName."""
    if parent.endswith("Address"):
        return parent[: -len("Address")] + sub
    if parent.endswith("__c"):  # geolocation: Spot__c.Latitude → Spot__Latitude__s
        return f"{parent[:-3]}__{sub}__s"
    return sub


def rest_value(describe_type: str, value: object) -> object:
    """An Avro-decoded value as the REST API shows the field: datetimes ISO (from epoch ms), dates ISO (epoch days)."""
    if value is None:
        return None
    if describe_type == "datetime" and isinstance(value, int):
        moment = datetime.fromtimestamp(value / 1000, tz=UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if describe_type == "date" and isinstance(value, int):
        return (date(1970, 1, 1) + timedelta(days=value)).isoformat()
    if describe_type == "time" and isinstance(value, int):
        seconds, millis = divmod(value, 1000)
        return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}.{millis:03d}Z"
    if isinstance(value, float):
        return repr(value)
    return value


def decode_event(payload: bytes, schema: Any, schema_doc: Mapping[str, Any], types: Mapping[str, str]) -> dict:
    """The Avro record of one event as a dict: header under ChangeEventHeader, body fields flattened, REST values.

    `types` maps field names to describe types (for value formats); an UPDATE keeps only the fields
    its changedFields bitmap names, other change types keep every field.
    """
    record: dict[str, Any] = fastavro.schemaless_reader(io.BytesIO(payload), schema, None)  # type: ignore[assignment]  # a record schema decodes to a dict
    header = record.pop(HEADER)
    flat: dict[str, object] = {}
    for name, value in record.items():
        if isinstance(value, dict):  # a compound field delivered as a nested record
            for sub, sub_value in value.items():
                flat[f"{name}.{sub}"] = sub_value
        else:
            flat[name] = value
    if header["changeType"] == "UPDATE":
        changed = set(decode_bitmap(header.get("changedFields") or [], schema_doc))
        flat = {name: value for name, value in flat.items() if name in changed}
    values = {}
    for name, value in flat.items():
        field = component_field(*name.split(".", 1)) if "." in name else name
        values[field] = rest_value(types.get(field, "string"), value)
    nulled = tuple(
        component_field(*name.split(".", 1)) if "." in name else name
        for name in decode_bitmap(header.get("nulledFields") or [], schema_doc)
    )
    return {"header": header, "values": values, "nulled": nulled}


class PubSubClient:
    """The Pub/Sub API of one org at `target` (host:port), over TLS trusting the org's `ca_bundle` if it has one."""

    def __init__(self, client: OrgClient, target: str) -> None:
        self.client = client
        ca = client.org.ca_bundle.read_bytes() if client.org.ca_bundle else None
        self.channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(root_certificates=ca))
        self.stub = pb2_grpc.PubSubStub(self.channel)
        self._schemas: dict[str, tuple[Any, dict[str, Any]]] = {}

    def close(self) -> None:
        self.channel.close()

    def metadata(self) -> tuple[tuple[str, str], ...]:
        token = self.client.token
        return (
            ("accesstoken", token.access_token),
            ("instanceurl", token.instance_url.rstrip("/")),
            ("tenantid", token.org_id or ""),
        )

    def _unary(self, method: Callable[..., Any], request: Any) -> Any:
        """Calls a unary method, logging in again once when the session has expired."""
        for attempt in (1, 2):
            try:
                return method(request, metadata=self.metadata(), timeout=30)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.UNAUTHENTICATED and attempt == 1:
                    self.client.relogin()
                    continue
                raise _stream_error(self.client.org.name, error) from None
        raise AssertionError("unreachable")

    def topic_schema_id(self, topic: str) -> str:
        """GetTopic's schema id of `topic` (also checks that the topic exists and can be subscribed to)."""
        info = self._unary(self.stub.GetTopic, pb2.TopicRequest(topic_name=topic))
        if not info.can_subscribe:
            raise StreamError(f"org {self.client.org.name!r}: topic {topic} cannot be subscribed to")
        return str(info.schema_id)

    def schema(self, schema_id: str) -> tuple[Any, dict[str, Any]]:
        """(parsed schema, schema document) of `schema_id`, from GetSchema once, then from the cache."""
        if schema_id not in self._schemas:
            info = self._unary(self.stub.GetSchema, pb2.SchemaRequest(schema_id=schema_id))
            document = json.loads(info.schema_json)
            self._schemas[schema_id] = (fastavro.parse_schema(document), document)
        return self._schemas[schema_id]

    def subscribe(
        self,
        topic: str,
        replay_id: bytes | None,
        types: Mapping[str, str],
        stop: threading.Event,
        batch_size: int = MAX_BATCH,
    ) -> Iterator[FetchBatch]:
        """Yields the FetchResponses of `topic` after `replay_id` (None: from the latest event) until `stop` is set.

        Asks for `batch_size` events (at most 100) and again once the server has delivered them all.
        Raises ReplayIdExpired when the replay id cannot be resumed, StreamError when the stream ends.
        """
        batch_size = max(1, min(batch_size, MAX_BATCH))
        requests: queue.SimpleQueue[pb2.FetchRequest | None] = queue.SimpleQueue()
        preset = pb2.ReplayPreset.CUSTOM if replay_id else pb2.ReplayPreset.LATEST
        requests.put(
            pb2.FetchRequest(
                topic_name=topic, replay_preset=preset, replay_id=replay_id or b"", num_requested=batch_size
            )
        )
        call = self.stub.Subscribe(iter(requests.get, None), metadata=self.metadata())
        ended = threading.Event()
        threading.Thread(target=_cancel_on_stop, args=(call, stop, ended), daemon=True).start()
        try:
            for response in call:
                events = tuple(self._decode(event, types) for event in response.events)
                if response.pending_num_requested == 0 and response.events:
                    requests.put(pb2.FetchRequest(topic_name=topic, num_requested=batch_size))
                yield FetchBatch(events, bytes(response.latest_replay_id))
                if stop.is_set():
                    return
        except grpc.RpcError as error:
            if stop.is_set() and error.code() == grpc.StatusCode.CANCELLED:
                return
            raise _stream_error(self.client.org.name, error) from None
        finally:
            ended.set()
            requests.put(None)
            call.cancel()
        if not stop.is_set():
            raise StreamError(f"org {self.client.org.name!r}: the server ended the stream of {topic}")

    def _decode(self, consumer_event: Any, types: Mapping[str, str]) -> ChangeEvent:
        schema, document = self.schema(consumer_event.event.schema_id)
        decoded = decode_event(consumer_event.event.payload, schema, document, types)
        header = decoded["header"]
        return ChangeEvent(
            replay_id=bytes(consumer_event.replay_id),
            entity=header["entityName"],
            change_type=header["changeType"],
            record_ids=tuple(header["recordIds"]),
            values=decoded["values"],
            nulled=decoded["nulled"],
            commit_timestamp=datetime.fromtimestamp(header["commitTimestamp"] / 1000, tz=UTC),
            transaction_key=header["transactionKey"],
            sequence_number=header["sequenceNumber"],
            commit_user=header.get("commitUser") or "",
        )


def _cancel_on_stop(call: Any, stop: threading.Event, ended: threading.Event) -> None:
    while not ended.is_set():
        if stop.wait(0.2):
            call.cancel()
            return


def _stream_error(org: str, error: grpc.RpcError) -> StreamError:
    """A StreamError with a short error code (the sync log's column); Salesforce's own code goes in the message."""
    code = error.code()
    details = error.details() or ""
    trailers = dict(error.trailing_metadata() or ())
    server_code = str(trailers.get("error-code") or "")
    detail = f"{details} ({server_code})" if server_code else details
    if code == grpc.StatusCode.INVALID_ARGUMENT and "replayid" in server_code.lower():
        return ReplayIdExpired(f"org {org!r}: {detail}", error_code="REPLAY_ID_INVALID")
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return StreamError(f"org {org!r}: Pub/Sub API refused the session: {detail}", error_code="INVALID_SESSION_ID")
    return StreamError(f"org {org!r}: Pub/Sub stream: {code.name}: {detail}", error_code=code.name)

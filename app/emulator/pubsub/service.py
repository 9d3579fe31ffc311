"""`eventbus.v1.PubSub` over gRPC with TLS (a certificate from the emulator's CA): Subscribe, GetTopic, GetSchema.

Every call needs the metadata Salesforce asks for: `accesstoken` (a live session of the org),
`instanceurl` and `tenantid` (the org id). Subscribe is pull-based: events go out only against
the credit FetchRequests give (`num_requested`, capped at 100); when nothing is due the server
sends an empty FetchResponse with the latest replay id every `keepalive_seconds` (Salesforce: within 270 s).
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent import futures
from typing import NoReturn

import grpc

from app.emulator.org import Org
from app.emulator.pubsub.avro import event_name
from app.emulator.pubsub.bus import EventBus, ReplayIdInvalid, decode_replay_id, encode_replay_id
from app.emulator.schema import SObjectType
from app.emulator.sessions import SessionStore
from app.eventbus import pubsub_api_pb2 as pb2
from app.eventbus import pubsub_api_pb2_grpc as pb2_grpc

MAX_REQUESTED = 100  # https://developer.salesforce.com/docs/platform/pub-sub-api/guide/allocations.html
AUTH_ERROR = "sfdc.platform.eventbus.grpc.service.auth.error"
REPLAY_ERROR = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
TOPIC_ERROR = "sfdc.platform.eventbus.grpc.service.topic.not.found"


class PubSubService(pb2_grpc.PubSubServicer):
    """The servicer; `orgs` by name, `instance_url` what clients must send as `instanceurl`."""

    def __init__(self, bus: EventBus, sessions: SessionStore, orgs: dict[str, Org], instance_url: str) -> None:
        self.bus = bus
        self.sessions = sessions
        self.orgs = orgs
        self.instance_url = instance_url
        self.keepalive_seconds = 270.0
        self.subscribe_calls = 0

    # -- authentication and topics -----------------------------------------------------------------
    def _org(self, context: grpc.ServicerContext) -> Org:
        metadata = dict(context.invocation_metadata())
        session = self.sessions.find(str(metadata.get("accesstoken", "")))
        org = self.orgs.get(session.org) if session else None
        if org is None or metadata.get("tenantid") != org.org_id:
            _abort(
                context, grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, "invalid or expired session, or wrong tenantid"
            )
        if str(metadata.get("instanceurl", "")).rstrip("/") != self.instance_url:
            _abort(
                context, grpc.StatusCode.UNAUTHENTICATED, AUTH_ERROR, "instanceurl does not name this org's instance"
            )
        return org

    def _sobject(self, org: Org, topic: str, context: grpc.ServicerContext) -> SObjectType:
        for table in org.tables.values():
            if topic == f"/data/{event_name(table.sobject.name)}":
                return table.sobject
        _abort(context, grpc.StatusCode.NOT_FOUND, TOPIC_ERROR, f"topic {topic!r} does not exist or is not selected")

    # -- unary calls ---------------------------------------------------------------------------------
    def GetTopic(self, request: pb2.TopicRequest, context: grpc.ServicerContext) -> pb2.TopicInfo:
        org = self._org(context)
        with org.lock:
            sobject = self._sobject(org, request.topic_name, context)
        schema = self.bus.schema_for(sobject)
        return pb2.TopicInfo(
            topic_name=request.topic_name,
            tenant_guid=org.org_id,
            can_publish=False,
            can_subscribe=True,
            schema_id=schema.schema_id,
            rpc_id=str(uuid.uuid4()),
        )

    def GetSchema(self, request: pb2.SchemaRequest, context: grpc.ServicerContext) -> pb2.SchemaInfo:
        self._org(context)
        schema = self.bus.schema(request.schema_id)
        if schema is None:
            _abort(context, grpc.StatusCode.NOT_FOUND, "sfdc.platform.eventbus.grpc.schema.not.found", "no such schema")
        return pb2.SchemaInfo(schema_json=schema.schema_json, schema_id=schema.schema_id, rpc_id=str(uuid.uuid4()))

    # -- Subscribe -----------------------------------------------------------------------------------
    def Subscribe(
        self, request_iterator: Iterator[pb2.FetchRequest], context: grpc.ServicerContext
    ) -> Iterator[pb2.FetchResponse]:
        org = self._org(context)
        self.subscribe_calls += 1
        try:
            first = next(request_iterator)
        except StopIteration:
            return
        with org.lock:
            self._sobject(org, first.topic_name, context)
        topic = first.topic_name
        try:
            position = self._start(org.name, first)
        except ReplayIdInvalid as error:
            _abort(context, grpc.StatusCode.INVALID_ARGUMENT, REPLAY_ERROR, f"replay id is not valid: {error}")
        credits: queue.SimpleQueue[int] = queue.SimpleQueue()
        credits.put(first.num_requested)
        reader = threading.Thread(target=_read_requests, args=(request_iterator, credits, self.bus), daemon=True)
        reader.start()
        drops = self.bus.drops(org.name)
        credit = 0
        last_sent = float("-inf")  # the first response goes out at once: it tells a LATEST subscriber where it starts
        while context.is_active():
            credit = min(MAX_REQUESTED, credit + _drain(credits))
            with self.bus.condition:
                if self.bus.drops(org.name) != drops:
                    _abort(context, grpc.StatusCode.UNAVAILABLE, "sfdc.platform.eventbus.grpc.stream.closed", "dropped")
                try:
                    events = self.bus.events_after(org.name, topic, position, credit) if credit else []
                except ReplayIdInvalid as error:
                    _abort(context, grpc.StatusCode.INVALID_ARGUMENT, REPLAY_ERROR, str(error))
                if not events and time.monotonic() - last_sent < self.keepalive_seconds:
                    self.bus.condition.wait(timeout=0.5)  # woken by new events, new credit and faults
                    continue
                latest = self.bus.latest(org.name)
            if events:
                position = events[-1].number
                credit -= len(events)
            elif credit:
                position = max(position, latest)  # no event of this topic up to the latest one: skip ahead
            last_sent = time.monotonic()
            yield pb2.FetchResponse(
                events=[
                    pb2.ConsumerEvent(
                        event=pb2.ProducerEvent(id=event.event_id, schema_id=event.schema_id, payload=event.payload),
                        replay_id=event.replay_id,
                    )
                    for event in events
                ],
                latest_replay_id=encode_replay_id(position),
                rpc_id=str(uuid.uuid4()),
                pending_num_requested=credit,
            )

    def _start(self, org: str, request: pb2.FetchRequest) -> int:
        if request.replay_preset == pb2.ReplayPreset.CUSTOM:
            number = decode_replay_id(request.replay_id)
            self.bus.check_replay(org, number)
            return number
        if request.replay_preset == pb2.ReplayPreset.EARLIEST:
            return self.bus.earliest(org)
        return self.bus.latest(org)


def _read_requests(
    request_iterator: Iterator[pb2.FetchRequest], credits: queue.SimpleQueue[int], bus: EventBus
) -> None:
    """Adds the credit of each further FetchRequest and wakes the sender; ends with the client's half of the stream."""
    try:
        for request in request_iterator:
            credits.put(request.num_requested)
            with bus.condition:
                bus.condition.notify_all()
    except (grpc.RpcError, ValueError):  # the call ended under us
        return


def _drain(credits: queue.SimpleQueue[int]) -> int:
    total = 0
    while True:
        try:
            total += max(credits.get_nowait(), 0)
        except queue.Empty:
            return total


def _abort(context: grpc.ServicerContext, code: grpc.StatusCode, error_code: str, message: str) -> NoReturn:
    context.set_trailing_metadata((("error-code", error_code),))
    context.abort(code, message)
    raise AssertionError("unreachable: ServicerContext.abort raises")


class PubSubServer:
    """A gRPC server on `host`:port (0: any free one) with TLS from `certificate` (a trustme LeafCert)."""

    def __init__(self, service: PubSubService, host: str, port: int, key_pem: bytes, chain_pem: bytes) -> None:
        self.service = service
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="pubsub"))
        pb2_grpc.add_PubSubServicer_to_server(service, self._server)
        credentials = grpc.ssl_server_credentials([(key_pem, chain_pem)])
        self.port = self._server.add_secure_port(f"{host}:{port}", credentials)
        self.host = host

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop(grace=0.5).wait(5)

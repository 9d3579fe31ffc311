"""The emulator's Pub/Sub API: Change Data Capture events of every record write, served over gRPC with TLS.

It may import the rest of the emulator, grpcio, fastavro and app.eventbus (the generated stubs);
nothing else of orgfeed. bus.py keeps the events, avro.py shapes and encodes them, service.py serves
`eventbus.v1.PubSub` (Subscribe, GetTopic, GetSchema).
"""

"""Every librdkafka settings dict logwax builds, in one place.

The producer, the transactional producer, the index flow's consumer, the read-back and metadata
readers and ``logwax check`` all talk to the same cluster with the same credentials; building
their dicts here keeps the security options and the delivery settings from drifting apart.
"""

from __future__ import annotations

import uuid
from typing import Any

from logwax.connectors.kafka import diagnosis
from logwax.connectors.kafka.config import KafkaSecurity, KafkaSinkConfig
from logwax.connectors.kafka.source_config import KafkaSourceConfig


def connection(bootstrap_servers: str, security: KafkaSecurity) -> dict[str, Any]:
    """Where the cluster is and how to authenticate: what every client needs.

    Every client also reports through ``diagnosis``: a refused credential, certificate or ACL
    is said once in one line (librdkafka would repeat it on every reconnect).
    """
    ca = str(security.ssl_ca_location) if security.ssl_ca_location else None
    return {
        "bootstrap.servers": bootstrap_servers,
        **security.client_options(),
        **diagnosis.client_hooks(bootstrap_servers, ca),
    }


# The sink's clients' reconnect backoff: 0.2 s doubling to 4 s (why: ``producer``).
SINK_RECONNECT = {"reconnect.backoff.ms": 200, "reconnect.backoff.max.ms": 4000}


def producer(config: KafkaSinkConfig) -> dict[str, Any]:
    """An idempotent producer that waits for all in-sync replicas."""
    return {
        # librdkafka's defaults (100 ms doubling to 10 s, +-20%) left a broker that came back
        # unasked for up to 12 s; doubling to 4 s keeps the attempts near one a connection
        # every 4 s while it is away and a return noticed within 5 s. The start: librdkafka
        # holds a new client's first connection back for half of it (its "sparse connections":
        # list_topics took 0.253 s at 500 ms, 0.055 s at 100 ms), so 200 ms; 100 ms tried a
        # refusing bootstrap address 128 times in 30 s, over the fault test's bound of 4 a
        # second.
        **SINK_RECONNECT,
        **config.producer_options,
        "acks": "all",
        "enable.idempotence": True,
        "compression.type": config.compression,
        "linger.ms": int(config.linger.total_seconds() * 1000),
        "delivery.timeout.ms": int(config.delivery_timeout.total_seconds() * 1000),
        **connection(config.bootstrap_servers, config.security),
    }


def transactional_producer(config: KafkaSinkConfig, transactional_id: str) -> dict[str, Any]:
    """The exactly-once sink's producer: stable id (fences zombies), bounded transactions."""
    return {
        **producer(config),
        "transactional.id": transactional_id,
        "transaction.timeout.ms": int(config.transaction_timeout.total_seconds() * 1000),
    }


FETCH_WAIT_MS = 100


def consumer(config: KafkaSourceConfig) -> dict[str, Any]:
    """The index flow's reader: committed records only, positions kept in bytewax snapshots."""
    return {
        # librdkafka may prefetch up to 64 MB by default; the flow drains in batches of a
        # few MB, so a 16 MB bound still keeps the fetcher ahead (no change in the index
        # flow's rate was measured) while capping what a stalled sink leaves buffered.
        "queued.max.messages.kbytes": 16384,
        # librdkafka's defaults (100 ms) tried a broker that is down ~17 times a second
        # (measured); 1 s keeps the attempts near 2 a second and a return noticed within one.
        "reconnect.backoff.ms": 1000,
        "reconnect.backoff.max.ms": 8000,
        # A fetch for newly assigned partitions waited out this whole time (500 ms by
        # default) before its first records, at every start (measured: 0.505 s against
        # 0.057 s at 50 ms); a fetch with records still returns at once. 100 ms is Vector's
        # default for its Kafka source.
        "fetch.wait.max.ms": FETCH_WAIT_MS,
        **config.consumer_options,
        "group.id": "logwax-index",  # required by librdkafka; offsets are never committed
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": False,
        **connection(config.bootstrap_servers, config.security),
    }


def group_member(config: KafkaSourceConfig, group: str) -> dict[str, Any]:
    """The index flow's reader in consumer-group mode: Kafka assigns its partitions and keeps
    its offsets, which logwax commits itself once the sink confirmed the records.

    ``cooperative-sticky`` moves only the partitions that change hands when a member joins or
    leaves; the others keep flowing through the rebalance. Where no offset was committed yet,
    ``start_from`` says where to begin.
    """
    return {
        **consumer(config),
        "partition.assignment.strategy": "cooperative-sticky",
        "auto.offset.reset": config.start_from,
        **config.consumer_options,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "isolation.level": "read_committed",
        **connection(config.bootstrap_servers, config.security),
    }


def reader(
    bootstrap_servers: str, security: KafkaSecurity, purpose: str, *, until_eof: bool = False
) -> dict[str, Any]:
    """A short-lived ``read_committed`` consumer (read-back, metadata, check); never commits."""
    return {
        **connection(bootstrap_servers, security),
        "group.id": f"logwax-{purpose}-{uuid.uuid4().hex[:8]}",
        "enable.auto.commit": False,
        "isolation.level": "read_committed",
        "enable.partition.eof": until_eof,
        "fetch.wait.max.ms": FETCH_WAIT_MS,  # its first records sooner (see ``consumer``)
    }


def watermarks(bootstrap_servers: str, security: KafkaSecurity) -> dict[str, Any]:
    """The admin client that asks partitions' end offsets (the exactly-once sink's resume
    offsets, ``AdminClient.list_offsets``).

    An admin client rather than a consumer: it lives as long as the sink, and a consumer (its
    group.id is required) keeps asking for a coordinator, so it tries a broker that is away
    also between requests. The admin client tries only while a request waits, every half
    ``reconnect.backoff.ms`` (librdkafka's sparse connect, which does not double): 10 times a
    second at the sink's 200 ms, 4 at 500, against 3.2 and 3.0 for a producer with a record
    waiting (measured over 20 s against a refusing port). The sink asks it only at a snapshot
    after a commit, within ``delivery_timeout``.
    """
    return {**SINK_RECONNECT, **connection(bootstrap_servers, security)}

"""Prometheus metrics shared by every connector, so no record is lost without a counter moving."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SOURCE_RECORDS = Counter("logwax_source_records", "Records read by a source", ["source"])
SOURCE_BYTES = Counter("logwax_source_bytes", "Bytes read by a source", ["source"])
SOURCE_ERRORS = Counter(
    "logwax_source_errors", "Problems a source met and recovered from", ["source", "reason"]
)
SINK_RECORDS = Counter("logwax_sink_records", "Records a sink confirmed as delivered", ["sink"])
SINK_ERRORS = Counter("logwax_sink_errors", "Delivery errors seen by a sink", ["sink", "reason"])
DELIVERY_LISTENER_ERRORS = Counter(
    "logwax_delivery_listener_errors",
    "Confirmed batches a source's delivery listener failed on (its checkpoint stays behind)",
)
SINK_RETRIES = Counter("logwax_sink_retries", "Records a sink sent again", ["sink"])
SINK_BATCH_SECONDS = Histogram(
    "logwax_sink_batch_seconds", "Time to deliver and confirm one batch", ["sink"]
)
SOURCE_LAG = Gauge(
    "logwax_source_lag",
    "How far a source is behind: bytes for files, entries or seconds else",
    ["source"],
)
SOURCE_OPEN = Gauge("logwax_source_open_files", "Files a files source holds open", ["source"])
SINK_SKIPPED = Counter(
    "logwax_sink_replays_skipped",
    "Replayed records a sink found already committed after its snapshot and did not send again",
    ["sink"],
)
DEDUPLICATED = Counter(
    "logwax_deduplicated", "Records dropped because their event id was seen recently", ["step"]
)
RATE_LIMITED = Counter(
    "logwax_source_rate_limited_seconds", "Time a source waited for its rate limit", ["source"]
)
DEAD_LETTERED = Counter(
    "logwax_sink_dead_lettered",
    "Records a sink could never deliver, sent to the dead letters",
    ["sink", "reason"],
)
LAST_SNAPSHOT = Gauge(
    "logwax_last_snapshot_timestamp_seconds", "When a source last handed bytewax a snapshot"
)
BATCH_RECORDS = Histogram(
    "logwax_batch_records",
    "Records per flushed batch",
    ["step"],
    buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
)
BATCH_WAIT_SECONDS = Histogram(
    "logwax_batch_wait_seconds", "Time from a batch's first record to its flush", ["step"]
)
TARGETS_EVENTS = Counter(
    "logwax_targets_events",
    "Collection target documents from etcd: applied, rejected, etcd unreachable",
    ["event"],
)
OVERSIZED = Counter(
    "logwax_sink_oversized",
    "Records over a sink's size limit, by what was done: truncated or dead_lettered",
    ["sink", "action"],
)
K8S_METADATA_CACHED = Gauge(
    "logwax_kubernetes_metadata_cached",
    "Objects the Kubernetes metadata cache holds: pods, deleted_pods (kept for late lines), "
    "namespaces, owners",
    ["kind"],
)
K8S_METADATA_LOOKUPS = Counter(
    "logwax_kubernetes_metadata_lookups",
    "Container log lines by the metadata they got: hit (from the cache), miss (path only, "
    "flagged); waited counts files held back for a pod not yet cached",
    ["source", "result"],
)
K8S_METADATA_WATCH_RESTARTS = Counter(
    "logwax_kubernetes_metadata_watch_restarts",
    "Kubernetes metadata watches started again: expired (normal), gone (410, re-listed), "
    "connection or api_error (retried with backoff)",
    ["resource", "reason"],
)
SOURCE_RETRIES = Counter(
    "logwax_source_retries",
    "Failed calls a source retried, by the server's reason (forbidden, unauthorized, ...)",
    ["source", "reason"],
)
SOURCE_UP = Gauge(
    "logwax_source_up", "1 while a source's reading thread runs, 0 after it ended", ["source"]
)
SOURCE_RESTARTS = Counter(
    "logwax_source_restarts", "Times a source's reading thread was restarted", ["source"]
)
DEPENDENCY_MISSING = Gauge(
    "logwax_dependency_missing",
    "1 while a topic, index or namespace a component needs does not exist",
    ["component", "what"],
)
KAFKA_GROUP_PARTITIONS = Gauge(
    "logwax_kafka_group_partitions",
    "Kafka partitions the consumer group currently assigns to this process",
    ["source"],
)
KAFKA_GROUP_COMMITS = Counter(
    "logwax_kafka_group_commits",
    "Offset commits of the consumer group: ok, fenced (refused after a rebalance: another "
    "member owns the partition now) or failed (retried at the next interval)",
    ["source", "result"],
)
KAFKA_GROUP_REBALANCES = Counter(
    "logwax_kafka_group_rebalances",
    "Partition assignment changes seen by this member: assigned, revoked or lost",
    ["source", "kind"],
)

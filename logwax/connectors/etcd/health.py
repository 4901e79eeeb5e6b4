"""``logwax check`` for etcd targets: can we read this host's key, and is its document valid."""

from __future__ import annotations

from logwax.connectors.etcd.config import EtcdTargetsConfig
from logwax.connectors.etcd.gateway import EtcdGateway
from logwax.connectors.etcd.poller import parse_targets


def probe(config: EtcdTargetsConfig) -> str:
    key = config.resolved_key()
    value, _revision = EtcdGateway(config).get(key)
    if value is None:
        return f"{config.endpoints[0]}: {key} is not set yet (no targets)"
    targets = parse_targets(value)
    return f"{config.endpoints[0]}: {key} holds {len(targets)} targets"

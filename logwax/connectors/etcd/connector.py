"""Collection targets from etcd as the registry sees them (``etcd_targets:``)."""

from __future__ import annotations

from logwax.connectors.descriptor import InputConnector
from logwax.connectors.etcd.config import EtcdTargetsConfig
from logwax.connectors.etcd.health import probe
from logwax.connectors.etcd.source import EtcdTargetsSource

INPUT = InputConnector(
    key="etcd_targets", config=EtcdTargetsConfig, build=EtcdTargetsSource, probe=probe
)

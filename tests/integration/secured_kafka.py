"""The secured broker for the security suites, its users, and the least-privilege ACL set of
each job (the README's "Security" section lists the same sets).

Each test gets its own user with a fresh password and exactly the ACLs of the job it runs, so a
job that needs one more permission than documented fails its test.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from devtools import kafka_secure, paths
from devtools.kafka_secure import SecuredKafka
from logwax.connectors.kafka.admin import delete_topics, ensure_topic

INDEX_GROUP = "logwax-index"  # the group id the index flow's consumer uses (clients.consumer)


def _binding(
    resource: ResourceType,
    name: str,
    principal: str,
    operation: AclOperation,
    pattern: ResourcePatternType = ResourcePatternType.LITERAL,
) -> AclBinding:
    return AclBinding(resource, name, pattern, principal, "*", operation, AclPermissionType.ALLOW)


def producer_acls(principal: str, topic: str, transactional_prefix: str | None) -> list[AclBinding]:
    """collect/events writing ``topic``; with exactly-once also their transactional ids.

    Kafka 3.0+ lets an idempotent producer in with WRITE on a topic: no cluster
    IDEMPOTENT_WRITE.
    """
    acls = [
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.WRITE),
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.DESCRIBE),
    ]
    if transactional_prefix is not None:
        for operation in (AclOperation.WRITE, AclOperation.DESCRIBE):
            acls.append(
                _binding(
                    ResourceType.TRANSACTIONAL_ID,
                    transactional_prefix,
                    principal,
                    operation,
                    ResourcePatternType.PREFIXED,
                )
            )
    return acls


# The read-back consumers' group ids start with this (clients.reader).
READBACK_GROUPS = "logwax-readback-"


def readback_acls(principal: str, topic: str) -> list[AclBinding]:
    """The exactly-once sink reads its own partitions back after a crash (read_committed).

    Its consumer commits nothing, but librdkafka still looks up the group's coordinator,
    which needs DESCRIBE on the group.
    """
    return [
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.READ),
        _binding(
            ResourceType.GROUP,
            READBACK_GROUPS,
            principal,
            AclOperation.DESCRIBE,
            ResourcePatternType.PREFIXED,
        ),
    ]


def consumer_acls(principal: str, topic: str, group: str = INDEX_GROUP) -> list[AclBinding]:
    """index reading ``topic``. Positions live in snapshots: the consumer assigns partitions
    itself and never joins, commits or fetches offsets, so the group needs no READ; librdkafka
    only looks up its coordinator (DESCRIBE; without it every start logs a refusal)."""
    return [
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.READ),
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.DESCRIBE),
        _binding(ResourceType.GROUP, group, principal, AclOperation.DESCRIBE),
    ]


def group_member_acls(principal: str, topic: str, group: str) -> list[AclBinding]:
    """index reading ``topic`` as a member of ``group`` (``kafka_input.consumer_group``): joining,
    fetching and committing the group's offsets need READ on the group, committing also READ on
    the topic."""
    return [
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.READ),
        _binding(ResourceType.TOPIC, topic, principal, AclOperation.DESCRIBE),
        _binding(ResourceType.GROUP, group, principal, AclOperation.READ),
        _binding(ResourceType.GROUP, group, principal, AclOperation.DESCRIBE),
    ]


@dataclass
class SecuredCluster:
    """The broker plus what a test made on it (removed afterwards)."""

    broker: SecuredKafka
    topics: list[str]
    acls: list[AclBinding]

    def admin(self) -> AdminClient:
        return AdminClient(self.broker.admin_config())

    def new_topic(self, partitions: int = 1) -> str:
        name = f"secure-{uuid.uuid4().hex[:10]}"
        ensure_topic(self.broker.admin_config(), name, partitions=partitions)
        self.topics.append(name)
        return name

    def new_user(self, name: str | None = None) -> tuple[str, str]:
        """A SCRAM-SHA-512 user made through the admin API; returns (name, password)."""
        user = name or f"job-{uuid.uuid4().hex[:8]}"
        password = f"pw-{secrets.token_hex(12)}"
        upsert = UserScramCredentialUpsertion(
            user, ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 4096), password.encode()
        )
        admin = self.admin()  # kept alive until the futures complete
        for future in admin.alter_user_scram_credentials([upsert]).values():
            future.result(timeout=30)
        return user, password

    def grant(self, acls: list[AclBinding]) -> None:
        admin = self.admin()
        for future in admin.create_acls(acls).values():
            future.result(timeout=30)
        self.acls.extend(acls)

    def security(self, user: str, password: str, **extra: Any) -> dict[str, Any]:
        """The pipeline's ``security:`` section for this user."""
        return {
            "protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": user,
            "sasl_password": password,
            "ssl_ca_location": str(self.broker.ca_file),
            **extra,
        }

    def password_file_security(self, user: str, password_file: Path) -> dict[str, Any]:
        """``security`` taking the password from a file (a mounted Secret), which a test can
        get wrong and then fix while the job runs."""
        security = self.security(user, "")
        del security["sasl_password"]
        return {**security, "sasl_password_file": str(password_file)}

    def mtls_security(self, principal: str, key_password_file: Path) -> dict[str, Any]:
        """Mutual TLS with an encrypted client key, its password in a file."""
        key_password = f"key-{secrets.token_hex(8)}"
        key_password_file.write_text(key_password + "\n")
        cert, key = self.broker.client_certificate(principal, key_password)
        return {
            "protocol": "SSL",
            "ssl_ca_location": str(self.broker.ca_file),
            "ssl_certificate_location": str(cert),
            "ssl_key_location": str(key),
            "ssl_key_password_file": str(key_password_file),
        }


@pytest.fixture(scope="session")
def secured_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredKafka]:
    """A second broker with SASL_SSL, mutual TLS and ACLs; the shared one is never touched."""
    home: Path = tmp_path_factory.mktemp("secured-kafka")
    broker = kafka_secure.start(paths(), home, admin_password=f"admin-{secrets.token_hex(8)}")
    yield broker
    kafka_secure.stop(broker)


@pytest.fixture
def secured(secured_broker: SecuredKafka) -> Iterator[SecuredCluster]:
    cluster = SecuredCluster(secured_broker, [], [])
    yield cluster
    if cluster.acls:
        filters = [
            AclBindingFilter(
                b.restype,
                b.name,
                b.resource_pattern_type,
                b.principal,
                b.host,
                b.operation,
                b.permission_type,
            )
            for b in cluster.acls
        ]
        admin = cluster.admin()
        for future in admin.delete_acls(filters).values():
            future.result(timeout=30)
    delete_topics(secured_broker.admin_config(), cluster.topics)

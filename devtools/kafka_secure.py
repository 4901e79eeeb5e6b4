"""A second, secured Kafka broker: SASL_SSL (SCRAM-SHA-512), mutual TLS and ACLs enforced.

It runs beside the plaintext development broker, never instead of it: its own ports, data
directory and throwaway certificate authority, made fresh by whoever starts it (keys never touch
the repository). The KRaft ``StandardAuthorizer`` runs with
``allow.everyone.if.no.acl.found=false``, so a principal may do only what an ACL grants; the
broker's own inter-broker traffic and the admin that creates users and ACLs use the ``admin``
super user. The controller listener is PLAINTEXT on loopback and its principal (ANONYMOUS) is a
super user, as KRaft needs; clients never use it.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import trustme
from cryptography.hazmat.primitives import serialization

from devtools import kafka, process
from devtools.errors import DevServerError
from devtools.home import DevPaths, free_port, pid_alive, port_open

ADMIN = "admin"

SECURED_PROPERTIES = """\
process.roles=broker,controller
node.id=1
listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{mtls_port},\
CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=SASL_SSL://127.0.0.1:{port},SSL://127.0.0.1:{mtls_port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=SASL_SSL
listener.security.protocol.map=SASL_SSL:SASL_SSL,SSL:SSL,CONTROLLER:PLAINTEXT
controller.quorum.voters=1@127.0.0.1:{controller_port}
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
org.apache.kafka.common.security.scram.ScramLoginModule required \
username="{admin}" password="{admin_password}";
ssl.keystore.type=PEM
ssl.keystore.location={keystore}
ssl.truststore.type=PEM
ssl.truststore.location={truststore}
listener.name.ssl.ssl.client.auth=required
ssl.principal.mapping.rules=RULE:^CN=([^,]+).*$/$1/,DEFAULT
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
allow.everyone.if.no.acl.found=false
super.users=User:{admin};User:ANONYMOUS
"""


@dataclass(frozen=True)
class SecuredKafka:
    """A running secured broker and what a client needs to reach it."""

    sasl_bootstrap: str  # SASL_SSL, SCRAM-SHA-512
    mtls_bootstrap: str  # SSL with a client certificate
    ca: trustme.CA
    ca_file: Path
    admin_password: str
    pid: int
    home: Path

    def admin_config(self) -> dict[str, Any]:
        """librdkafka settings of the super user (creates users, topics and ACLs)."""
        return self.sasl_config(ADMIN, self.admin_password)

    def sasl_config(self, user: str, password: str) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.sasl_bootstrap,
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "SCRAM-SHA-512",
            "sasl.username": user,
            "sasl.password": password,
            "ssl.ca.location": str(self.ca_file),
        }

    def client_certificate(
        self, principal: str, key_password: str | None = None
    ) -> tuple[Path, Path]:
        """A client certificate whose common name is ``principal`` (PEM cert, PEM key; the key
        encrypted with ``key_password`` when given)."""
        leaf = self.ca.issue_cert(f"{principal}.client.invalid", common_name=principal)
        cert, key = self.home / f"{principal}.pem", self.home / f"{principal}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        loaded = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), password=None)
        encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        if key_password is not None:
            encryption = serialization.BestAvailableEncryption(key_password.encode())
        key.write_bytes(
            loaded.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
            )
        )
        key.chmod(0o600)
        return cert, key


def _pkcs8(key_pem: bytes) -> bytes:
    """Kafka's PEM keystore reads PKCS#8 keys only."""
    key = serialization.load_pem_private_key(key_pem, password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def start(
    dev: DevPaths, home: Path, admin_password: str, heap_mb: int = 384, timeout: float = 120.0
) -> SecuredKafka:
    """Make a CA and a server certificate for 127.0.0.1, format with the admin's SCRAM
    credential, start the broker under ``home`` and wait until the admin can create a topic."""
    lib = kafka.fetch(dev)
    shutil.rmtree(home, ignore_errors=True)
    data = home / "data"
    data.mkdir(parents=True)
    ca = trustme.CA(organization_name="logwax test CA")
    ca_file = home / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    server = ca.issue_cert("127.0.0.1", common_name="kafka-broker")
    keystore = home / "broker.pem"
    keystore.write_bytes(_pkcs8(server.private_key_pem.bytes()) + server.cert_chain_pems[0].bytes())
    keystore.chmod(0o600)
    port, mtls_port, controller_port = free_port(), free_port(), free_port()
    config = home / "server.properties"
    config.write_text(
        (SECURED_PROPERTIES + kafka.SINGLE_NODE_PROPERTIES).format(
            port=port,
            mtls_port=mtls_port,
            controller_port=controller_port,
            admin=ADMIN,
            admin_password=admin_password,
            keystore=keystore,
            truststore=ca_file,
            data=data,
        )
    )
    config.chmod(0o600)
    java = shutil.which("java") or "java"
    classpath = f"{lib}/*"
    storage = [java, "-cp", classpath, "kafka.tools.StorageTool"]
    cluster_id = subprocess.run(
        [*storage, "random-uuid"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    scram = f"SCRAM-SHA-512=[name={ADMIN},password={admin_password}]"
    formatted = subprocess.run(
        [*storage, "format", "-t", cluster_id, "-c", str(config), "--add-scram", scram],
        capture_output=True,
        text=True,
    )
    if formatted.returncode != 0:
        raise DevServerError(f"Kafka storage format failed:\n{formatted.stdout}{formatted.stderr}")
    log = home / "kafka.log"
    pid = process.spawn(
        [java, f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", "-cp", classpath, "kafka.Kafka", str(config)],
        log=log,
    )
    secured = SecuredKafka(
        sasl_bootstrap=f"127.0.0.1:{port}",
        mtls_bootstrap=f"127.0.0.1:{mtls_port}",
        ca=ca,
        ca_file=ca_file,
        admin_password=admin_password,
        pid=pid,
        home=home,
    )
    try:
        process.wait_until(
            f"secured Kafka at {secured.sasl_bootstrap}",
            lambda: port_open(port) and kafka.is_ready(secured.admin_config()),
            timeout=timeout,
            alive=lambda: pid_alive(pid),
            log=log,
        )
    except BaseException:
        process.terminate(pid, str(config))  # its command line holds its own properties file
        raise
    return secured


def stop(secured: SecuredKafka) -> None:
    process.terminate(secured.pid, str(secured.home / "server.properties"))

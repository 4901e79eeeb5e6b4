"""An expired broker certificate, signed by the right CA: ``logwax check`` says so in its one
line, naming the certificate's dates rather than the CA setting.

The endpoint is a TLS listener on loopback, not a broker: the client's certificate check
happens in the handshake, before any Kafka request, and a broker's TLS is the same OpenSSL
handshake. The broker-side refusals run against the secured broker (``test_kafka_secured``).
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme

from tests.integration.flow_runs import logwax_check
from tests.integration.pipelines import files_source, write_pipeline


@contextmanager
def tls_listener(cert: trustme.LeafCert) -> Iterator[int]:
    """A TLS endpoint on loopback presenting ``cert``; each connection ends after its
    handshake. Enough for a client's certificate check, which happens before any Kafka
    request (so no broker is needed behind it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    cert.configure_cert(context)
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                raw, _ = server.accept()
            except OSError:
                continue
            with raw:
                raw.settimeout(5)
                with contextlib.suppress(OSError):
                    context.wrap_socket(raw, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def test_check_says_the_broker_certificate_has_expired(tmp_path: Path) -> None:
    """The CA is right but the broker's certificate expired yesterday: the line names the
    certificate's dates, not the CA setting."""
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    now = datetime.now(UTC)
    expired = ca.issue_cert(
        "127.0.0.1", not_before=now - timedelta(days=30), not_after=now - timedelta(days=1)
    )
    with tls_listener(expired) as port:
        bootstrap = f"127.0.0.1:{port}"
        config = write_pipeline(
            tmp_path,
            "check",
            sources=[files_source(tmp_path)],
            kafka={
                "bootstrap_servers": bootstrap,
                "topic": "logs",
                "security": {"protocol": "SSL", "ssl_ca_location": str(ca_file)},
            },
        )
        code, out = logwax_check(config)
    lines = [line for line in out.splitlines() if line.startswith("FAIL")]
    assert code == 1 and len(lines) == 1, out
    assert f"kafka={bootstrap}" in lines[0] and "certificate has expired" in lines[0], lines
    assert "fix=the broker certificate (outside its validity dates" in lines[0], lines
    assert "Traceback" not in out

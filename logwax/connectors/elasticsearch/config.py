"""Elasticsearch sink settings, validated without I/O; ``client()`` is where I/O starts."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ByteSize, ConfigDict, Field, SecretStr, model_validator

from logwax.core import secrets
from logwax.core.units import Duration

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger(__name__)


class ElasticsearchSinkConfig(BaseModel):
    """Where and how records are indexed.

    ``index`` is a strftime pattern applied to each record's own timestamp (UTC), never the wall
    clock, so a record replayed after midnight lands in the same index as the first time.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hosts: list[str] = Field(min_length=1)
    index: str = Field("logwax-%Y.%m.%d", min_length=1)
    api_key: SecretStr | None = Field(None, description="base64 id:key, as Elasticsearch gives it")
    api_key_file: Path | None = Field(None, description="a file holding api_key (a mounted Secret)")
    username: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = Field(None, description="a file holding password")
    ca_certs: Path | None = Field(None, description="PEM bundle of the CA(s) to trust")
    verify_certs: bool = Field(
        True, description="false accepts any certificate: anyone on the path can read and change"
    )
    request_timeout: Duration = timedelta(seconds=30)
    max_retries: int | None = Field(
        None, ge=0, description="retries of 429/5xx/unreachable before failing; None: forever"
    )
    retry_backoff: Duration = timedelta(milliseconds=500)
    retry_backoff_max: Duration = timedelta(seconds=8)  # delivery resumes this soon after
    dead_letter_index: str | None = Field(
        "logwax-dead-letters", description="where rejected documents go, with the reason"
    )
    oversize: Literal["truncate", "dead_letter"] = Field(
        "truncate",
        description="a document over the size limit: cut its message (tag 'truncated') so it"
        " fits, or send it to dead_letter_index",
    )
    install_template: bool = True
    bulk_max_documents: int = Field(5000, ge=1, description="documents per bulk request at most")
    bulk_max_bytes: ByteSize = Field(
        ByteSize(10 * 1024 * 1024),
        ge=1024,
        description="bytes per bulk request at most; keep well under the node's indexing "
        "pressure limit (10% of its heap), or every request is refused with 429",
    )

    @model_validator(mode="after")
    def _one_auth_method(self) -> ElasticsearchSinkConfig:
        secrets.one_of("api_key", self.api_key, self.api_key_file)
        secrets.one_of("password", self.password, self.password_file)
        has_key = self.api_key is not None or self.api_key_file is not None
        has_password = self.password is not None or self.password_file is not None
        if has_key and (self.username or has_password):
            raise ValueError("give either api_key or username/password, not both")
        if bool(self.username) != has_password:
            raise ValueError("username and password (or password_file) go together")
        if "%f" in self.index.replace("%%", ""):
            raise ValueError(f"index {self.index!r}: names may change per second at most, not %f")
        sample = self.index_for(datetime(2024, 1, 31, 23, 59, tzinfo=UTC))
        if sample != sample.lower() or sample.startswith(("_", "-", "+")):
            raise ValueError(f"index {self.index!r} gives {sample!r}: names must be lowercase")
        if self.oversize == "dead_letter" and self.dead_letter_index is None:
            raise ValueError("oversize: dead_letter needs a dead_letter_index")
        return self

    def index_for(self, timestamp_utc: datetime) -> str:
        return timestamp_utc.strftime(self.index)

    def client(self) -> Elasticsearch:
        """A client with the secrets read now (a rotated Secret file counts from here on).

        The client is imported here, not with the settings: every flow validates every
        connector's settings, and importing the client (with aiohttp under it) was 0.25 s of
        ``logwax run``'s 0.66 s of imports, for flows that never index.
        """
        from elasticsearch import Elasticsearch

        from logwax.connectors.elasticsearch.serializer import FastJsonSerializer

        options: dict[str, Any] = {
            "request_timeout": self.request_timeout.total_seconds(),
            "verify_certs": self.verify_certs,
            "serializer": FastJsonSerializer(),
        }
        if self.ca_certs:
            options["ca_certs"] = str(self.ca_certs)
        if not self.verify_certs:
            # urllib3 would warn on every request; one loud line per client says it once.
            options["ssl_show_warn"] = False
            log.warning(
                "elasticsearch=%s verify_certs is false: TLS certificates are NOT checked, "
                "anyone on the network path can read and change what is sent; set ca_certs "
                "and verify_certs: true",
                ",".join(self.hosts),
            )
        api_key = secrets.reveal("api_key", self.api_key, self.api_key_file)
        if api_key is not None:
            options["api_key"] = api_key
        password = secrets.reveal("password", self.password, self.password_file)
        if self.username and password is not None:
            options["basic_auth"] = (self.username, password)
        return Elasticsearch(self.hosts, **options)

# logwax: multi-stage build, slim runtime, non-root by default.
# For journald, add the runtime user to the host's systemd-journal group (see README).
FROM python:3.11.11-slim-bookworm AS build
WORKDIR /src
RUN python -m venv /opt/logwax
COPY pyproject.toml README.md ./
COPY logwax ./logwax
RUN /opt/logwax/bin/pip install --no-cache-dir .

FROM python:3.11.11-slim-bookworm
LABEL org.opencontainers.image.title="logwax" \
      org.opencontainers.image.description="Log and event shipper on bytewax: exactly-once into Kafka and Elasticsearch" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 logwax \
 && useradd --system --uid 10001 --gid logwax --home-dir /var/lib/logwax --create-home logwax
COPY --from=build /opt/logwax /opt/logwax
ENV PATH=/opt/logwax/bin:$PATH PYTHONUNBUFFERED=1
USER 10001:10001
WORKDIR /var/lib/logwax
ENTRYPOINT ["logwax"]
CMD ["run", "-c", "/etc/logwax/pipeline.yaml"]

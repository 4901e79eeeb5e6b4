# logwax: multi-stage build, slim runtime, non-root, read-only root file system friendly.
# BASE_IMAGE is any Debian bookworm image with Python 3.11 and its venv module: the public
# python:3.11-slim-bookworm by default, or one built locally (see README, "Image").
# For journald, add the runtime user to the host's systemd-journal group (see README).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE} AS build
# Offline builds pass PIP_NO_INDEX=1 and a wheelhouse copied into the context as wheels/.
# The compiled core (native/, Rust) comes as a wheel there too, built outside (pip wheel ./native):
# without it the image runs the same steps in Python, slower.
ARG PIP_NO_INDEX=0
ARG PIP_FIND_LINKS=
WORKDIR /src
COPY . .
# Smaller runtime (~38 MB less than a plain install):
# - bytewax's extension ships its debug info (~15 MB; binutils' strip stays in this stage);
# - the kubernetes client's asyncio twin (kubernetes/aio, ~70 MB) is never imported by logwax,
#   nor is the aiohttp family only it needs (~5 MB);
# - the kubernetes client's generated API and model classes are kept as byte code only (its
#   sources are ~34 MB; a traceback inside it shows no source lines, logwax's own frames do).
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/* \
 && python3.11 -m venv /opt/logwax \
 && /opt/logwax/bin/pip install --no-cache-dir . \
 && if [ -d wheels ] && ls wheels/logwax_native-*.whl >/dev/null 2>&1; \
    then /opt/logwax/bin/pip install --no-cache-dir --no-deps wheels/logwax_native-*.whl; \
    else echo "no logwax_native wheel in wheels/: the image runs the Python path"; fi \
 && /opt/logwax/bin/pip uninstall --yes aiohttp aiohttp-retry aiosignal aiohappyeyeballs \
      frozenlist multidict propcache yarl \
 && /opt/logwax/bin/pip uninstall --yes pip setuptools wheel \
 && SITE=/opt/logwax/lib/python3.11/site-packages \
 && rm -rf "$SITE/kubernetes/aio" \
 && /opt/logwax/bin/python -m compileall -q -b -j 0 "$SITE/kubernetes" \
 && find "$SITE/kubernetes" -name '*.py' -delete \
 && find "$SITE/kubernetes" -name __pycache__ -prune -exec rm -rf {} + \
 && find /opt/logwax -name '*.so' -exec strip --strip-debug {} +

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="logwax" \
      org.opencontainers.image.description="Log and event shipper on bytewax: exactly-once into Kafka and Elasticsearch" \
      org.opencontainers.image.licenses="Apache-2.0"
# journalctl for the journald source: systemd without its recommends, nothing else of it runs.
# Package versions come from the base image's Debian suite.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends systemd \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 logwax \
 && useradd --system --uid 10001 --gid logwax --home-dir /var/lib/logwax --create-home logwax
COPY --from=build /opt/logwax /opt/logwax
ENV PATH=/opt/logwax/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /var/lib/logwax
# Snapshots (the recovery directory) live here: mount a volume, the root file system can be
# read-only.
VOLUME ["/var/lib/logwax"]
ENTRYPOINT ["logwax"]
CMD ["run", "-c", "/etc/logwax/pipeline.yaml"]

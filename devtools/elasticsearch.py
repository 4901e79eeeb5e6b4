"""A real Elasticsearch 8.x node from Elastic's official integ-test distribution, run locally.

The integ-test zip is the stripped-down distribution Elastic publishes to Maven Central. It lacks
ingest-common, painless, mapper-extras and data streams, so tests use plain dated indices and
composable index templates. Elasticsearch refuses to run as root, so as root we run it as a
system user made for it.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from devtools import maven, process
from devtools.errors import DevServerError
from devtools.home import DevPaths, free_port, pid_alive

ES_VERSION = "8.19.7"
ARTIFACT = f"org.elasticsearch.distribution.integ-test-zip:elasticsearch:{ES_VERSION}:zip"
SERVICE_USER = "logwax-es"

ELASTICSEARCH_YML = """\
cluster.name: logwax-dev
node.name: logwax-dev
discovery.type: single-node
network.host: 127.0.0.1
http.port: {port}
transport.port: {transport_port}
path.data: {data}
path.logs: {logs}
cluster.routing.allocation.disk.threshold_enabled: false
xpack.security.enabled: false
action.destructive_requires_name: false
"""


@dataclass(frozen=True)
class ElasticsearchServer:
    url: str
    pid: int

    def to_state(self) -> dict[str, object]:
        return {"url": self.url, "pid": self.pid}


def fetch(dev: DevPaths) -> Path:
    """Download and unpack the distribution once; returns its directory."""
    unpacked = dev.cache / f"elasticsearch-{ES_VERSION}"
    if (unpacked / "bin" / "elasticsearch").exists():
        return unpacked
    archive = maven.copy_artifact(ARTIFACT, dev.cache / "downloads", dev.cache / "maven.log")
    staging = dev.cache / f"elasticsearch-{ES_VERSION}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(staging)
    inner = staging / f"elasticsearch-{ES_VERSION}"
    for script in (inner / "bin").iterdir():
        script.chmod(0o755)
    inner.rename(unpacked)
    shutil.rmtree(staging, ignore_errors=True)
    return unpacked


def _java_home() -> str:
    if os.environ.get("ES_JAVA_HOME"):
        return os.environ["ES_JAVA_HOME"]
    if os.environ.get("JAVA_HOME"):
        return os.environ["JAVA_HOME"]
    java = shutil.which("java")
    if java is None:
        raise DevServerError("no 'java' on PATH; Elasticsearch 8 needs Java 17 or newer")
    return str(Path(java).resolve().parent.parent)


def _service_user() -> str | None:
    """The user to run as: ourselves unless root, then a no-login system user made once."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
        )
    return SERVICE_USER


def _give_to(user: str | None, *paths: Path) -> None:
    if user is None:
        return
    entry = pwd.getpwnam(user)
    for root in paths:
        for dirpath, _dirs, files in os.walk(root):
            os.chown(dirpath, entry.pw_uid, entry.pw_gid)
            for name in files:
                os.chown(os.path.join(dirpath, name), entry.pw_uid, entry.pw_gid)


def start(dev: DevPaths, heap_mb: int, timeout: float = 180.0) -> tuple[ElasticsearchServer, float]:
    dist = fetch(dev)
    home = dev.run / "elasticsearch"
    shutil.rmtree(home, ignore_errors=True)
    config_dir, data, logs, tmp = home / "config", home / "data", home / "logs", home / "tmp"
    shutil.copytree(dist / "config", config_dir)
    for directory in (data, logs, tmp):
        directory.mkdir()
    port, transport_port = free_port(), free_port()
    (config_dir / "elasticsearch.yml").write_text(
        ELASTICSEARCH_YML.format(port=port, transport_port=transport_port, data=data, logs=logs)
    )
    user = _service_user()
    # The service user must traverse every parent of the dev home and own its own directories.
    for parent in [dev.root, *dev.root.parents]:
        if parent.stat().st_mode & 0o001 == 0 and user is not None:
            parent.chmod(parent.stat().st_mode | 0o001)
    _give_to(user, dist / "config", dist / "logs", home)
    pid_file = home / "elasticsearch.pid"
    log = dev.logs() / "elasticsearch.log"
    launcher = process.spawn(
        [str(dist / "bin" / "elasticsearch"), "-d", "-p", str(pid_file)],
        log=log,
        env={
            "ES_JAVA_HOME": _java_home(),
            "ES_PATH_CONF": str(config_dir),
            "ES_JAVA_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m",
            # Entitlements forbid writes under the config dir, so tmp must not contain it.
            "ES_TMPDIR": str(tmp),
        },
        user=user,
        cwd=home,
    )
    url = f"http://127.0.0.1:{port}"

    def server_pid() -> int | None:
        try:
            return int(pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    waited = process.wait_until(
        f"Elasticsearch at {url}",
        lambda: server_pid() is not None and is_ready(url),
        timeout=timeout,
        alive=lambda: pid_alive(launcher) or pid_alive(server_pid()),
        log=log,
    )
    pid = server_pid()
    if pid is None:
        raise DevServerError(f"Elasticsearch answered but wrote no pid file at {pid_file}")
    return ElasticsearchServer(url=url, pid=pid), waited


def is_ready(url: str) -> bool:
    """Cluster health is yellow or green (a fixed sleep would be flaky on a loaded machine)."""
    try:
        with urllib.request.urlopen(
            f"{url}/_cluster/health?wait_for_status=yellow&timeout=1s", timeout=3
        ) as response:
            health = json.load(response)
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return health.get("status") in ("yellow", "green")

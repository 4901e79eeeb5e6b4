"""A real kube-apiserver backed by a real etcd, as local processes, for the Events suites.

envtest, kind and kwok download binaries or need Docker, so we build ``kube-apiserver`` from the
Go module proxy. ``k8s.io/kubernetes`` points its ~30 staging modules at local paths, which makes
``go install`` fail; a wrapper module that replaces each of them with its published ``v0.Y.Z``
builds. etcd is Debian's ``etcd-server`` (3.4), which Kubernetes 1.34 still accepts. The built
binary is cached, so only the first run pays the few minutes of the build.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from devtools import process
from devtools.errors import DevServerError
from devtools.home import DevPaths, free_port, pid_alive

KUBERNETES_VERSION = "v1.34.4"


@dataclass(frozen=True)
class KubernetesServer:
    url: str
    kubeconfig: str
    etcd_url: str
    pid: int
    etcd_pid: int

    def to_state(self) -> dict[str, object]:
        return {
            "url": self.url,
            "kubeconfig": self.kubeconfig,
            "etcd_url": self.etcd_url,
            "pid": self.pid,
            "etcd_pid": self.etcd_pid,
        }


def _go() -> str:
    go = shutil.which("go")
    if go is None:
        raise DevServerError("Go is needed to build kube-apiserver (1.24 or newer on PATH)")
    return go


# Everything the one-node cluster runs is built from the same wrapper module, so one
# ``go mod tidy`` resolves them together and later builds reuse its module cache.
COMPONENTS = (
    "kube-apiserver",
    "kubelet",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
)


def build(dev: DevPaths, component: str = "kube-apiserver") -> Path:
    """Build one Kubernetes component once into the cache; returns the binary."""
    if component not in COMPONENTS:
        raise DevServerError(f"no recipe for {component}")
    work = dev.cache / f"kubernetes-{KUBERNETES_VERSION}"
    binary = work / component
    if binary.exists():
        return binary
    work.mkdir(parents=True, exist_ok=True)
    log = dev.cache / "kubernetes-build.log"
    env = {**os.environ, "GOFLAGS": "-mod=mod"}

    def go(*args: str) -> str:
        with open(log, "ab") as out:
            result = subprocess.run(
                [_go(), *args], cwd=work, env=env, stdout=subprocess.PIPE, stderr=out
            )
        if result.returncode != 0:
            raise DevServerError(f"go {' '.join(args)} failed; see {log}")
        return result.stdout.decode()

    imports = "".join(f'import _ "k8s.io/kubernetes/cmd/{name}"\n' for name in COMPONENTS)
    tools = f"//go:build tools\npackage tools\n{imports}"
    tools_go = work / "tools.go"
    if not tools_go.exists() or tools_go.read_text() != tools:
        (work / "go.mod").unlink(missing_ok=True)
        go("mod", "init", "logwax.dev/kube-apiserver-build")
        info = json.loads(go("mod", "download", "-json", f"k8s.io/kubernetes@{KUBERNETES_VERSION}"))
        staging = re.findall(
            r"^\s+(k8s\.io/[a-z0-9-]+) v0\.0\.0$", Path(info["GoMod"]).read_text(), re.MULTILINE
        )
        published = re.sub(r"^v1\.", "v0.", KUBERNETES_VERSION)
        for module in staging:
            go("mod", "edit", f"-replace={module}={module}@{published}")
        go("mod", "edit", f"-require=k8s.io/kubernetes@{KUBERNETES_VERSION}")
        tools_go.write_text(tools)
        go("mod", "tidy")
    partial = binary.with_suffix(".partial")
    # Without the stamp a component reports v0.0.0-master (kubelet writes it into the Node).
    base = "k8s.io/component-base/version"
    major, minor = KUBERNETES_VERSION.lstrip("v").split(".")[:2]
    stamp = f"-X {base}.gitVersion={KUBERNETES_VERSION} -X {base}.gitMajor={major}"
    stamp += f" -X {base}.gitMinor={minor} -X {base}.gitTreeState=clean"
    go("build", f"-ldflags={stamp}", "-o", str(partial), f"k8s.io/kubernetes/cmd/{component}")
    partial.rename(binary)
    return binary


def start(
    dev: DevPaths,
    timeout: float = 120.0,
    home: Path | None = None,
    logs: Path | None = None,
    extra_args: tuple[str, ...] = (),
) -> tuple[KubernetesServer, float]:
    """etcd and kube-apiserver on free loopback ports; ``home`` (wiped first) and ``logs`` let
    a second control plane (the dev node's) live beside the shared one without touching it."""
    apiserver = build(dev)
    etcd = shutil.which("etcd")
    if etcd is None:
        raise DevServerError("etcd is missing: apt-get install etcd-server")
    home = home or dev.run / "kubernetes"
    shutil.rmtree(home, ignore_errors=True)
    (home / "certs").mkdir(parents=True)
    logs = logs or dev.logs()
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    etcd_pid = process.spawn(
        [
            etcd,
            "--data-dir",
            str(home / "etcd"),
            "--name",
            "logwax-dev",
            "--listen-client-urls",
            f"http://127.0.0.1:{etcd_port}",
            "--advertise-client-urls",
            f"http://127.0.0.1:{etcd_port}",
            "--listen-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls",
            f"http://127.0.0.1:{peer_port}",
            "--initial-cluster",
            f"logwax-dev=http://127.0.0.1:{peer_port}",
        ],
        log=logs / "etcd.log",
    )
    key, public = home / "service-account.key", home / "service-account.pub"
    subprocess.run(["openssl", "genrsa", "-out", str(key), "2048"], check=True, capture_output=True)
    subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-out", str(public)],
        check=True,
        capture_output=True,
    )
    token = secrets.token_hex(16)
    tokens = home / "tokens.csv"
    tokens.write_text(f'{token},logwax-admin,1,"system:masters"\n')
    tokens.chmod(0o600)
    pid = process.spawn(
        [
            str(apiserver),
            f"--etcd-servers=http://127.0.0.1:{etcd_port}",
            "--bind-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={home / 'certs'}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={public}",
            f"--service-account-signing-key-file={key}",
            f"--token-auth-file={tokens}",
            "--authorization-mode=RBAC",
            *extra_args,
        ],
        log=logs / "kube-apiserver.log",
    )
    url = f"https://127.0.0.1:{api_port}"
    ca = home / "certs" / "apiserver.crt"
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "logwax-dev",
                "clusters": [
                    {
                        "name": "logwax-dev",
                        "cluster": {"server": url, "certificate-authority": str(ca)},
                    }
                ],
                "users": [{"name": "logwax-admin", "user": {"token": token}}],
                "contexts": [
                    {
                        "name": "logwax-dev",
                        "context": {"cluster": "logwax-dev", "user": "logwax-admin"},
                    }
                ],
            }
        )
    )
    kubeconfig.chmod(0o600)
    waited = process.wait_until(
        f"kube-apiserver at {url}",
        lambda: is_ready(url, str(kubeconfig)),
        timeout=timeout,
        alive=lambda: pid_alive(pid) and pid_alive(etcd_pid),
        log=logs / "kube-apiserver.log",
    )
    etcd_url = f"http://127.0.0.1:{etcd_port}"
    return KubernetesServer(url, str(kubeconfig), etcd_url, pid, etcd_pid), waited


def is_ready(url: str, kubeconfig: str) -> bool:
    """``/readyz`` answers ok over TLS verified against the server's own CA."""
    try:
        config = json.loads(Path(kubeconfig).read_text())
        ca = config["clusters"][0]["cluster"]["certificate-authority"]
        token = config["users"][0]["user"]["token"]
        if not Path(ca).exists():
            return False
        context = ssl.create_default_context(cafile=ca)
        request = urllib.request.Request(
            f"{url}/readyz", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=3, context=context) as response:
            return bool(response.read().strip() == b"ok")
    except (urllib.error.URLError, OSError, ValueError, KeyError):
        return False

"""The node's own control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler.

It is a second instance beside the shared kube-apiserver the integration tests use (free ports,
its own etcd and certificates under the node's run directory), so starting and stopping the node
never disturbs those tests. Every component talks to the API server with the same admin token
(``system:masters``): this is a loopback-only development cluster, not a model of node
authorisation. The controller manager gets the API server's CA as the root CA it publishes in
every namespace (``kube-root-ca.crt``, which each pod's service account volume needs) and the
service account key (tokens of the legacy secret kind). Leader election is off: there is one of
each.
"""

from __future__ import annotations

import json
from pathlib import Path

from devtools import kubernetes, process
from devtools.home import DevPaths, free_port, pid_alive
from devtools.kubernetes import KubernetesServer
from devtools.node.layout import NodePaths


def start_apiserver(dev: DevPaths, node: NodePaths) -> tuple[KubernetesServer, float]:
    return kubernetes.start(
        dev,
        home=node.run / "apiserver",
        logs=node.logs,
        # Only the address the node gets (see kubelet.pin_address): never a name to look up.
        extra_args=("--allow-privileged=true", "--kubelet-preferred-address-types=InternalIP"),
    )


def ca_file(kubeconfig: str) -> str:
    config = json.loads(Path(kubeconfig).read_text())
    return str(config["clusters"][0]["cluster"]["certificate-authority"])


def start_controllers(dev: DevPaths, node: NodePaths, kubeconfig: str) -> dict[str, int]:
    """kube-controller-manager and kube-scheduler; returns their pids by name."""
    home = node.run / "apiserver"
    manager = _spawn_component(
        dev,
        node,
        kubeconfig,
        "kube-controller-manager",
        "controller-manager",
        f"--root-ca-file={ca_file(kubeconfig)}",
        f"--service-account-private-key-file={home / 'service-account.key'}",
        "--use-service-account-credentials=false",
        "--allocate-node-cidrs=false",
        "--controllers=*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller",
    )
    scheduler = _spawn_component(dev, node, kubeconfig, "kube-scheduler", "scheduler")
    return {"kube-controller-manager": manager, "kube-scheduler": scheduler}


def _spawn_component(
    dev: DevPaths, node: NodePaths, kubeconfig: str, binary: str, cert_dir: str, *extra: str
) -> int:
    """One control-plane component with what both share: the admin kubeconfig for its API
    calls and for checking its own callers, a free secure port on loopback, a certificate
    directory of its own, and no leader election (there is one of each)."""
    return process.spawn(
        [
            str(kubernetes.build(dev, binary)),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={free_port()}",
            f"--cert-dir={node.run / cert_dir}",
            "--leader-elect=false",
            *extra,
        ],
        log=node.logs / f"{binary}.log",
    )


def alive(pids: dict[str, int]) -> bool:
    return all(pid_alive(pid) for pid in pids.values())

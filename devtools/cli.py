"""``python -m devtools``: real Kafka, Elasticsearch and a kube-apiserver on loopback, and the demo.

Used by ``make demo``, ``make test`` (through the fixtures) and ``make bench``; ``logwax dev`` and
``logwax demo`` forward here from a checkout.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from collections.abc import Sequence

import devtools
from devtools.errors import DevServerError
from logwax.core.observability import setup_logging


def cmd_servers(args: argparse.Namespace) -> int:
    if args.action == "up":
        endpoints = devtools.up()
        print(f"LOGWAX_TEST_KAFKA_BOOTSTRAP={endpoints.kafka_bootstrap}")
        print(f"LOGWAX_TEST_ELASTICSEARCH_URL={endpoints.elasticsearch_url}")
        if args.kubernetes:
            kube = devtools.up_kubernetes()
            print(f"LOGWAX_TEST_KUBECONFIG={kube.kubeconfig}")
            print(f"LOGWAX_TEST_ETCD_URL={kube.etcd_url}")
    elif args.action == "down":
        devtools.down()
    else:
        for row in devtools.status():
            state = "running" if row.running else "stopped"
            memory = f"{row.rss_mb:.0f} MiB RSS" if row.rss_mb is not None else "-"
            started = f"started in {row.started_in_s}s" if row.started_in_s else ""
            print(f"{row.name:14s} {state:8s} {row.endpoint or '-':28s} {memory:>12s}  {started}")
    return 0


def cmd_docker(args: argparse.Namespace) -> int:
    """The project's own Docker engine and the images it runs (see devtools/engine.py)."""
    from devtools import engine, images

    if args.action == "status":
        print(engine.status())
        host = engine.host_if_running()
        for tag in (images.BASE, images.KAFKA, images.ELASTICSEARCH, images.PRODUCT):
            if host is not None and images.label(host, tag) is not None:
                print(f"  image {tag:28s} {images.size_mb(host, tag):5.0f} MB")
        return 0
    if args.action == "down":
        engine.down()
        return 0
    started_here = engine.host_if_running() is None
    try:
        where = engine.up()
    except (DevServerError, subprocess.CalledProcessError) as exc:
        if args.require:
            raise
        print(f"engine: none to be had ({exc}); the tests use local processes")
        where = None
    if args.action == "up":
        if where is not None and args.images:
            images.ensure_all(where.host)
        return 0 if where is not None else 1
    # "with": the command runs with DOCKER_HOST set when an engine answers; an engine this
    # command started is stopped again afterwards, so nothing is left running.
    if where is None and args.require:
        return 1
    env = dict(os.environ)
    if where is not None:
        env[engine.HOST_ENV] = where.host
    command = [part for part in args.command if part != "--"]
    try:
        return subprocess.run(command, env=env).returncode
    finally:
        if where is not None and started_here:
            engine.down()


def cmd_k8s(args: argparse.Namespace) -> int:
    """A one-node cluster on loopback (see devtools/node/cluster.py)."""
    from devtools.node import cluster

    if args.action == "up":
        state = cluster.up(log_max_size=args.log_max_size)
        print(f"LOGWAX_TEST_NODE_KUBECONFIG={state['kubeconfig']}")
    elif args.action == "down":
        cluster.down()
    else:
        print("\n".join(cluster.status()))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from devtools.demo import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devtools", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for action in ("up", "down", "status"):
        servers = commands.add_parser(action, help=f"{action} the local servers")
        servers.add_argument(
            "--kubernetes",
            action="store_true",
            help="also a real kube-apiserver with etcd (built from source once)",
        )
        servers.set_defaults(handler=cmd_servers, action=action)
    docker = commands.add_parser(
        "docker", help="the project's Docker engine: up, down, status, or run a command with it"
    )
    docker.add_argument("action", choices=("up", "down", "status", "with"))
    docker.add_argument("--images", action="store_true", help="up: also build the images")
    docker.add_argument(
        "--require",
        action="store_true",
        help="with: fail when no engine can be had here (options go before the action)",
    )
    docker.add_argument("command", nargs=argparse.REMAINDER, help="with: the command to run")
    docker.set_defaults(handler=cmd_docker)
    k8s = commands.add_parser(
        "k8s", help="a one-node Kubernetes cluster on loopback (kubelet, containerd, control plane)"
    )
    k8s.add_argument("action", choices=("up", "down", "status"))
    k8s.add_argument(
        "--log-max-size",
        default="1Mi",
        help="up: kubelet's containerLogMaxSize (small, so container logs rotate)",
    )
    k8s.set_defaults(handler=cmd_k8s)
    demo = commands.add_parser("demo", help="start local servers and ship sample logs to both")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("INFO", "kv")
    code: int = args.handler(args)
    return code

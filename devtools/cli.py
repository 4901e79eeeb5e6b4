"""``python -m devtools``: real Kafka, Elasticsearch and a kube-apiserver on loopback, and the demo.

Used by ``make demo``, ``make test`` (through the fixtures) and ``make bench``; ``logwax dev`` and
``logwax demo`` forward here from a checkout.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import devtools
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
    demo = commands.add_parser("demo", help="start local servers and ship sample logs to both")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("INFO", "kv")
    code: int = args.handler(args)
    return code

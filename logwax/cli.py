"""The ``logwax`` command: run, validate, demo and the local development servers."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from logwax.config import PipelineConfig, RecoverySettings, load_config
from logwax.errors import ConfigError, LogwaxError
from logwax.units import parse_duration

EXIT_CONFIG = 2


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="ts=%(asctime)s level=%(levelname)s logger=%(name)s %(message)s",
        stream=sys.stderr,
    )


def _with_overrides(config: PipelineConfig, args: argparse.Namespace) -> PipelineConfig:
    """Command-line recovery options win over the file and the environment."""
    update: dict[str, object] = {}
    if args.recovery_dir is not None:
        update["directory"] = args.recovery_dir
    if args.snapshot_interval is not None:
        update["snapshot_interval"] = parse_duration(args.snapshot_interval)
    if args.no_recovery:
        update["enabled"] = False
    if not update:
        return config
    recovery = RecoverySettings.model_validate({**config.recovery.model_dump(), **update})
    return config.model_copy(update={"recovery": recovery})


def cmd_run(args: argparse.Namespace) -> int:
    from flows import collect, events, index
    from logwax.runner import run_flow

    config = _with_overrides(load_config(args.config), args)
    if args.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(args.metrics_port)
    addresses = args.addresses.split(";") if args.addresses else None
    builders = {"collect": collect.build, "index": index.build, "events": events.build}
    run_flow(
        builders[config.flow](config),
        config,
        workers=args.workers,
        process_id=args.process_id,
        addresses=addresses,
    )
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    sinks = [name for name in ("kafka", "elasticsearch") if getattr(config, name) is not None]
    print(
        f"{args.config}: valid: {len(config.sources)} source(s)"
        f" ({', '.join(s.name for s in config.sources)}), sinks: {', '.join(sinks)}"
    )
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    from logwax import devservers

    if args.action == "up":
        endpoints = devservers.up()
        print(f"LOGWAX_TEST_KAFKA_BOOTSTRAP={endpoints.kafka_bootstrap}")
        print(f"LOGWAX_TEST_ELASTICSEARCH_URL={endpoints.elasticsearch_url}")
        if args.kubernetes:
            kube = devservers.up_kubernetes()
            print(f"LOGWAX_TEST_KUBECONFIG={kube.kubeconfig}")
            print(f"LOGWAX_TEST_ETCD_URL={kube.etcd_url}")
    elif args.action == "down":
        devservers.down()
    else:
        for row in devservers.status():
            state = "running" if row.running else "stopped"
            memory = f"{row.rss_mb:.0f} MiB RSS" if row.rss_mb is not None else "-"
            started = f"started in {row.started_in_s}s" if row.started_in_s else ""
            print(f"{row.name:14s} {state:8s} {row.endpoint or '-':28s} {memory:>12s}  {started}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from logwax.demo import run_demo

    return run_demo()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logwax", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the collect flow described by a pipeline file")
    run.add_argument("-c", "--config", type=Path, required=True)
    run.add_argument("--recovery-dir", type=Path, help="overrides recovery.directory")
    run.add_argument("--snapshot-interval", help="overrides recovery.snapshot_interval, e.g. 10s")
    run.add_argument("--no-recovery", action="store_true", help="run without snapshots")
    run.add_argument("-w", "--workers", type=int, default=1, help="worker threads per process")
    run.add_argument("-i", "--process-id", type=int, help="this process's index in a cluster")
    run.add_argument("-a", "--addresses", help="host:port of every process, ';'-separated")
    run.add_argument("--metrics-port", type=int, help="serve Prometheus metrics on this port")
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser("validate", help="check a pipeline file and list its problems")
    validate.add_argument("-c", "--config", type=Path, required=True)
    validate.set_defaults(handler=cmd_validate)

    dev = commands.add_parser("dev", help="local real Kafka and Elasticsearch for demo and tests")
    dev.add_argument("action", choices=["up", "down", "status"])
    dev.add_argument(
        "--kubernetes",
        action="store_true",
        help="also a real kube-apiserver with etcd (built from source once)",
    )
    dev.set_defaults(handler=cmd_dev)

    demo = commands.add_parser("demo", help="start local servers and ship sample logs to both")
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _setup_logging(args.log_level)
    try:
        code: int = args.handler(args)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_CONFIG
    except LogwaxError as exc:
        print(f"logwax: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code

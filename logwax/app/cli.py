"""The ``logwax`` command: run, validate, demo and the local development servers."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from logwax.core.errors import ConfigError, LogwaxError
from logwax.core.observability import setup_logging
from logwax.core.units import parse_duration
from logwax.settings import PipelineConfig, RecoverySettings, load_config

EXIT_CONFIG = 2


def _statefulset_peers(spec: str, replicas: int) -> tuple[int, list[str]]:
    """``service:port`` in a StatefulSet pod → (this pod's ordinal, every pod's address)."""
    import socket

    service, _, port = spec.rpartition(":")
    pod = socket.gethostname()
    name, _, ordinal = pod.rpartition("-")
    if not ordinal.isdigit():
        raise ConfigError("--statefulset", [("hostname", f"{pod!r} is not a StatefulSet pod")])
    return int(ordinal), [f"{name}-{i}.{service}:{port}" for i in range(replicas)]


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
    from logwax.app.runner import run_flow
    from logwax.flows import collect, events, index

    config = _with_overrides(load_config(args.config), args)
    from logwax.core import health

    health.configure(
        config.health.source_failure_grace.total_seconds(),
        config.health.hung_request.total_seconds(),
    )
    if args.metrics_port:
        from logwax.core.observability import serve

        serve(args.metrics_port, config.recovery.snapshot_interval.total_seconds())
    addresses = args.addresses.split(";") if args.addresses else None
    process_id = args.process_id
    if args.statefulset:
        process_id, addresses = _statefulset_peers(args.statefulset, args.replicas)
    builders = {"collect": collect.build, "index": index.build, "events": events.build}
    run_flow(
        builders[config.flow](config),
        config,
        workers=args.workers,
        process_id=process_id,
        addresses=addresses,
        shutdown_timeout=args.shutdown_timeout,
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


def cmd_check(args: argparse.Namespace) -> int:
    from logwax.app.check import run_checks

    return 0 if run_checks(load_config(args.config)) else 1


def cmd_status(args: argparse.Namespace) -> int:
    from logwax.app.status import watch

    watch(args.url, args.interval, 1 if args.once else None)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """``logwax dev`` and ``logwax demo`` hand over to the checkout's development tools.

    The servers and the demo are not part of the installed package (an image carries no Maven,
    no Kafka jars); from a checkout they are ``python -m devtools``, and these two commands stay
    as the short names the README has always given.
    """
    try:
        from devtools.cli import main as dev_main
    except ImportError:
        raise LogwaxError(
            "the development servers come with a source checkout: run this from one "
            "(make dev-up, make demo)"
        ) from None
    forwarded = ["demo"] if args.command == "demo" else [args.action]
    if getattr(args, "kubernetes", False):
        forwarded.append("--kubernetes")
    return dev_main(forwarded)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="logwax", description=__doc__)
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument(
        "--log-format",
        choices=["kv", "json"],
        default="kv",
        help="key=value lines or one JSON object per line",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the collect flow described by a pipeline file")
    run.add_argument("-c", "--config", type=Path, required=True)
    run.add_argument("--recovery-dir", type=Path, help="overrides recovery.directory")
    run.add_argument("--snapshot-interval", help="overrides recovery.snapshot_interval, e.g. 10s")
    run.add_argument("--no-recovery", action="store_true", help="run without snapshots")
    run.add_argument("-w", "--workers", type=int, default=1, help="worker threads per process")
    run.add_argument("-i", "--process-id", type=int, help="this process's index in a cluster")
    run.add_argument("-a", "--addresses", help="host:port of every process, ';'-separated")
    run.add_argument(
        "--metrics-port", type=int, help="serve /metrics, /healthz and /readyz on this port"
    )
    run.add_argument(
        "--statefulset",
        metavar="SERVICE:PORT",
        help="in a StatefulSet pod: process id from the pod ordinal, peers from the "
        "headless service",
    )
    run.add_argument("--replicas", type=int, default=1, help="with --statefulset: pod count")
    run.add_argument(
        "--shutdown-timeout",
        type=float,
        default=30.0,
        help="seconds a graceful stop may take before the process exits anyway",
    )
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser("validate", help="check a pipeline file and list its problems")
    validate.add_argument("-c", "--config", type=Path, required=True)
    validate.set_defaults(handler=cmd_validate)

    check = commands.add_parser("check", help="connect to every source and sink; say what works")
    check.add_argument("-c", "--config", type=Path, required=True)
    check.set_defaults(handler=cmd_check)

    status = commands.add_parser(
        "status",
        help="live throughput of a running job, per source and sink, from its --metrics-port",
    )
    status.add_argument("--url", default="http://127.0.0.1:9108")
    status.add_argument("--interval", type=float, default=2.0)
    status.add_argument("--once", action="store_true", help="print one interval and exit")
    status.set_defaults(handler=cmd_status)

    dev = commands.add_parser("dev", help="local real Kafka and Elasticsearch for demo and tests")
    dev.add_argument("action", choices=["up", "down", "status"])
    dev.add_argument(
        "--kubernetes",
        action="store_true",
        help="also a real kube-apiserver with etcd (built from source once)",
    )
    dev.set_defaults(handler=cmd_dev)

    demo = commands.add_parser("demo", help="start local servers and ship sample logs to both")
    demo.set_defaults(handler=cmd_dev)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
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

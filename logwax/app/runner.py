"""Run a dataflow with recovery on by default, the way ``python -m bytewax.run`` would."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from bytewax.dataflow import Dataflow
from bytewax.recovery import RecoveryConfig, init_db_dir
from bytewax.run import cli_main

from logwax.core import gctuning, native, shutdown
from logwax.core.errors import LogwaxError, logwax_cause
from logwax.settings import PipelineConfig

log = logging.getLogger(__name__)


def prepare_recovery(
    directory: Path,
    partitions: int,
    backup_interval: timedelta,
    owned: Callable[[int], bool] = lambda _index: True,
) -> RecoveryConfig:
    """Create the recovery partitions on first use; later runs resume from them.

    In a cluster whose processes each have their own volume, a process keeps only the partitions
    it ``owned`` (index modulo the process count equals its id); together they hold each once.
    """
    if not any(directory.glob("part-*.sqlite3")):
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            init_db_dir(Path(scratch), partitions)
            for index in range(partitions):
                if owned(index):
                    shutil.move(Path(scratch) / f"part-{index}.sqlite3", directory)
        log.info("recovery=%s partitions=%d created", directory, partitions)
    else:
        log.info("recovery=%s resuming", directory)
    return RecoveryConfig(directory, backup_interval)


def offsets_kept_in_group(config: PipelineConfig) -> str | None:
    """The consumer group whose committed offsets replace bytewax recovery, if any: the index
    flow in consumer-group mode keeps nothing on local disk (see ``kafka.group``)."""
    source = config.kafka_input
    if config.flow != "index" or source is None:
        return None
    return source.consumer_group


def run_flow(
    flow: Dataflow,
    config: PipelineConfig,
    *,
    workers: int = 1,
    process_id: int | None = None,
    addresses: list[str] | None = None,
    shutdown_timeout: float = 30.0,
) -> None:
    """Block running ``flow``; snapshots every ``recovery.snapshot_interval`` when enabled."""
    shutdown.install(shutdown_timeout)
    gctuning.tune()
    recovery = config.recovery
    processes = len(addresses) if addresses else 1
    me = process_id or 0
    group = offsets_kept_in_group(config)
    enabled = recovery.enabled and group is None
    recovery_config = (
        prepare_recovery(
            recovery.directory,
            recovery.partitions,
            recovery.backup_interval,
            owned=lambda index: index % processes == me,
        )
        if enabled
        else None
    )
    where = "off" if group is None else f"off (offsets kept by consumer group {group})"
    log.info(
        "flow=%s started workers=%d process_id=%s recovery=%s hot_path=%s",
        flow.flow_id,
        workers,
        process_id,
        recovery.directory if enabled else where,
        native.describe(),
    )
    try:
        cli_main(
            flow,
            workers_per_process=workers,
            process_id=process_id,
            addresses=addresses,
            epoch_interval=recovery.snapshot_interval,
            recovery_config=recovery_config,
        )
    except Exception as exc:
        # bytewax wraps our error in layers of its own; the one line that says what to do is
        # ours, so it is logged (and raised) as the reason the flow stopped.
        cause = logwax_cause(exc)
        if cause is None and enabled and any(m in str(exc) for m in DISK_FULL):
            cause = RecoveryDiskFullError(recovery.directory)
        if cause is None:
            raise
        log.error("flow=%s stopped: %s", flow.flow_id, cause)
        raise cause from None


DISK_FULL = ("DiskFull", "disk is full", "No space left on device")


class RecoveryDiskFullError(LogwaxError):
    """bytewax cannot store a snapshot: the job must stop rather than run on unrecoverable."""

    def __init__(self, directory: Path) -> None:
        super().__init__(
            f"recovery directory {directory} is full: the job stopped. Free space there and "
            "start it again; it resumes from its last complete snapshot, nothing is lost"
        )

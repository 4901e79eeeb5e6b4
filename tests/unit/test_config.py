from __future__ import annotations

from pathlib import Path

import pytest

from logwax.app.cli import main
from logwax.core.errors import ConfigError
from logwax.settings import load_config

VALID = """
name: shop
sources:
  - type: files
    name: app
    include: ["/var/log/app/*.log"]
    scan_interval: 5s
kafka:
  bootstrap_servers: broker:9092
  topic: logs
elasticsearch:
  hosts: ["http://es:9200"]
  index: "logs-%Y.%m.%d"
recovery:
  directory: /data/recovery
  snapshot_interval: 500ms
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_valid_file_loads_with_parsed_durations(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, VALID))
    assert config.sources[0].scan_interval.total_seconds() == 5
    assert config.recovery.snapshot_interval.total_seconds() == 0.5
    assert config.kafka is not None and config.kafka.topic == "logs"


def test_every_problem_is_reported_with_its_key_path(tmp_path: Path) -> None:
    text = VALID.replace("topic: logs", "topic: logs\n  tpoic: typo").replace(
        "scan_interval: 5s", "scan_interval: soon"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text))
    problems = dict(caught.value.problems)
    assert problems["kafka.tpoic"] == "unknown key"
    assert "not a duration" in problems["sources.0.scan_interval"]
    assert str(tmp_path / "pipeline.yaml") in str(caught.value)


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGWAX_KAFKA__BOOTSTRAP_SERVERS", "other:9093")
    monkeypatch.setenv("LOGWAX_ELASTICSEARCH__API_KEY", "s3cr3t")
    config = load_config(write(tmp_path, VALID))
    assert config.kafka is not None and config.kafka.bootstrap_servers == "other:9093"
    assert config.kafka.topic == "logs"  # the rest of the section still comes from the file
    assert config.elasticsearch is not None
    assert "s3cr3t" not in repr(config)


def test_a_pipeline_needs_a_sink(tmp_path: Path) -> None:
    text = VALID.split("kafka:")[0]
    with pytest.raises(ConfigError, match="at least one sink"):
        load_config(write(tmp_path, text))


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, "sources: [\n  - a: b\n"))
    assert caught.value.problems[0][0].startswith("line ")


def test_validate_command_exits_2_and_prints_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, VALID.replace("type: files", "type: floppy"))
    assert main(["validate", "-c", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: sources.0.type:" in err


def test_validate_command_accepts_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", "-c", str(write(tmp_path, VALID))]) == 0
    assert "valid: 1 source(s) (app), sinks: kafka, elasticsearch" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["pipeline.yaml", "index.yaml", "events.yaml"])
def test_the_shipped_examples_are_valid(name: str) -> None:
    example = Path(__file__).resolve().parents[2] / "examples" / name
    config = load_config(example)
    assert config.flow == {"pipeline.yaml": "collect"}.get(name, name.split(".")[0])


def test_flow_specific_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="index flow reads kafka_input"):
        load_config(write(tmp_path, VALID.replace("name: shop", "name: shop\nflow: index")))
    eo = VALID.replace(
        "topic: logs", "topic: logs\n  exactly_once: true\n  transaction_timeout: 100ms"
    )
    with pytest.raises(ConfigError, match="transaction_timeout must exceed"):
        load_config(write(tmp_path, eo))

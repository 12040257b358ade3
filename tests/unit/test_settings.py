from pathlib import Path

import pytest

from app.settings import Settings, SettingsError


def test_defaults_describe_a_local_single_worker_setup():
    settings = Settings.from_env({})
    assert settings.kafka_bootstrap is None
    assert settings.bootstrap_servers == "127.0.0.1:9092"
    assert settings.canonical_url == "http://127.0.0.1:6066"
    assert settings.topic_partitions == 4
    assert settings.data_dir == Path("var")


def test_environment_overrides_each_setting():
    settings = Settings.from_env(
        {"KAFKA_BOOTSTRAP": "kafka:9092", "WEB_PORT": "7000", "DATA_DIR": "/srv/w2",
         "TOPIC_PARTITIONS": "8", "APP_ID": "shop", "COMMIT_INTERVAL_S": "0.5"}
    )
    assert settings.commit_interval_s == 0.5
    assert settings.bootstrap_servers == "kafka:9092"
    assert settings.web_port == 7000
    assert settings.worker_dir == Path("/srv/w2/worker")
    assert settings.topic_partitions == 8
    assert settings.app_id == "shop"


def test_an_explicit_canonical_url_wins_over_host_and_port():
    settings = Settings.from_env({"WEB_HOST": "0.0.0.0", "WEB_CANONICAL_URL": "http://w1:6066"})
    assert settings.canonical_url == "http://w1:6066"


@pytest.mark.parametrize("name, value", [("WEB_PORT", "http"), ("TOPIC_PARTITIONS", "-1")])
def test_a_bad_number_names_the_variable(name, value):
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})

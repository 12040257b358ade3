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


@pytest.mark.parametrize("raw, value", [("true", True), ("1", True), ("No", False), ("false", False)])
def test_a_boolean_setting_takes_the_usual_words(raw, value):
    assert Settings.from_env({"ALLOW_UNDER_REPLICATED_TOPICS": raw}).allow_under_replicated_topics is value


def test_a_boolean_setting_refuses_other_words():
    with pytest.raises(SettingsError, match="ALLOW_UNDER_REPLICATED_TOPICS='maybe'"):
        Settings.from_env({"ALLOW_UNDER_REPLICATED_TOPICS": "maybe"})


def test_a_local_cluster_of_three_is_bootstrapped_from_every_node():
    settings = Settings.from_env({"KAFKA_BROKERS": "3", "KAFKA_PORT": "9192"})
    assert settings.bootstrap_servers == "127.0.0.1:9192,127.0.0.1:9194,127.0.0.1:9196"


def test_a_local_cluster_has_one_or_three_nodes():
    with pytest.raises(SettingsError, match="KAFKA_BROKERS=2: 1 or 3"):
        Settings.from_env({"KAFKA_BROKERS": "2"})

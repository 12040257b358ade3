import pytest

from app.replication import Replication, plan, refusal, under_replicated
from app.settings import Settings, SettingsError


def settings(**environ: str) -> Settings:
    return Settings.from_env(environ)


def test_three_brokers_get_three_replicas_and_a_min_isr_of_two():
    assert plan(settings(), brokers=3) == Replication(factor=3, min_insync=2)
    assert plan(settings(), brokers=3).topic_config == {"min.insync.replicas": "2"}


def test_the_factor_is_capped_at_the_brokers_and_says_so():
    capped = plan(settings(), brokers=1)
    assert capped == Replication(factor=1, min_insync=1, capped_from=3)
    assert capped.describe() == ("replication factor 1, min.insync.replicas 1 "
                                 "(TOPIC_REPLICATION_FACTOR=3 capped at the cluster's 1 broker)")
    assert plan(settings(), brokers=2) == Replication(factor=2, min_insync=1, capped_from=3)


def test_more_brokers_than_the_factor_is_no_cap():
    assert plan(settings(TOPIC_REPLICATION_FACTOR="3"), brokers=6).capped_from is None


def test_an_explicit_min_isr_is_kept_unless_the_cap_makes_it_impossible():
    wanted = settings(TOPIC_REPLICATION_FACTOR="5", TOPIC_MIN_INSYNC_REPLICAS="3")
    assert plan(wanted, brokers=5).min_insync == 3
    assert plan(wanted, brokers=2) == Replication(factor=2, min_insync=2, capped_from=5)


def test_a_min_isr_above_the_factor_is_refused_by_the_settings():
    with pytest.raises(SettingsError, match="TOPIC_MIN_INSYNC_REPLICAS=3 is more than"):
        settings(TOPIC_REPLICATION_FACTOR="2", TOPIC_MIN_INSYNC_REPLICAS="3")


def test_topics_with_fewer_replicas_than_planned_are_named():
    found = under_replicated({"orders": 1, "payments": 3, "emails": 2}, Replication(3, 2))
    assert found == ["emails (2 replicas)", "orders (1 replica)"]
    assert under_replicated({"orders": 1}, Replication(1, 1)) == []


def test_the_refusal_names_the_topics_and_the_way_out():
    said = refusal([f"t{n} (1 replica)" for n in range(7)], Replication(3, 2))
    assert said.startswith("7 existing topics have fewer replicas than the replication factor 3: "
                           "t0 (1 replica), t1 (1 replica)")
    assert "and 2 more" in said and "ALLOW_UNDER_REPLICATED_TOPICS=true" in said

"""How many copies of every topic the app creates: TOPIC_REPLICATION_FACTOR, capped at the
brokers the cluster has, and TOPIC_MIN_INSYNC_REPLICAS.

With 3 replicas and `min.insync.replicas` 2, a write acknowledged to a producer with `acks=all`
is on two brokers at least, so losing any one broker loses no order and no table state; and a
partition keeps taking writes while one of its three brokers is away.

`plan(settings, brokers)` decides the numbers; `under_replicated(...)` finds existing topics
with fewer replicas than planned, which a worker refuses to start on (app/topics.py), unless
ALLOW_UNDER_REPLICATED_TOPICS is set: it would run, but not as safely as configured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from app.settings import Settings


class UnderReplicated(RuntimeError):
    """Existing topics have fewer replicas than the replication factor: one line that names them."""


@dataclass(frozen=True)
class Replication:
    factor: int
    min_insync: int
    #: TOPIC_REPLICATION_FACTOR when the cluster has fewer brokers than that, else None.
    capped_from: int | None = None

    @property
    def topic_config(self) -> dict[str, str]:
        """The config every topic the app creates gets, besides its own."""
        return {"min.insync.replicas": str(self.min_insync)}

    def describe(self) -> str:
        capped = (f" (TOPIC_REPLICATION_FACTOR={self.capped_from} capped at the cluster's "
                  f"{self.factor} broker{'s' if self.factor > 1 else ''})" if self.capped_from else "")
        return f"replication factor {self.factor}, min.insync.replicas {self.min_insync}{capped}"


def plan(settings: Settings, brokers: int) -> Replication:
    """The replication of the app's topics on a cluster of `brokers` brokers."""
    wanted = settings.topic_replication_factor
    factor = max(1, min(wanted, brokers))
    min_insync = settings.topic_min_insync_replicas or (2 if factor >= 3 else 1)
    # A min ISR above the (capped) factor would refuse every write.
    return Replication(factor, min(min_insync, factor), wanted if factor < wanted else None)


def under_replicated(replicas_by_topic: Mapping[str, int], replication: Replication) -> list[str]:
    """The topics, as `name (n replicas)`, that have fewer replicas than planned."""
    return [f"{name} ({count} replica{'s' if count != 1 else ''})"
            for name, count in sorted(replicas_by_topic.items()) if count < replication.factor]


def refusal(topics: list[str], replication: Replication) -> str:
    """What a worker says when it will not start on under-replicated topics."""
    shown = ", ".join(topics[:5]) + (f" and {len(topics) - 5} more" if len(topics) > 5 else "")
    return (f"{len(topics)} existing topic{'s have' if len(topics) > 1 else ' has'} fewer "
            f"replicas than the replication factor {replication.factor}: {shown}. Losing one "
            "broker could lose their records. Reassign their replicas "
            "(kafka-reassign-partitions), or set ALLOW_UNDER_REPLICATED_TOPICS=true to start anyway.")

"""Deadlines kept in a table, announced by a timer on a topic, decided by an agent.

Faust's timers cannot write tables: a table write goes to the changelog partition of the event
being processed, and a timer has none. So a timer only announces the due entries on a topic keyed
like the table, and an agent on that topic checks the entry again and acts. Each worker announces
the entries of the partitions it owns (not its standbys), and each (key, deadline) once, unless it
is still due REANNOUNCE_MS later.
"""

from __future__ import annotations

from typing import Iterable

from faust import TopicT
from faust.types import CollectionT

from app.partitioning import partition_of

#: An entry still due this long after its notice is announced again: its notice was lost (a
#: failed send), or the agent is that far behind (it checks the entry again, so a repeat is
#: harmless).
REANNOUNCE_MS = 30_000


def due_entries(
    deadlines: Iterable[tuple[str, int]], now_ms: int, owned: set[int], partitions: int
) -> dict[str, int]:
    """The entries of owned partitions whose deadline (epoch ms) is at or before `now_ms`."""
    return {
        key: deadline for key, deadline in deadlines
        if deadline <= now_ms and partition_of(key, partitions) in owned
    }


class DeadlineAnnouncer:
    """Announces the due entries of `table` (key -> deadline in ms) on `topic`."""

    def __init__(self, table: CollectionT, topic: TopicT) -> None:
        self.table, self.topic = table, topic
        #: What this worker announced, key -> (deadline, when): a busy agent gets each deadline
        #: once, not once a second.
        self._announced: dict[str, tuple[int, int]] = {}

    async def announce(self, now_ms: int) -> None:
        owned, partitions = self.table.active_partitions()
        due = due_entries(self.table.items(), now_ms, owned, partitions)
        announced = {}
        for key, deadline in due.items():
            earlier = self._announced.get(key)
            if earlier is not None and earlier[0] == deadline and now_ms - earlier[1] < REANNOUNCE_MS:
                announced[key] = earlier
                continue
            await self.topic.send(key=key.encode(), value=b"")
            announced[key] = (deadline, now_ms)
        self._announced = announced

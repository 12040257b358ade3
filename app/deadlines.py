"""Deadlines kept in a table, announced by a timer on a topic, decided by an agent.

Faust's timers cannot write tables: a table write goes to the changelog partition of the event
being processed, and a timer has none. So a timer only announces the due entries on a topic keyed
like the table, and an agent on that topic checks the entry again and acts. Each worker announces
the entries of the partitions it owns (not its standbys), and each (key, deadline) once.
"""

from __future__ import annotations

from typing import Callable, Iterable

from faust import TopicT
from faust.types import CollectionT

from app.main import app, settings
from app.partitioning import partition_of

#: The clock of a partition (epoch ms): wall-clock time, or event time seen so far (None: none).
Clock = Callable[[int], "int | None"]


def due_entries(
    deadlines: Iterable[tuple[str, int]], clock: Clock, owned: set[int], partitions: int
) -> dict[str, int]:
    """The entries of owned partitions whose deadline their partition's clock has reached."""
    due = {}
    for key, deadline in deadlines:
        partition = partition_of(key, partitions)
        if partition in owned:
            now = clock(partition)
            if now is not None and deadline <= now:
                due[key] = deadline
    return due


class DeadlineAnnouncer:
    """Announces the due entries of `table` (key -> deadline in ms) on `topic`."""

    def __init__(self, table: CollectionT, topic: TopicT) -> None:
        self.table, self.topic = table, topic
        #: What this worker announced last time: a busy agent gets each deadline once, not once
        #: a second.
        self._announced: dict[str, int] = {}

    async def announce(self, clock: Clock) -> None:
        changelog = self.table.changelog_topic
        name = changelog.get_topic_name()
        partitions = changelog.partitions or settings.topic_partitions
        owned = {tp.partition for tp in app.assignor.assigned_actives() if tp.topic == name}
        due = due_entries(self.table.items(), clock, owned, partitions)
        for key, deadline in due.items():
            if self._announced.get(key) != deadline:
                await self.topic.send(key=key.encode(), value=b"")
        self._announced = due

"""The worker class of the app (`Worker=` in app.main): Faust's, without the terminal spinner,
and one that checks its Kafka credentials and creates and checks the app's topics before
anything starts.

For its spinner Faust sets the root logger to DEBUG whenever the log level is WARN or above, so
every library's debug message builds a LogRecord that no handler prints: with `-l warn` that was
10% of a busy worker's CPU (py-spy), more than at `-l info`.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import faust

from app.kafka_clients import KafkaAccessError, check_access
from app.replication import UnderReplicated

#: The exit status of a worker the cluster refuses (wrong credentials, untrusted certificate)
#: or that refuses the cluster (topics with fewer replicas than configured).
EXIT_KAFKA_REFUSED = 78  # EX_CONFIG


class Worker(faust.Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

    async def on_first_start(self) -> None:
        # A refused password or an untrusted certificate would otherwise be logged and retried
        # for ever by every client, and under-replicated topics would go unnoticed until a
        # broker is lost: stop with one line, before anything has started.
        from app.topics import create_topics  # the registry imports the app

        try:
            await check_access(self.app.settings)
            await create_topics()
        except (KafkaAccessError, UnderReplicated) as error:
            print(f"faust-orders: {error}", file=sys.stderr, flush=True)
            os._exit(EXIT_KAFKA_REFUSED)  # nothing to clean up yet; mode would print a traceback
        await super().on_first_start()

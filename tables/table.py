"""The table class of this app (`Table=` in app.main): Faust's table with two changes.

Keys and values that are `str` or `bytes` are stored as they are (Faust would JSON-encode them):
queries are routed to the owner of a key by hashing the changelog key, which must be the same
bytes as the key of the topic that feeds the table, or the router picks the wrong worker.

Readers can wait for a key to change: the long-poll of the query side. Every write through `table[key] = value` (in an agent) wakes the waiters of that key. A reader
checks the value and registers its waiter with no `await` in between, and the event loop runs
one thing at a time, so a write can never slip between the check and the wait (no lost wake-up).
Any number of readers may wait on one key.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any, Callable

import faust


class Table(faust.Table):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._waiters: defaultdict[Any, set[asyncio.Future]] = defaultdict(set)

    def _serializer_from_type(self, typ: Any) -> Any:
        return "raw" if typ in (str, bytes) else super()._serializer_from_type(typ)

    def on_key_set(self, key: Any, value: Any) -> None:
        super().on_key_set(key, value)
        for waiter in self._waiters.pop(key, ()):
            if not waiter.done():
                waiter.set_result(None)

    async def wait_for(self, key: Any, ready: Callable[[Any], bool], timeout: float) -> Any:
        """Return the value of `key` once `ready(value)`; raise TimeoutError after `timeout` s."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        value = self.get(key)
        while not ready(value):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(key)
            waiter = loop.create_future()
            self._waiters[key].add(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                raise TimeoutError(key) from None
            finally:
                waiters = self._waiters.get(key)
                if waiters is not None:
                    waiters.discard(waiter)
                    if not waiters:
                        del self._waiters[key]
            value = self.get(key)
        return value

    def waiting(self, key: Any) -> int:
        """How many readers wait on `key` (for tests and metrics)."""
        return len(self._waiters.get(key, ()))

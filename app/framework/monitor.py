"""The app's Monitor (`Monitor=` in app.main): Faust's, keeping only what `/metrics` reads.

Faust calls its Monitor for every message in and out, every stream event in and out, every table
read and write and every send: counters, timings and string lookups that nothing of this app
reads (`../shared/PERF-NOTES.md`, item 3). `/metrics` reads the end offsets the consumer reports
and the committed offsets (consumer lag); those hooks are Faust's own, the per-event ones do
nothing here.
"""

from __future__ import annotations

from typing import Any

from faust.sensors import Monitor as FaustMonitor


class Monitor(FaustMonitor):
    def on_message_in(self, tp: Any, offset: int, message: Any) -> None:
        pass

    def on_stream_event_in(self, tp: Any, offset: int, stream: Any, event: Any) -> None:
        return None

    def on_stream_event_out(self, tp: Any, offset: int, stream: Any, event: Any,
                            state: Any = None) -> None:
        pass

    def on_message_out(self, tp: Any, offset: int, message: Any) -> None:
        pass

    def on_table_get(self, table: Any, key: Any) -> None:
        pass

    def on_table_set(self, table: Any, key: Any, value: Any) -> None:
        pass

    def on_table_del(self, table: Any, key: Any) -> None:
        pass

    def on_send_initiated(self, producer: Any, topic: str, message: Any, keysize: int,
                          valsize: int) -> None:
        return None

    def on_send_completed(self, producer: Any, state: Any, metadata: Any) -> None:
        pass

"""The worker class of the app (`Worker=` in app.main): Faust's, without the terminal spinner.

For its spinner Faust sets the root logger to DEBUG whenever the log level is WARN or above, so
every library's debug message builds a LogRecord that no handler prints: with `-l warn` that was
10% of a busy worker's CPU (py-spy), more than at `-l info`.
"""

from __future__ import annotations

from typing import Any

import faust


class Worker(faust.Worker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

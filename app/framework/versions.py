"""The worker runs only on the faust-streaming and aiokafka it was tested with.

This app overrides parts of both that are not public API (every override is in this package,
`app/framework/`, listed in its `__init__`). On other versions those overrides can do the wrong
thing without an error, so a worker on them refuses to start. Moving to a new version means
running the broker tests on it and changing the pins here and in pyproject.toml together.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Callable

#: The distributions whose internals this app relies on, and the versions it was tested with.
PINNED = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0"}


class UnsupportedVersions(RuntimeError):
    """Installed versions of faust-streaming or aiokafka other than the pinned ones."""


def check_versions(installed: Callable[[str], str] = version) -> None:
    """Raise UnsupportedVersions, naming each mismatch, unless the pinned versions are installed."""
    wrong = {name: installed(name) for name, pinned in PINNED.items() if installed(name) != pinned}
    if wrong:
        found = ", ".join(f"{name} {found} (needs {PINNED[name]})" for name, found in wrong.items())
        raise UnsupportedVersions(
            f"this worker needs the versions it was tested with: {found}. "
            "Install the project's pinned dependencies (make install)."
        )

"""The app's handle: what services declare when imported, made on the app when it is built.

Services declare their topics, tables, agents, timers, web views and CLI commands on
`app.main.app` (`app.make(...)` for a topic or a table, and Faust's own `@app.timer(...)`,
`@app.page(...)`, `@app.command(...)`), but that `app` is this handle, not a Faust app: importing
a service builds nothing and patches nothing, so its rules can be imported and tested alone.
`app.main.create_app(settings)` builds the Faust app and binds the handle to it: every
declaration is made on it, in the order declared (and one declared later, at once). From then
on the handle answers every other attribute with the app's, a topic's or table's handle with
the topic's or table's, and `app.main.settings` with the app's settings.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator, TypeVar

T = TypeVar("T")


class Unbound(RuntimeError):
    """Something the app makes was used before the app was built."""


class Handle:
    """Stands for one object the app makes when it is built (a topic, a table, an agent)."""

    def __init__(self, what: str) -> None:
        self._what = what
        self._target: Any = None

    def _bind(self, target: Any) -> None:
        self._target = target

    def _bound(self) -> Any:
        if self._target is None:
            raise Unbound(f"{self._what} is used before the app is built (app.main.create_app)")
        return self._target

    def __getattr__(self, name: str) -> Any:  # only names this handle does not have itself
        if name.startswith("__"):
            raise AttributeError(name)  # what copy, pickle and inspect probe for
        return getattr(self._bound(), name)

    def __repr__(self) -> str:
        return f"<{self._what}{'' if self._target is not None else ' (not built yet)'}>"


class TopicHandle(Handle):
    def __init__(self, base_name: str, value_type: Any = None) -> None:
        super().__init__(f"topic {base_name}")
        #: The name without the app's TOPIC_PREFIX (known before the settings are).
        self.base_name = base_name
        #: What its values are (a record type, `list[...]` for batches); None: bytes without a
        #: schema.
        self.value_type = value_type

    def name_in(self, settings: Any) -> str:
        """The topic's name under `settings` (for tools that read topics without an app)."""
        return settings.topic_prefix + self.base_name


class TableHandle(Handle):
    """A table's handle is a mapping like the table (the operators Python looks up on the
    class are passed on here)."""

    def __getitem__(self, key: Any) -> Any:
        return self._bound()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._bound()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._bound()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._bound()

    def __iter__(self) -> Iterator[Any]:
        return iter(self._bound())

    def __len__(self) -> int:
        return len(self._bound())


def target_of(thing: Any) -> Any:
    """The object a handle stands for; anything else as it is."""
    return thing._bound() if isinstance(thing, Handle) else thing


class AppHandle:
    def __init__(self) -> None:
        self._app: Any = None
        self._declarations: list[Callable[[Any], None]] = []

    def bind(self, app: Any) -> None:
        """Make every declaration on `app` (a rebind, e.g. a second app in tests, makes them
        again on the new one)."""
        self._app = app
        for declaration in self._declarations:
            declaration(app)

    def declare(self, declaration: Callable[[Any], None]) -> None:
        """Have `declaration(app)` run on the app: when it is built, or now if it is."""
        self._declarations.append(declaration)
        if self._app is not None:
            declaration(self._app)

    def make(self, handle: Handle, build: Callable[[Any], Any]) -> Any:
        """Bind `handle` to `build(app)` when the app is built; returns the handle."""
        self.declare(lambda app: handle._bind(build(app)))
        return handle

    # Faust's declaring calls -------------------------------------------------------------------

    def agent(self, channel: Any, *, name: str) -> Callable[[Callable], Handle]:
        def declare(fun: Callable) -> Handle:
            return self.make(Handle(f"agent {name}"),
                             lambda app: app.agent(target_of(channel), name=name)(fun))
        return declare

    def timer(self, interval: float) -> Callable[[T], T]:
        def declare(fun: T) -> T:
            self.declare(lambda app: app.timer(interval)(fun))
            return fun
        return declare

    def page(self, path: str) -> Callable[[T], T]:
        def declare(view: T) -> T:
            self.declare(lambda app: app.page(path)(view))
            return view
        return declare

    def command(self, *options: Any) -> Callable[[T], T]:
        def declare(fun: T) -> T:
            self.declare(lambda app: app.command(*options)(fun))
            return fun
        return declare

    def connect(self, signal: str, receiver: Callable) -> None:
        """Connect `receiver` to the app's signal `signal` (e.g. "on_partitions_assigned")."""
        self.declare(lambda app: getattr(app, signal).connect(receiver))

    # The built app -----------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if self._app is None:
            raise Unbound(f"app.{name} is used before the app is built (app.main.create_app)")
        return getattr(self._app, name)


class SettingsHandle:
    """The built app's settings."""

    def __init__(self, app: AppHandle) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._app.settings, name)

"""The Faust app package. `faust -A app worker` finds the App as `app.app`.

The App is built on first use (`app.main.get_app`), so that tools in this package (the local
broker, settings) and the services' rules can be imported without building it.
"""


def __getattr__(name: str):
    if name == "app":
        from app.main import get_app

        return get_app()
    raise AttributeError(name)

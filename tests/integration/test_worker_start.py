"""A worker started by hand, as `make worker` does: `faust -A app worker` and settings."""

import os
import subprocess
import time
import urllib.request

from app.processes import faust_command, stop_process


def test_a_worker_with_a_new_data_dir_creates_it_and_becomes_healthy(new_app, tmp_path):
    environment = new_app().worker_environment(tmp_path / "new" / "data-dir")
    url = f"http://127.0.0.1:{environment['WEB_PORT']}/health"
    worker = subprocess.Popen(
        faust_command("worker", "-l", "warn"), env={**os.environ, **environment},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and worker.poll() is None:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        assert worker.poll() is None, worker.stdout.read().decode(errors="replace")[-3000:]
        assert (tmp_path / "new" / "data-dir" / "worker").is_dir()
    finally:
        stop_process(worker)

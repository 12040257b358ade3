"""What a Maven download says while it runs (app/processes.py)."""

from app.processes import _download_progress

LOG = b"""[INFO] Scanning for projects...
[INFO] Downloading from central: https://repo.maven.apache.org/maven2/a/b/1/b-1.jar
[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/a/b/1/b-1.pom (2.5 kB at 40 kB/s)
[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/a/b/1/b-1.jar (1.5 MB at 9.1 MB/s)
[INFO] Downloaded from central: https://repo.maven.apache.org/maven2/a/c/2/c-2.jar (512 B at 1 kB/s)
"""


def test_progress_counts_what_maven_downloaded_and_estimates_what_is_left():
    assert _download_progress(LOG, 10.0, None) == "  1.5 MB in 3 files after 10 s"
    assert _download_progress(LOG, 10.0, 6.0) == (
        "  1.5 MB in 3 files after 10 s (of ~6 MB, ~30 s left)")
    assert _download_progress(b"[INFO] Scanning for projects...\n", 5.0, 6.0) == (
        "  0.0 MB in 0 files after 5 s")

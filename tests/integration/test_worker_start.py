"""A worker started by hand, as `make worker` does, into a DATA_DIR that does not exist yet."""


def test_a_worker_with_a_new_data_dir_creates_it_and_becomes_healthy(new_app, tmp_path):
    data_dir = tmp_path / "new" / "data-dir"
    # The log goes elsewhere, so nothing but the worker itself creates DATA_DIR.
    new_app().add_worker(data_dir, log_file=tmp_path / "worker.log")
    assert (data_dir / "worker").is_dir()

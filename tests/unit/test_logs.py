"""What a long read or restore says while it runs."""

from app.framework.recovery import progress_line
from app.logs import progress


def test_a_long_read_says_how_much_is_done_and_how_long_is_left():
    assert progress("reading orders", 250_000, 1_000_000, 5.0) == (
        "reading orders: 250,000 of 1,000,000 records after 5 s, about 15 s left")
    assert progress("reading orders", 0, 10, 5.0) == "reading orders: 0 of 10 records after 5 s"


def test_a_restore_says_what_it_wrote_what_is_left_and_at_what_rate():
    assert progress_line(400_000, 600_000, 4.0) == (
        "restoring tables: 600,000 records written, 400,000 left, 150,000 records/s, "
        "about 3 s left")
    assert progress_line(10, 0, 5.0) == "restoring tables: 0 records written, 10 left"

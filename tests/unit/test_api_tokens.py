"""Who needs which token (web/auth.py)."""

from web.auth import accepted_tokens, allowed, bearer


def test_without_tokens_everything_is_open():
    assert accepted_tokens("POST", "/v1/orders", None, None) == ()
    assert accepted_tokens("GET", "/v1/orders/o1", None, None) == ()


def test_with_a_write_token_writes_need_it_and_reads_stay_open():
    assert accepted_tokens("POST", "/v1/orders", "w", None) == ("w",)
    assert accepted_tokens("PUT", "/v1/inventory/SOCKS", "w", None) == ("w",)
    assert accepted_tokens("GET", "/v1/orders/o1", "w", None) == ()
    assert accepted_tokens("GET", "/metrics", "w", None) == ()


def test_with_a_read_token_reads_need_either_token_but_health_and_the_page_stay_open():
    assert accepted_tokens("GET", "/v1/orders/o1", "w", "r") == ("r", "w")
    assert accepted_tokens("GET", "/metrics", "w", "r") == ("r", "w")
    assert accepted_tokens("GET", "/v1/events", None, "r") == ("r",)
    for path in ("/health", "/", "/static/dashboard.js"):
        assert accepted_tokens("GET", path, "w", "r") == ()
    assert accepted_tokens("POST", "/v1/orders", "w", "r") == ("w",)  # not the read token


def test_a_token_is_taken_from_a_bearer_header_only_and_must_match_whole():
    assert bearer("Bearer s3cret") == "s3cret" and bearer("bearer  s3cret ") == "s3cret"
    assert bearer("Basic s3cret") is None and bearer("Bearer ") is None and bearer(None) is None
    assert allowed("s3cret", ("s3cret",)) and allowed(None, ())
    assert not allowed("s3cre", ("s3cret",)) and not allowed(None, ("s3cret",))
    assert allowed("w", ("r", "w"))

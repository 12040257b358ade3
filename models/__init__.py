"""Records on the wire (`records`) and HTTP request schemas (`requests`)."""

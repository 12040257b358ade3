"""Tables: changelog-backed state, one module per service that owns it."""

"""HTTP API: thin Faust web views that parse, delegate and map outcomes to status codes."""

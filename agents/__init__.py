"""One module per service; each module reads top to bottom: contract, streams, tables, agents."""

"""Every override of Faust and aiokafka this app relies on, in one place.

Each module says at its top why it exists. In short, with what would let it go:

- `versions.py`: the worker refuses faust-streaming and aiokafka other than the pinned ones,
  because the overrides below reach into their internals. Goes when nothing below is left.
- `transport.py`: the consumer. Batched fetches (Faust passes neither fetch setting through to
  aiokafka); the commit barrier of the write-behind tables (Faust's pre-commit flush gives up
  after 0.1 s); a commit before Faust forgets revoked partitions' offsets; fetches for a copy of
  Faust's live partition set; a stream partition without a commit sought to its beginning;
  subscribed topics awaited in aiokafka's metadata; commits that never pass a record not handled
  (Faust's take the committed offset for the last one handled), a drain loop that gives a
  record up, batch and all, when a rebalance cuts its delivery or a seek comes, and seeks that
  look every position up before moving any partition. Goes when Faust passes fetch
  settings, has a flush hook that waits, commits on revocation and only over handled records,
  and aiokafka refreshes metadata for missing subscribed topics.
- `metadata.py`: a pause after a failed metadata update (aiokafka spins at ~7,000 tries a
  second while the broker is down), and every topic a client sends to tracked in its metadata
  (aiokafka forgets topics it learned from a full update, and a batch for one then waits 20
  minutes for a leader). Goes when aiokafka backs off there and tracks topics itself.
- `table.py`: the write-behind table (one changelog record per key and commit, reads through an
  in-memory overlay, long-poll waiters). Goes if Faust gets write-behind tables.
- `recovery.py`: changelog records restored a fetched batch at a time, in one RocksDB write
  with their offset (Faust's recovery decodes, queues and times each record: ~100 µs each, a
  cold restore at 10,000 records/s). Goes if Faust's recovery gets batched.
- `store.py`: every table's RocksDB inside one memory budget (Faust's defaults are ~2.5 GiB of
  caches per database). Goes when Faust's store takes a shared cache and write buffer manager.
- `outputs.py`: agents' sends straight to aiokafka, batched for internal topics (Faust's
  `topic.send` costs ~150-300 µs a record). Goes if Faust's send path gets that cheap.
- `streams.py`: the shell every service runs in: one agent per topic, each record decoded once,
  what fails dead-lettered (a Faust agent that raises loses the record). Goes if Faust agents
  get dead letters and shared decoding.
- `monitor.py`: Faust's Monitor without its per-event bookkeeping. Goes if Faust's sensors get
  cheap when nothing reads them.
- `worker.py`: Faust's Worker without the terminal spinner (which turns on every library's debug
  logging). Goes when Faust's spinner leaves the log level alone.
"""

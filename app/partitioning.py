"""Which partition a key belongs to: the hash the producer applies when it sends."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

_partitioner = DefaultPartitioner()


def partition_of(key: str, partitions: int) -> int:
    """The partition of `key` among `partitions` (murmur2, as Kafka's Java client hashes)."""
    every = list(range(partitions))
    return _partitioner(key.encode(), every, every)

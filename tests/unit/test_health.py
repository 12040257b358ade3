import asyncio
from types import SimpleNamespace

from faust.exceptions import ConsumerNotStarted
from faust.types import TP

from web.health import assignment, readiness


def worker(*, recovered: bool, rebalancing: bool = False, in_recovery: bool = False):
    completed = asyncio.Event()
    if recovered:
        completed.set()
    recovery = SimpleNamespace(completed=completed, in_recovery=in_recovery)
    return SimpleNamespace(tables=SimpleNamespace(recovery=recovery), rebalancing=rebalancing)


def test_not_ready_before_the_first_assignment_is_recovered():
    assert readiness(worker(recovered=False))[0] is False


def test_not_ready_while_a_rebalance_recovers_tables():
    assert readiness(worker(recovered=True, rebalancing=True))[0] is False
    assert readiness(worker(recovered=True, in_recovery=True))[0] is False


def test_ready_once_recovered():
    assert readiness(worker(recovered=True)) == (True, "ready")


def test_a_worker_whose_consumer_has_not_started_has_no_assignment_yet():
    def not_started():
        raise ConsumerNotStarted("Consumer thread not yet started")

    starting = SimpleNamespace(consumer=SimpleNamespace(assignment=not_started))
    assert assignment(starting) == []
    assigned = SimpleNamespace(consumer=SimpleNamespace(assignment=lambda: {TP("orders", 1), TP("orders", 0)}))
    assert assignment(assigned) == ["orders[0]", "orders[1]"]

"""`KeyLocks`: requests for one key take turns, other keys do not wait, and nothing stays behind."""

import asyncio

from web.http import KeyLocks


async def test_requests_for_one_key_take_turns_and_the_lock_goes_when_unused():
    locks, order = KeyLocks(), []

    async def request(key: str, name: str) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")

    await asyncio.gather(request("p1", "a"), request("p1", "b"), request("p2", "c"))
    assert order.index("a out") < order.index("b in")  # one key: in turns
    assert order.index("c in") < order.index("a out")  # another key: at once
    assert len(locks) == 0

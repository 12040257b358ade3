import random
from collections import defaultdict

from bench.load import Tally, Workload


def test_a_workload_spreads_unique_orders_over_its_customers_and_products():
    workload = Workload(orders=1000, customers=7, products=3)
    rng = random.Random(1)
    orders = [workload.order(n, rng) for n in range(workload.orders)]
    assert len({order["id"] for order in orders}) == 1000
    assert {order["customerId"] for order in orders} == set(range(1_000_000, 1_000_007))
    assert {order["product"] for order in orders} == {"LOAD-0", "LOAD-1", "LOAD-2"}
    units = defaultdict(int)
    for order in orders:
        units[order["product"]] += order["quantity"]
    assert max(units.values()) <= workload.stock_per_product()


def test_a_customers_orders_of_a_long_run_stay_under_the_fraud_limit():
    workload = Workload(orders=100_000, customers=100, products=10)
    rng = random.Random(2)
    spent = defaultdict(float)
    for n in range(workload.orders):
        order = workload.order(n, rng)
        spent[order["customerId"]] += order["quantity"] * order["price"]
    assert max(spent.values()) < 2000


def test_a_payment_pays_its_order_in_full():
    order = Workload(1, 1, 1).order(0, random.Random(3))
    payment = Workload.payment(order)
    assert payment["orderId"] == order["id"]
    assert payment["amount"] == round(order["quantity"] * order["price"], 2)


def test_the_summary_has_the_latency_percentiles_of_accepted_orders():
    tally = Tally(total=100, sent=100, accepted=100, latencies_ms=[float(n) for n in range(1, 101)])
    summary = tally.summary()
    assert (summary["post_p50_ms"], summary["post_p95_ms"], summary["post_p99_ms"]) == (50.0, 95.0, 99.0)


def test_a_dashboard_run_fails_one_order_in_ten_and_does_not_pay_for_it():
    workload = Workload(orders=100, customers=5, products=2, failing_every=10)
    rng = random.Random(4)
    orders = [workload.order(n, rng) for n in range(workload.orders)]
    empty = [order for order in orders if order["quantity"] == 0]
    assert len(empty) == 10 and empty[0]["id"].endswith("-9")
    assert all(Workload.payment(order) is None for order in empty)
    assert all(Workload.payment(order)["amount"] > 0 for order in orders if order["quantity"])

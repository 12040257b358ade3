"""The order-burst query's rules: tumbling windows on event time, one alert per window (updated
as orders come within the grace), late orders not counted, state that survives a restart."""

from agents.bursts import burst_alert, count_in_window, window_of, with_alert
from models.records import Customer
from models.state import CustomerBursts

WINDOW_MS, GRACE_MS, MIN_ORDERS = 30_000, 10_000, 2
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a window boundary


def count(bursts, event_ms, cents=100):
    return count_in_window(bursts, event_ms, cents, window_ms=WINDOW_MS, grace_ms=GRACE_MS)


def alert_of(bursts, start):
    return burst_alert(7, start, bursts.windows[start], window_ms=WINDOW_MS,
                       min_orders=MIN_ORDERS, customer=None)


def test_windows_are_tumbling_on_event_time_and_their_end_belongs_to_the_next():
    assert window_of(T0, WINDOW_MS) == (T0, T0 + WINDOW_MS)
    assert window_of(T0 + WINDOW_MS - 1, WINDOW_MS) == (T0, T0 + WINDOW_MS)
    assert window_of(T0 + WINDOW_MS, WINDOW_MS) == (T0 + WINDOW_MS, T0 + 2 * WINDOW_MS)


def test_a_window_alerts_once_it_holds_more_than_the_minimum_and_each_later_order_updates_it():
    bursts, alerts = CustomerBursts(), []
    for offset_ms in (0, 10_000, 20_000, 29_999):
        bursts, start = count(bursts, T0 + offset_ms, cents=250)
        alerts.append(alert_of(bursts, start))
    assert alerts[:2] == [None, None]
    third, fourth = alerts[2:]
    assert (third.orders, third.total, fourth.orders, fourth.total) == (3, 7.5, 4, 10.0)
    assert (fourth.window_start, fourth.window_end) == (third.window_start, third.window_end)
    assert third.window_start.timestamp() * 1000 == T0
    bursts, start = count(bursts, T0 + WINDOW_MS)  # the next window starts from nothing
    assert (start, bursts.windows[start].orders, alert_of(bursts, start)) == (T0 + WINDOW_MS, 1, None)


def test_an_order_within_the_grace_is_counted_and_a_later_one_is_late():
    bursts = CustomerBursts()
    for offset_ms in (0, 1_000, 35_000):  # the customer's event time moves into the next window
        bursts, _ = count(bursts, T0 + offset_ms)
    bursts, start = count(bursts, T0 + 2_000)  # the customer's time is 5 s past the end: in grace
    assert (start, bursts.windows[T0].orders) == (T0, 3)
    bursts, _ = count(bursts, T0 + 50_000)  # the end plus the grace is reached: window closed
    assert T0 not in bursts.windows
    late, start = count(bursts, T0 + 3_000)
    assert (start, late) == (None, bursts)


def test_the_state_read_back_after_a_restart_goes_on_counting_the_same_window():
    bursts = CustomerBursts()
    for offset_ms in (0, 5_000):
        bursts, _ = count(bursts, T0 + offset_ms)
    restored = CustomerBursts.model_validate_json(bursts.model_dump_json())
    restored, start = count(restored, T0 + 6_000)
    assert alert_of(restored, start).orders == 3


def test_an_alert_names_the_customer_and_the_record_keeps_one_alert_per_window():
    bursts = CustomerBursts()
    for offset_ms in (0, 1, 2):
        bursts, start = count(bursts, T0 + offset_ms)
    ada = Customer(id=7, first_name="Ada", last_name="Lovelace", email="a@example.com", address="x")
    alert = burst_alert(7, start, bursts.windows[start], window_ms=WINDOW_MS,
                        min_orders=MIN_ORDERS, customer=ada)
    assert (alert.first_name, alert.last_name, alert.customer_id) == ("Ada", "Lovelace", 7)
    bursts = with_alert(with_alert(bursts, alert), alert.model_copy(update={"orders": 4}))
    assert [kept.orders for kept in bursts.alerts] == [4]

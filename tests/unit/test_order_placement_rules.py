from agents.orders import may_place, supersedes
from models.records import Order, OrderState


def order(state: OrderState, product: str = "JUMPERS") -> Order:
    return Order(id="o1", customer_id=1, state=state, product=product, quantity=1, price=1.0)


def test_the_first_request_for_an_id_places_the_order():
    assert may_place(None, "request-a")


def test_a_competing_request_for_a_placed_id_is_refused():
    assert not may_place("request-a", "request-b")


def test_the_winning_request_redelivered_publishes_again():
    assert may_place("request-a", "request-a")


def test_an_unknown_order_enters_the_query_side():
    assert supersedes(order(OrderState.CREATED), None)


def test_a_terminal_state_replaces_created():
    assert supersedes(order(OrderState.VALIDATED), order(OrderState.CREATED))
    assert supersedes(order(OrderState.FAILED), order(OrderState.CREATED))


def test_a_redelivered_created_never_hides_a_later_state():
    assert not supersedes(order(OrderState.CREATED), order(OrderState.VALIDATED))


def test_a_second_created_never_replaces_the_first():
    assert not supersedes(order(OrderState.CREATED, "SOCKS"), order(OrderState.CREATED))

"""Demo data that can validate: stock for every demo product, the reference's nine customers."""

from __future__ import annotations

from models.records import Customer

#: Absolute stock levels of the demo products.
DEMO_STOCK = {"JUMPERS": 100, "UNDERPANTS": 200, "STOCKINGS": 150}

_LEVELS = ["platinum", "platinum", "platinum", "bronze", "gold", "silver", "gold", "silver", "bronze"]
_NAMES = [
    ("Ada", "Lovelace"), ("Grace", "Hopper"), ("Alan", "Turing"), ("Edsger", "Dijkstra"),
    ("Barbara", "Liskov"), ("Donald", "Knuth"), ("Frances", "Allen"), ("Tony", "Hoare"),
    ("Radia", "Perlman"),
]

DEMO_CUSTOMERS = [
    Customer(
        id=number,
        first_name=first,
        last_name=last,
        email=f"{first.lower()}.{last.lower()}@example.com",
        address=f"{number} Demo Street, Springfield",
        level=level,
    )
    for number, ((first, last), level) in enumerate(zip(_NAMES, _LEVELS), start=1)
]

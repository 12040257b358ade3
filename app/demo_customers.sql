-- The demo's legacy customer database: the reference's nine customers (ids 1-9).
-- `make run` builds DATA_DIR/customers.sqlite from this file and loads it with
-- `faust -A app load-customers`. Edit a row and bump its updated_at to see it published again.
CREATE TABLE customers (
    id          INTEGER PRIMARY KEY,
    first_name  TEXT NOT NULL,
    last_name   TEXT NOT NULL,
    email       TEXT NOT NULL,
    address     TEXT NOT NULL,
    level       TEXT NOT NULL DEFAULT 'bronze',
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now'))
);

INSERT INTO customers (id, first_name, last_name, email, address, level, updated_at) VALUES
    (1, 'Ada',     'Lovelace', 'ada.lovelace@example.com',   '1 Demo Street, Springfield', 'platinum', '2026-01-01 00:00:00.000'),
    (2, 'Grace',   'Hopper',   'grace.hopper@example.com',   '2 Demo Street, Springfield', 'platinum', '2026-01-01 00:00:00.000'),
    (3, 'Alan',    'Turing',   'alan.turing@example.com',    '3 Demo Street, Springfield', 'platinum', '2026-01-01 00:00:00.000'),
    (4, 'Edsger',  'Dijkstra', 'edsger.dijkstra@example.com', '4 Demo Street, Springfield', 'bronze',  '2026-01-01 00:00:00.000'),
    (5, 'Barbara', 'Liskov',   'barbara.liskov@example.com', '5 Demo Street, Springfield', 'gold',     '2026-01-01 00:00:00.000'),
    (6, 'Donald',  'Knuth',    'donald.knuth@example.com',   '6 Demo Street, Springfield', 'silver',   '2026-01-01 00:00:00.000'),
    (7, 'Frances', 'Allen',    'frances.allen@example.com',  '7 Demo Street, Springfield', 'gold',     '2026-01-01 00:00:00.000'),
    (8, 'Tony',    'Hoare',    'tony.hoare@example.com',     '8 Demo Street, Springfield', 'silver',   '2026-01-01 00:00:00.000'),
    (9, 'Radia',   'Perlman',  'radia.perlman@example.com',  '9 Demo Street, Springfield', 'bronze',   '2026-01-01 00:00:00.000');

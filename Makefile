# Two commands on a fresh machine: `make run` and `make test`. Settings come from the
# environment (see README.md), e.g. `KAFKA_PORT=9192 make run`.

VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: install broker-jars registry-app connect-jars servers run run-connect psql worker trace rebuild check schemas-check schemas-export mailbox test bench bench-recovery soak clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,local]'
	touch $@

## install: the project and its test tools into .venv
install: $(INSTALLED)

## broker-jars: Apache Kafka's jars from Maven Central into the cache (once)
broker-jars: install
	$(PY) -m app.broker fetch

## registry-app: Apicurio Registry (the local schema registry) from Maven Central into the cache (once)
registry-app: install
	$(PY) -m app.registry fetch

## connect-jars: Kafka Connect's jars and plugins (Debezium, this project's converter) into the cache (once)
connect-jars: install
	$(PY) -m app.connect fetch

## servers: what the local broker, schema registry and Connect worker run
servers: broker-jars registry-app connect-jars

## run: the local broker (unless KAFKA_BOOTSTRAP is set), schema registry (unless SCHEMA_REGISTRY_URL is set), one worker, the demo data
run: servers
	$(PY) -m app.run

## run-connect: `make run` plus PostgreSQL (unless DATABASE_URL is set), Kafka Connect (unless CONNECT_URL is set) and the CDC and JDBC connectors
run-connect: servers
	$(PY) -m app.run --connect

## psql: psql on the legacy database (`make psql SQL="SELECT * FROM orders"`; interactive without SQL)
psql: install
	$(PY) -m app.postgres psql $(if $(SQL),-c "$(SQL)")

## worker: one more worker for a running app (defaults: the broker `make run` started, port 6067)
worker: export KAFKA_BOOTSTRAP ?= 127.0.0.1:$(or $(KAFKA_PORT),9092)
worker: export WEB_PORT ?= 6067
worker: export DATA_DIR ?= var/worker-$(WEB_PORT)
worker: install
	$(VENV)/bin/faust -A app worker -l info

## trace: an order's records on the order-keyed topics (`make trace ORDER=order-1`)
trace: install
	$(VENV)/bin/faust -A app trace $(ORDER)

## rebuild: a view rebuilt from the log and compared with the live table (`make rebuild VIEW=stock`, `APPLY=1` to repair)
rebuild: install
	$(VENV)/bin/faust -A app rebuild $(VIEW) $(if $(APPLY),--apply)

## check: every view rebuilt from the log; fails on any key that differs from the live table
check: install
	$(VENV)/bin/faust -A app check

## schemas-check: compare the code's record schemas with the registry's; fails on a breaking change
schemas-check: install
	$(VENV)/bin/faust -A app schemas check

## schemas-export: write the code's record schemas to DIR (default: schemas), one file per subject
schemas-export: install
	$(VENV)/bin/faust -A app schemas export $(or $(DIR),schemas)

## mailbox: a local SMTP server that prints every email it gets (for `SMTP_HOST=127.0.0.1 SMTP_PORT=8025 make run`)
mailbox: install
	$(PY) -m aiosmtpd -n -l 127.0.0.1:$(or $(SMTP_PORT),8025)

## test: every test, the ones against the real broker included
test: servers
	$(PY) -m pytest $(PYTEST_ARGS)

## bench: one worker's throughput, latency at 300/s and the broker's floor; a row in BENCHMARKS.md
bench: servers
	$(PY) -m bench pipeline $(BENCH_ARGS)

## bench-recovery: cold restore of 1,000,000 keys, warm restart, memory per key, one worker vs two
bench-recovery: servers
	$(PY) -m bench recovery $(BENCH_ARGS)

## soak: one worker for SOAK_MINUTES (10) at half its maximum rate; RSS growth and lag to BENCHMARKS.md
soak: servers
	$(PY) -m bench soak --minutes $(or $(SOAK_MINUTES),10)

## clean: remove local state (broker data, table stores, logs); keeps .venv and the jar cache
clean:
	rm -rf var

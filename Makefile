# The two commands of the README: `make run` and `make test`. The rest are conveniences.
.PHONY: run test fuzz lint format openapi bench

run:
	@scripts/run.sh

test:
	@scripts/test.sh $(ARGS)

# The contract test at length: schemathesis sends CONTRACT_EXAMPLES cases per operation and
# caller (docs/reliability.md).
fuzz:
	@CONTRACT_EXAMPLES=$${CONTRACT_EXAMPLES:-250} scripts/test.sh tests/contract -q

lint:
	@.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	@.venv/bin/ruff check --fix . && .venv/bin/ruff format .

openapi:
	@.venv/bin/flask --app wsgi openapi write --format=json openapi/openapi.json

bench:
	@benchmarks/run.sh devices

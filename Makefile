# The two commands of the README: `make run` and `make test`. Everything else is what they need.
.PHONY: run test setup train lint typecheck pytest bench clean

export RASA_TELEMETRY_ENABLED := false

run: setup
	.venv/bin/hotline run

# The model is trained (with Rasa's progress shown) before pytest, which would otherwise train it silently.
test: setup lint typecheck train pytest

setup:
	@bash scripts/bootstrap.sh

train: setup
	.venv/bin/hotline train

lint:
	.venv/bin/ruff check hotline bot actions tests
	.venv/bin/ruff format --check hotline bot actions tests

typecheck:
	.venv/bin/mypy

# pytest exits 5 when it collected no test: that is a failure here, like any other non-zero exit.
pytest:
	.venv/bin/python -m pytest

bench: setup
	.venv/bin/hotline bench nlu

clean:
	rm -rf .venv .venv-rasa models var .mypy_cache .ruff_cache .pytest_cache

# The README's commands. Everything runs from the project virtualenv that scripts/setup.sh creates.
.PHONY: setup demo plan test lint

setup:
	@scripts/setup.sh

# Set up, then the main job on the embedded defaults: the offline plan of dev and the lakehouse demo.
demo: setup
	.venv/bin/spk plan dev
	.venv/bin/spk demo

plan: setup
	.venv/bin/spk plan dev

lint: setup
	.venv/bin/ruff check .

# Set up, lint, and run every test (Pulumi program under mocks, schema/promtool/checkov proofs, local Spark).
test: lint
	.venv/bin/pytest -q

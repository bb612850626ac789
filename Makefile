# The README's commands. Each target first runs scripts/setup.sh with the profile it needs (see that script):
# it installs only what is missing, so after the first run it takes seconds.
.PHONY: setup demo plan test lint

# Everything any target needs (the `test` profile).
setup:
	@scripts/setup.sh test

# Set up, then the main job on the embedded defaults: the offline plan of dev and the lakehouse demo.
demo:
	@scripts/setup.sh demo
	.venv/bin/spk plan dev
	.venv/bin/spk demo

plan:
	@scripts/setup.sh plan
	.venv/bin/spk plan dev

# ruff, the layer contracts of pyproject.toml ([tool.importlinter]), and basedpyright over the program, the CLI and
# the policy pack ([tool.basedpyright]): every resource's arguments type-checked against the provider SDKs.
LINT = .venv/bin/ruff check . && .venv/bin/lint-imports --no-cache && .venv/bin/basedpyright

lint:
	@scripts/setup.sh lint
	$(LINT)

# Set up, lint, and run every test (Pulumi program under mocks, schema/promtool/checkov proofs, local Spark).
test:
	@scripts/setup.sh test
	$(LINT)
	.venv/bin/pytest -q

# The upstream schemas (Chart.yaml, values.yaml, CRDs) of every chart version the stacks pin, fetched with helm
# into .cache/schemas; tests look in $SPK_SCHEMAS_DIR, then ../shared/schemas, then there.
.PHONY: schemas
schemas:
	@scripts/setup.sh plan
	@scripts/fetch-schemas.sh

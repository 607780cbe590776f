# distrom: `make demo` and `make test` work on a fresh Debian machine (as root, or with sudo).
PY := .venv/bin/python
export OMPI_ALLOW_RUN_AS_ROOT := 1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM := 1
export OMPI_MCA_rmaps_base_oversubscribe := 1

.PHONY: setup test demo bench clean

setup:
	@bash scripts/setup.sh

test: setup
	@bash scripts/run_tests.sh

demo: setup
	@bash examples/quickstart/run.sh

bench: setup
	$(PY) -m benchmarks all

clean:
	rm -rf build *.egg-info demo-output

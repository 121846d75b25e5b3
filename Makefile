# sim2real: two commands.  `make demo` runs the whole loop; `make test` runs the suite.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test readme lint install clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e ".[all]"
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	MUJOCO_GL=$${MUJOCO_GL:-egl} $(VENV)/bin/sim2real demo

# The suite runs on TEST_WORKERS processes (pytest-xdist, a test file at a time so that a module's
# fixtures are built once, the longest first: tests/conftest.py orders them by their `slow` marks),
# but for the tests marked `serial`
# (wall-clock pacing, a ROS 2 graph), which run alone afterwards so no other test's load
# bends their timing.  The first part names the serial tests' files (tests/serial_files.py), so the
# second collects those alone, not the whole suite again; with no list it collects everything.
# Both parts always run; the target fails if either did.
TEST_WORKERS ?= 2

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	@status=0; serial=$$(mktemp); \
	SIM2REAL_SERIAL_FILES=$$serial $(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not serial and not readme" || status=1; \
	$(PY) -m pytest -q -m "serial and not readme" $$(cat $$serial) || status=1; \
	rm -f $$serial; exit $$status

# The README's loop by hand, every command as printed, in an empty folder (trains a policy: minutes).
readme: $(STAMP)
	$(PY) -m pytest -q -s -m readme tests/test_readme.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info

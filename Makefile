# Everything a new machine needs, from Python 3.11+ alone.
# `make run` sets up and forms clusters on the bundled Hampshire sample;
# `make app` sets up and serves the Streamlit explorer on http://127.0.0.1:8501;
# `make test` sets up and runs the whole test suite (lint included).

PYTHON ?= python3
TOOLS  := .tools
UV     := $(TOOLS)/bin/uv
VENV   := .venv
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup run app test lint clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --extra dev --extra app --python $(PYTHON)
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/clustering form data/sample/hampshire_primary_schools_2022.csv --out out/hampshire

lint: setup
	$(VENV)/bin/ruff check clustering tests bench app.py explorer
	$(VENV)/bin/ruff format --check clustering tests bench app.py explorer

app: setup
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.headless true \
		--server.maxUploadSize 20 --browser.gatherUsageStats false

test: lint
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) $(TOOLS) out .pytest_cache .ruff_cache .hypothesis

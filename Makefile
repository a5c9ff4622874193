# Two commands on a fresh machine (Python 3.11, no GPU):  make demo   and   make test
# PAPER=counting|instance_disc|local_aggregation|classification|revisiting runs one paper alone.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PAPER  ?= all
DATA   ?= data/toy

.PHONY: setup demo test bench clean-data

setup: $(VENV)/.done

$(VENV)/.done: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -q -r requirements.txt
	$(PIP) install -q --no-build-isolation nvidia-dali-tf-plugin-cuda120==2.4.0
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

demo: setup
	$(PY) -m demo --data $(DATA) --paper $(PAPER)

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) -m bench.input --data $(DATA)/records

clean-data:
	rm -rf $(DATA)

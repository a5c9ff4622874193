# Two commands on a fresh machine (Python 3.11, g++, make; no GPU, no CUDA toolkit):  make demo   and   make test
# PAPER=counting|instance_disc|local_aggregation|classification|revisiting runs one paper alone.
# GPU machine (CUDA 12 driver): make setup-gpu adds TensorFlow's CUDA libraries and faiss-gpu to the same .venv.
# Model zoo (published weights): make setup-zoo adds PyTorch, CPU build (only its tests need it), to the same .venv.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
PAPER  ?= all
DATA   ?= data/toy
OUT    ?= gpu_check_out
# Compiled against the installed TensorFlow, so installed after it with --no-build-isolation.
DALI_TF_PLUGIN := nvidia-dali-tf-plugin-cuda120==2.4.0
# CUDA headers for the plugin's build: TensorFlow's wheel carries them (no CUDA toolkit needed).
TF_CUDA_INCLUDE = $$($(PY) -c 'import importlib.util, os; \
	print(os.path.join(importlib.util.find_spec("tensorflow").submodule_search_locations[0], \
	"include", "third_party", "gpus", "cuda", "include"))')
PLUGIN_OK = $(PY) -c 'import nvidia.dali.plugin.tf' >/dev/null 2>&1

.PHONY: setup deps setup-gpu setup-zoo demo test bench gpu-check clean-data

setup: $(VENV)/.done

# The project itself, editable, over the installed dependencies.
$(VENV)/.done: $(VENV)/.deps pyproject.toml
	$(PIP) install -q --no-deps --no-build-isolation -e .
	touch $@

# Dependencies only (the Docker images install them before copying the sources, for layer caching).
deps: $(VENV)/.deps

$(VENV)/.deps: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip wheel setuptools
	$(PIP) install -q -r requirements.txt
	@echo "setup: building $(DALI_TF_PLUGIN) against the installed TensorFlow"
	@CPATH="$(TF_CUDA_INCLUDE)$${CPATH:+:$$CPATH}" $(PIP) install -q --no-build-isolation $(DALI_TF_PLUGIN) \
		> $(VENV)/dali-tf-plugin.log 2>&1 && $(PLUGIN_OK) \
		|| { $(PIP) uninstall -q -y $(firstword $(subst ==, ,$(DALI_TF_PLUGIN))) >/dev/null 2>&1; \
		     echo "setup: the DALI TensorFlow plugin could not be built (see $(VENV)/dali-tf-plugin.log); the tf.data reader will be used"; }
	@rm -f $(VENV)/.gpu-done  # faiss-cpu was reinstalled over faiss-gpu: make setup-gpu redoes the GPU extras
	touch $@

setup-gpu: $(VENV)/.gpu-done

$(VENV)/.gpu-done: $(VENV)/.deps requirements-gpu.txt
	$(PIP) uninstall -q -y faiss-cpu faiss-gpu-cu12  # both own the module `faiss`: reinstall the GPU one alone
	$(PIP) install -q -r requirements-gpu.txt
	$(PLUGIN_OK) || CPATH="$(TF_CUDA_INCLUDE)$${CPATH:+:$$CPATH}" $(PIP) install -q --no-build-isolation $(DALI_TF_PLUGIN)
	$(PY) -c 'import faiss, nvidia.dali.plugin.tf; assert hasattr(faiss, "StandardGpuResources"), "faiss without GPU support"'
	touch $@

# The model zoo's optional PyTorch (requirements-zoo.txt). The zoo's tests need only the CPU build. On a
# machine whose pip finds no CPU wheel, PyPI's default torch wheel is the CUDA build (several GB): pass
# TORCH_INDEX=<PyTorch's CPU wheel index> to take the CPU build from there instead.
TORCH_INDEX ?=
setup-zoo: $(VENV)/.zoo-done

$(VENV)/.zoo-done: $(VENV)/.done requirements-zoo.txt
	$(PIP) install -q $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX)) -r requirements-zoo.txt
	$(PY) -c 'import torch; print("setup-zoo: torch", torch.__version__)'
	touch $@

demo: setup
	$(PY) -m demo --data $(DATA) --paper $(PAPER)

test: setup
	$(PY) -m pytest -q tests

bench: setup
	$(PY) -m bench.input --data $(DATA)/records

gpu-check: setup
	$(PY) -m bench.gpu_check --out $(OUT)

clean-data:
	rm -rf $(DATA)

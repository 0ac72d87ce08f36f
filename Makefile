# make run   : synthetic data -> simulated pseudo depth -> baseline vs naive vs staged (cpu profile, seed 0),
#              beside the paper and the shipped reference (no gradient diagnostics: they never change a result)
# make test  : the whole test suite, notebooks included (ci profile)
# make lab   : JupyterLab on the notebooks
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mdseg-installed
export MPLBACKEND ?= Agg

.PHONY: run test lab install clean rehearse browser-test

# TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu installs the CPU-only torch first (about 1 GB instead of
# about 6 GB with the CUDA libraries); unset, pip takes its default build, which works everywhere.
TORCH_INDEX_URL ?=

$(STAMP): pyproject.toml
	@echo "Installing mdseg and everything it needs into $(VENV): a few minutes the first time (torch is large)."
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(if $(TORCH_INDEX_URL),$(PY) -m pip install torch torchvision --index-url $(TORCH_INDEX_URL))
	$(PY) -m pip install -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m mdseg reproduce --profile cpu --seeds 0 --beside-reference --diagnose-every 0 \
		--recipes single-decoder naive-joint "depth-first/copy/s->b" --out runs/cpu

test: $(STAMP)
	$(PY) -m pytest -q tests
	MDSEG_PROFILE=ci $(PY) -m pytest -q -p no:cacheprovider --nbval-lax --nbval-current-env --nbval-cell-timeout=600 notebooks

lab: $(STAMP)
	$(PY) -m pip install --quiet --progress-bar off -e ".[dev,lab]"
	MPLBACKEND= $(VENV)/bin/jupyter lab notebooks

clean:
	rm -rf runs data/synthetic-ci

# make rehearse VOC_SAMPLES=DIR : a Colab session rehearsed offline on the real VOC images in DIR (a folder
# holding VOCdevkit): download, checksum, DPT-DINOv2 depth, every colab recipe, export, notebooks 01-06
rehearse: $(STAMP)
	@test -n "$(VOC_SAMPLES)" || { echo "make rehearse VOC_SAMPLES=DIR (a folder holding VOCdevkit with a few real VOC images)"; exit 2; }
	$(PY) -m mdseg rehearse colab --samples $(VOC_SAMPLES) --notebooks notebooks

# make browser-test : notebook 05's explorer in JupyterLab and headless Chromium (apt-get install chromium first);
# screenshots of the explorer before and after its slider moves land in runs/browser-shots
browser-test: $(STAMP)
	$(PY) -m pip install --quiet --progress-bar off -e ".[dev,browser]"
	@mkdir -p runs/browser-shots
	MDSEG_BROWSER_SHOTS=$(CURDIR)/runs/browser-shots $(PY) -m pytest -q -rs tests/test_browser.py

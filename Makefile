# The two set-up commands of the README: `make demo` (main job) and `make test` (tests).
# Each creates .venv and installs what it needs when missing: `make demo` the package alone
# (what the demo needs), `make test` and the other targets the package with every extra (dev).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
TORCH := "torch>=2.1,<=2.14.1" "torchvision>=0.16,<=0.29.1"
# OpenMP threads that spin while waiting waste a shared CPU (measured 5x slower training steps).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test test-slow lint typecheck docs docs-tables bench dist reproduce-quick seeds five seeds-224 full-cpu retrain device-bundle venv \
	clean

# $(call install,TARGET): the virtual environment, torch, then `pip install -e TARGET`.
define install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e "$(1)"
	touch $@
endef

$(STAMP): pyproject.toml
	$(call install,.[dev])

$(DEMO_STAMP): pyproject.toml
	$(call install,.)

venv: $(STAMP)

demo: $(DEMO_STAMP)
	$(BIN)/causalcam demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks docs/hooks.py vulture_allowlist.py
	$(BIN)/ruff format --check src tests benchmarks docs/hooks.py vulture_allowlist.py
	$(BIN)/vulture src/causalcam vulture_allowlist.py --min-confidence 60

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck docs
	$(BIN)/python -m pytest -n auto

# The documentation site into site/ (git-ignored; open site/index.html, it works offline).
# --strict: a broken link, a missing page or an unresolved API reference fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

# Rewrite the results tables of README.md and docs/*.md from docs/results/ (a test fails
# when a page and its results disagree).
docs-tables: $(STAMP)
	$(BIN)/python -m causalcam.report.doc_tables

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

# The sdist and wheel (sdist first, the wheel built from it), checked as PyPI would.
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist
	$(BIN)/python -m twine check --strict dist/*

bench: $(STAMP)
	$(BIN)/python benchmarks/explain_speed.py
	$(BIN)/python benchmarks/evaluate_speed.py
	$(BIN)/python benchmarks/train_speed.py

# The reproduction study on a CPU (docs/reproduction.md). Both resume when interrupted.
DATA ?= ../shared/covid-ct
reproduce-quick: $(STAMP)
	$(BIN)/causalcam reproduce --profile quick --data $(DATA) --out runs/quick

# The ablation over three training seeds of the CPU-profile ResNet-18: seed 0 is the
# embedded model; seeds 1 and 2 are trained here (about 12 min each on an idle 2-core CPU).
seeds: $(STAMP)
	for seed in 1 2; do \
	  $(BIN)/causalcam train --arch resnet18 --recipe cpu --seed $$seed --data $(DATA) \
	    --out runs/resnet18-cpu-s$$seed --resume --quiet || exit 1; \
	done
	$(BIN)/python benchmarks/ablation.py --out runs/quick/seeds --thresholds cpu --data $(DATA) \
	  --checkpoint src/causalcam/assets/models/resnet18_covidct_112.pt \
	  --checkpoint runs/resnet18-cpu-s1/best.pt --checkpoint runs/resnet18-cpu-s2/best.pt
	$(BIN)/causalcam report runs/quick

# The reproduction's 224 px networks are committed under weights/ (fp16, each with a record:
# recipe, seed, epochs, accuracies, SHA-256, training command). `make full-cpu` runs the
# protocol on them and on the bundled ResNet-18 without training anything.
WEIGHTS ?= weights
# Train a network again from its record (`make retrain NAMES=resnet34,resnet18-seed1`):
# the recorded recipe, seed and epochs, into runs/retrain/NAME; rerun to resume.
NAMES ?= $(shell ls $(WEIGHTS)/*.json 2>/dev/null | xargs -n1 basename 2>/dev/null | sed 's/\.json$$//' | paste -sd, -)
THREADS ?= 2
retrain: $(STAMP)
	$(BIN)/causalcam weights retrain $(NAMES) --weights $(WEIGHTS) --data $(DATA) --threads $(THREADS)

# The four other networks of Tables 1-2 from scratch (hours of a CPU each): those committed
# under weights/ again from their records (recipe, seed and epochs), the others with the planned
# recipe (the bundled model's, with the first 60% of 110 epochs at 128 px), each then exported
# by `causalcam weights export RUN/ARCH --name ARCH`. To use two cores, give each process its
# own networks: `make retrain NAMES=resnet34 THREADS=1` beside `make retrain NAMES=resnet50 ...`.
FIVE_OUT ?= runs/full-cpu/models
SEEDS_OUT ?= runs/full-cpu/seed-models
FULL_TRAIN = --data $(DATA) --recipe scratch --set mixup=0.2 --epochs 120 --precision bf16 \
  --threads $(THREADS) --device cpu
FIVE_TRAIN = --data $(DATA) --recipe scratch --set mixup=0.2 --set early_size=128 \
  --set early_share=0.6 --epochs 110 --precision bf16 --threads $(THREADS) --device cpu
BUNDLED_224 = src/causalcam/assets/models/resnet18_covidct_224.pt
five: $(STAMP)
	for arch in resnet34 resnet50 densenet121 densenet169; do \
	  if test -f $(WEIGHTS)/$$arch.json; then \
	    $(BIN)/causalcam weights retrain $$arch --weights $(WEIGHTS) --data $(DATA) \
	      --threads $(THREADS) || exit 1; \
	  else \
	    $(BIN)/causalcam train-all --out $(FIVE_OUT) --archs $$arch $(FIVE_TRAIN) || exit 1; \
	  fi; \
	done

seeds-224: $(STAMP)
	for seed in 1 2; do \
	  test -f $(WEIGHTS)/resnet18-seed$$seed.json || \
	  $(BIN)/causalcam train-all --archs resnet18 --seed $$seed --out $(SEEDS_OUT)/seed$$seed \
	    $(FULL_TRAIN) || exit 1; \
	done

# The protocol at 224 px on the committed networks (resumable stage by stage), then the seed
# study over the three ResNet-18s on the ablation's thresholds. Its per-image curves go to a
# committed store, so the study resumes on another machine from the curves already there.
full-cpu: $(STAMP)
	$(BIN)/causalcam reproduce --profile full-cpu --weights $(WEIGHTS) --data $(DATA) \
	  --out runs/full-cpu --precision fp32 --reuse docs/results/full-cpu
	$(BIN)/python benchmarks/ablation.py --out runs/full-cpu/seeds --thresholds full-cpu \
	  --store docs/results/full-cpu/seed-curves --data $(DATA) --checkpoint $(BUNDLED_224) \
	  --checkpoint $(WEIGHTS)/resnet18-seed1.pt --checkpoint $(WEIGHTS)/resnet18-seed2.pt
	$(BIN)/causalcam report runs/full-cpu --metrics docs/results/metrics/resnet18_covidct_224

# What one call of the GPU machine needs beside the code (docs/reproduction.md, "On a GPU"):
# the data set packed at 224 px (the image folder is over what a call carries) and wheels of
# the grad-cam package, which that machine lacks, for the speed comparison.
device-bundle: $(STAMP)
	$(BIN)/causalcam data pack runs/device/covidct-224.ccpack --data $(DATA) --size 224
	$(BIN)/python -m pip wheel -q --no-deps "grad-cam==1.5.7" "ttach==0.0.3" -w runs/device/wheels

clean:
	rm -rf $(VENV) build dist site .pytest_cache .mypy_cache .ruff_cache

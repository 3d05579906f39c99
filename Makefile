# The two set-up commands of the README: `make demo` (main job) and `make test` (tests).
# Each creates .venv and installs what it needs when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# OpenMP threads that spin while waiting waste a shared CPU (measured 5x slower training steps).
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: demo test test-slow lint typecheck bench dist reproduce-quick seeds five seeds-224 full-cpu device-bundle venv \
	clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "torch>=2.1,<=2.14.1" "torchvision>=0.16,<=0.29.1"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/causalcam demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/vulture src/causalcam vulture_allowlist.py --min-confidence 60

typecheck: $(STAMP)
	$(BIN)/mypy

test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

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

# The reproduction study on this CPU (README, "Reproduction"). Both resume when interrupted.
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

# The four networks beside the bundled 224 px ResNet-18 (seed 0 of the same recipe) in bf16
# (hours of a CPU each), where the full-cpu profile looks for them, and two more ResNet-18
# seeds for the seed study at that scale. Rerun to resume:
# finished networks are skipped and a started one continues from its last epoch. Then the
# protocol at that scale (resumable stage by stage; masked images classified in bf16, maps
# in fp32) and the seed study over the three ResNet-18s on the ablation's thresholds.
FIVE_OUT ?= runs/full-cpu/models
SEEDS_OUT ?= runs/full-cpu/seed-models
# Two `make five THREADS=1` (or one `make five` beside `make seeds-224 THREADS=1`) share the
# two cores: each network is trained by one process at a time (a lock in its folder).
THREADS ?= 2
FULL_TRAIN = --data $(DATA) --recipe scratch --set mixup=0.2 --epochs 120 --precision bf16 \
  --threads $(THREADS) --device cpu
BUNDLED_224 = src/causalcam/assets/models/resnet18_covidct_224.pt
five: $(STAMP)
	$(BIN)/causalcam train-all --out $(FIVE_OUT) --archs resnet34,resnet50,densenet121,densenet169 \
	  $(FULL_TRAIN)

seeds-224: $(STAMP)
	for seed in 1 2; do \
	  $(BIN)/causalcam train-all --archs resnet18 --seed $$seed --out $(SEEDS_OUT)/seed$$seed \
	    $(FULL_TRAIN) || exit 1; \
	done

full-cpu: five seeds-224
	$(BIN)/causalcam reproduce --profile full-cpu --data $(DATA) --out runs/full-cpu --precision bf16
	$(BIN)/python benchmarks/ablation.py --out runs/full-cpu/seeds --thresholds full-cpu \
	  --store runs/full-cpu/eval --data $(DATA) --checkpoint $(BUNDLED_224) \
	  --checkpoint $(SEEDS_OUT)/seed1/resnet18/best.pt --checkpoint $(SEEDS_OUT)/seed2/resnet18/best.pt
	$(BIN)/causalcam report runs/full-cpu

# What one call of the GPU machine needs beside the code (docs/reproduction.md, "On a GPU"):
# the data set packed at 224 px (the image folder is over what a call carries) and wheels of
# the grad-cam package, which that machine lacks, for the speed comparison.
device-bundle: $(STAMP)
	$(BIN)/causalcam data pack runs/device/covidct-224.ccpack --data $(DATA) --size 224
	$(BIN)/python -m pip wheel -q --no-deps "grad-cam==1.5.7" "ttach==0.0.3" -w runs/device/wheels

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache

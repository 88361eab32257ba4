# Quick start:  make demo   (whole pipeline on the offline digits data, about 4.5 minutes on 2 idle CPU cores)
#               make test   (lint, unit tests, end-to-end dvc repro on a tiny configuration)
#               make seeds SEEDS="0 1 2" [EXP_PARAMS="-S ..."]   (one DVC experiment per seed, then their summary)
#               make bench  (the benchmarks of BENCHMARKS, each recorded in results/benchmarks/)
#               make results (each run's results page, the README's headline block, docs/method.md's tables and
#                             the outputs quoted in docs/benchmarks.md, from the records in results/)
# Each creates the virtual environment from requirements.txt first.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
export PATH := $(abspath $(BIN)):$(PATH)

# The demo: the full pipeline, with params overridden for the bundled digits data and a CPU budget.
# Unstructured at 80 %: the demo's 4 recovery epochs of 1,237 digits are 40 training steps, too few to bring
# a 90 % sparse model back. Fewer sensitivity levels and trade-off points than the full run (6, not 12
# sparsities; 3, not 9 filter ratios; 3 + 2, not 7 + 5 targets), batch-norm recalibration on 4 batches, not
# 20 (the digits' training split holds 9), fewer timing rounds and fewer Grad-CAM images keep the demo short:
# its timings and attention metrics show what the stages report, not measurements to quote. The model is VGG-11
# at 0.625 width (40 ... 320 filters, 0.39x the MACs): 8x8 digits need no more, and the demo's `dvc exp run` takes
# about 260 s on 2 idle cores (full width: about 390 s). Narrower saves more (0.5: about 190 s), but int8's gain
# shrinks toward each operator's fixed cost there (structured_finetuned in int8 against the original in float:
# 5.1x at 0.5, 6.0x at 0.625, 6.3x at full width).
DEMO_PARAMS := -S data.source=digits -S data.val_size=200 -S model.width=0.625 -S finetune.epochs=10 \
	-S unstructured_prune.target=0.8 -S unstructured_prune.gradual_every=2 -S recovery.epochs=4 \
	-S timing.latency_runs=100 -S timing.throughput_runs=3 \
	-S gradcam.agreement_images=200 -S gradcam.faithfulness_images=30 \
	-S 'unstructured_sensitivity.sparsities=[0.3,0.5,0.7,0.9,0.95,0.99]' \
	-S 'unstructured_tradeoff.targets=[0.5,0.8,0.95]' -S 'structured_tradeoff.targets=[0.35,0.65]' \
	-S 'structured_sensitivity.ratios=[0.25,0.5,0.75]' \
	-S unstructured_prune.bn_recalibration_batches=4 -S structured_prune.bn_recalibration_batches=4

# The seed sweep (docs/seeds.md): one DVC experiment per seed, named $(PREFIX)-seed<k>, each with the same
# EXP_PARAMS, run one after another in the workspace, then collected by tools.seeds into reports/seeds/.
# Sequential rather than `dvc exp run --queue` + `dvc queue start`: a failure stops the sweep at once with the
# stage's error on this terminal, and make returns when every result is in (the queue's workers run on in the
# background). DVC refuses an experiment name it already has: a second sweep takes another PREFIX.
#   make seeds SEEDS="0 1 2" EXP_PARAMS="-S data.source=digits -S finetune.epochs=15" PREFIX=digits
SEEDS := 0 1 2
PREFIX := seeds
EXP_PARAMS :=

.PHONY: setup test demo bench seeds results
# The environment: the Python packages, then the plots page's libraries (vega, vega-lite, vega-embed from npm, the
# versions web/package-lock.json pins, in web/node_modules) inlined into the page template `dvc plots show` and
# `dvc plots diff` fill (web/build/plots.html, plots.html_template in .dvc/config): the page draws offline.
setup: $(VENV)/.installed
$(VENV)/.installed: requirements.txt web/package.json web/package-lock.json web/plots.html web/inline.py
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt
	@command -v npm >/dev/null || { echo "make setup needs npm (Node.js) for the plots page's libraries:" \
		"apt-get install npm, or https://nodejs.org"; exit 1; }
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	$(PY) web/inline.py
	touch $@

test: setup
	$(BIN)/ruff check .
	$(PY) -m pytest tests -q -n auto --dist loadfile  # the end-to-end file on one worker (its two runs paid once)

demo: setup
	@test -d .git || { echo "make demo needs the git clone of this project (dvc exp run records an experiment)"; exit 1; }
	@# A clone that has never run the pipeline (no dvc.lock) has no recorded output to check out, and DVC's
	@# experiment checkout says so once per declared output ("No file hash info found for ... It won't be
	@# created"); exactly those lines are dropped then, and only then. Every other line passes.
	set -o pipefail; time dvc exp run $(DEMO_PARAMS) 2>&1 | if [ -f dvc.lock ]; then cat; \
		else grep --line-buffered -v "^WARNING: No file hash info found for '.*'. It won't be created.$$"; fi
	@echo; cat reports/comparison.md; echo
	@echo "Demo finished. Models in models/, one metrics row per variant in reports/metrics/ (dvc metrics show),"
	@echo "evaluations in reports/eval/, timing in reports/timing.json, figures in"
	@echo "reports/*.png (Grad-CAM: reports/grad_cam_comparison.png)."
	@echo "NOTE: params.yaml now holds the demo's settings (git diff params.yaml); the run is also"
	@echo "saved as a DVC experiment (dvc exp show). Return to the CIFAR-10 defaults: git checkout params.yaml"
	@echo; echo "All curves and figures on one page, drawn offline (dvc plots show; open it in a browser):"
	@dvc plots show

seeds: setup
	@git rev-parse --git-dir >/dev/null 2>&1 || { echo "make seeds needs the git clone of this project"; exit 1; }
	set -e; for k in $(SEEDS); do \
		echo "== seed $$k: dvc exp run --name $(PREFIX)-seed$$k -S seed=$$k $(EXP_PARAMS)"; \
		dvc exp run --name $(PREFIX)-seed$$k -S seed=$$k $(EXP_PARAMS); \
	done
	$(PY) -m tools.seeds --prefix $(PREFIX) --seeds $(SEEDS) --out-dir reports/seeds
	@echo "NOTE: params.yaml now holds the last seed's settings (git diff params.yaml); every seed is a DVC"
	@echo "experiment (dvc exp show). Return to the defaults: git checkout params.yaml"

# Each benchmark's output, under its command and the machine, is recorded in results/benchmarks/<name>.txt,
# which `make results` quotes in docs/benchmarks.md. Run it on idle cores.
BENCHMARKS := bench_loops bench_determinism bench_sweep bench_runtime_switch bench_round_to bench_timing
bench: setup
	@mkdir -p results/benchmarks
	set -o pipefail; for b in $(BENCHMARKS); do { echo "$$ python -m benchmarks.$$b"; \
		echo "# $$(nproc) cores of $$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
		"$$($(PY) -c 'import torch; from lib.precision import cpu_has_bf16 as bf16; \
		print(f"bf16 arithmetic: {bf16()}, torch {torch.__version__}")')"; \
		$(PY) -m benchmarks.$$b; } | tee results/benchmarks/$$b.txt; done

results: setup
	$(PY) -m tools.results render

# The course's commands. Each target sets itself up first (tools/setup.sh: .venv and data, idempotent).
.PHONY: setup course site test browser-test lab bench results gpu-check nbs colab clean
SHELL := /bin/bash
export OMP_WAIT_POLICY ?= PASSIVE   # idle OpenMP threads sleep rather than spin (see tools/test.sh)

setup:
	@bash tools/setup.sh

course: setup           ## run every lesson in order (quick without a GPU, FULL=1 for full mode); writes _out/
	@.venv/bin/python tools/run_course.py $(if $(FULL),--full,) $(if $(QUICK),--quick,) $(NB)

site: setup             ## the executed lessons as a static HTML course in _site/ (runs in quick mode those not yet in _out/ or older than their notebook)
	@.venv/bin/python tools/site.py

test: setup             ## the CI contract: notebooks clean, library in sync, nbdev_test, pytest
	@bash tools/test.sh

lab: setup              ## JupyterLab on this venv
	.venv/bin/jupyter lab --notebook-dir=nbs

bench: setup            ## benchmarks, each printing its ratios; a full run (not BENCH_QUICK=1) keeps its figures in results/bench/
	@.venv/bin/python tools/bench.py $(B)

results: setup          ## README's measured tables from results/ (after make course FULL=1 or make bench)
	@.venv/bin/python tools/results_table.py

gpu-check: setup        ## on a GPU machine (Colab, Puhti, a desktop): device, precision, each fit path, resume, DDP; one table
	@.venv/bin/python tools/gpu_check.py $(if $(QUICK),--quick,)

browser-test: setup     ## headless Chromium: JupyterLab (lessons open unmodified, Run All shows no errors/stderr, figures render) and the static site (make site)
	@bash tools/browser_setup.sh
	@MLCOURSE_QUICK=1 .venv/bin/python -m pytest -q -s --tb=short tests/browser

nbs: setup              ## after editing notebooks: clean them and export the library
	.venv/bin/nbdev_clean && .venv/bin/nbdev_export

colab: setup            ## after forking: point every install cell and Colab badge at settings.ini's user/repo/branch
	.venv/bin/python tools/colab.py sync && .venv/bin/nbdev_clean

clean:
	rm -rf .venv _out _proc .setup.log

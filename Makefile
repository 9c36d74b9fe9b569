# The verbs people type. Each one only parses arguments and calls the toolchain library
# (python -m coursetools ...); defaults live in the library, not here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
JOBS   ?= 2
ENGINE ?= local

.PHONY: help setup data test release-module release-all grade grade-batch report milestone benchmark validate site ta-guide lessons nbgrader distribute collect import-gradescope clean

help:
	@echo "make setup                                   create $(VENV) with everything, tinytorch editable"
	@echo "make data                                    datasets into \$$TINYTORCH_DATA or ~/.tinytorch/data (mirror or download)"
	@echo "make test                                    run every test (framework, toolchain, strip check)"
	@echo "make release-module MODULE=01                skeleton + solution repo + grader bundles in dist/"
	@echo "make release-all                             every released module"
	@echo "make grade MODULE=01 SUBMISSION=dir [RESULTS=file]   grade one submission like Gradescope"
	@echo "make milestone M=04 [ARGS=--quick]           run a milestone"
	@echo "make benchmark [ARGS='--threads N --workers N']   CNN + GPT steps: module 09/13 path, accelerated path, PyTorch-CPU if installed"
	@echo "make site [SUBMISSIONS=dir]                  the course website into dist/site/ (offline; open dist/site/index.html)"
	@echo "make ta-guide [GRADE='01 02'|all]            docs/guides/ta.md (GRADE: first grade those modules' mistakes)"
	@echo "make nbgrader MODULE=01 [DEST=dir]           an nbgrader course folder (dist/nbgrader/) for JupyterHub courses"
	@echo "make distribute ROSTER=csv TEMPLATE=repo OWNER=org PREFIX=name   student repositories from the skeleton template"
	@echo "make collect ROSTER=csv DEADLINE=iso SUBMISSIONS=dir   each student's last commit before their deadline"
	@echo "make import-gradescope EXPORT=zip SUBMISSIONS=dir   Gradescope's Export Submissions as grade-batch input"
	@echo "make lessons [MODULE=01]                     check the lessons in reference/lessons/"
	@echo "make validate [MODULE=01] [CATALOGUE=1] [SAMPLE=n] [SURVIVORS=1]   mutation score + mistakes catalogue (all released modules without MODULE)"

setup:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'

data:
	$(PY) -m coursetools data

# One BLAS thread per pytest worker: JOBS workers each running a multi-threaded BLAS on 2 cores
# spin against each other (measured 15x slower on module 19's transformer event).
test:
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n $(JOBS) -q

release-module:
	@test -n "$(MODULE)" || { echo "usage: make release-module MODULE=NN"; exit 2; }
	$(PY) -m coursetools release --module $(MODULE)

release-all:
	$(PY) -m coursetools release --all

grade:
	@test -n "$(MODULE)" -a -n "$(SUBMISSION)" || { echo "usage: make grade MODULE=NN SUBMISSION=dir-or-zip [RESULTS=file]"; exit 2; }
	$(PY) -m coursetools grade --module $(MODULE) --submission $(SUBMISSION) $(if $(RESULTS),--results $(RESULTS))

grade-batch:
	@test -n "$(MODULE)" -a -n "$(SUBMISSIONS)" -a -n "$(RESULTS)" || { echo "usage: make grade-batch MODULE=NN SUBMISSIONS=dir RESULTS=dir [JOBS=2] [ENGINE=local|dask SCHEDULER=host:port] [FORCE=1]"; exit 2; }
	$(PY) -m coursetools grade-batch --module $(MODULE) --submissions $(SUBMISSIONS) --results $(RESULTS) --jobs $(JOBS) --engine $(ENGINE) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(FORCE),--force)

report:
	@test -n "$(RESULTS)" || { echo "usage: make report RESULTS=dir"; exit 2; }
	$(PY) -m coursetools report --results $(RESULTS)

milestone:
	@test -n "$(M)" || { echo "usage: make milestone M=NN [ARGS=--quick]"; exit 2; }
	$(PY) milestones/run.py $(M) $(ARGS)

validate:
	$(PY) -m coursetools validate --module $(or $(MODULE),all) $(if $(CATALOGUE),--catalogue-only) $(if $(SAMPLE),--sample $(SAMPLE)) $(if $(SURVIVORS),--survivors) $(if $(WORKERS),--workers $(WORKERS))

benchmark:
	$(PY) benchmarks/cnn_step.py $(ARGS)
	$(PY) benchmarks/gpt_tokens.py

site:
	$(PY) -m coursetools site $(if $(SUBMISSIONS),--submissions $(SUBMISSIONS))

ta-guide:
	$(PY) -m coursetools ta-guide $(if $(GRADE),--grade $(GRADE))

lessons:
	$(PY) -m coursetools.author.lessons $(MODULE)

nbgrader:
	@test -n "$(MODULE)" || { echo "usage: make nbgrader MODULE=NN [DEST=dir]"; exit 2; }
	$(PY) -m coursetools nbgrader --module $(MODULE) $(if $(DEST),--dest $(DEST))

distribute:
	@test -n "$(ROSTER)" -a -n "$(TEMPLATE)" -a -n "$(OWNER)" -a -n "$(PREFIX)" || { echo "usage: make distribute ROSTER=roster.csv TEMPLATE=owner/repo|DIR OWNER=org PREFIX=tinytorch-01 [HOST=github|DIR] [REPOS=repos.csv]"; exit 2; }
	$(PY) -m coursetools distribute --roster $(ROSTER) --template $(TEMPLATE) --owner $(OWNER) --prefix $(PREFIX) --host $(or $(HOST),github) --out $(or $(REPOS),repos.csv)

collect:
	@test -n "$(ROSTER)" -a -n "$(DEADLINE)" -a -n "$(SUBMISSIONS)" || { echo "usage: make collect ROSTER=roster.csv DEADLINE=2026-10-01T23:59:00-07:00 SUBMISSIONS=dir [REPOS=repos.csv] [LATE=1]"; exit 2; }
	$(PY) -m coursetools collect --roster $(ROSTER) --deadline $(DEADLINE) --dest $(SUBMISSIONS) $(if $(REPOS),--repos $(REPOS)) $(if $(LATE),--accept-late)

import-gradescope:
	@test -n "$(EXPORT)" -a -n "$(SUBMISSIONS)" || { echo "usage: make import-gradescope EXPORT=export.zip SUBMISSIONS=dir [DEADLINE=iso]"; exit 2; }
	$(PY) -m coursetools import-gradescope --export $(EXPORT) --dest $(SUBMISSIONS) $(if $(DEADLINE),--deadline $(DEADLINE))

clean:
	rm -rf dist

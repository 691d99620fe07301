# ipclab: build, test and demo the IPC lab kit. `make help` lists the targets.
#
# Binaries land at fixed paths: build/lab/<tool>, build/solution/{webproxy,
# simplecached}, build/starter/{webproxy,simplecached}. SAN=address or
# SAN=thread builds the same tree with sanitizers into build/san-<SAN>/.

IMPL ?= solution

# Flags, SAN builds and every compile rule, shared with the handout's Makefile.
include lab/build.mk

.PHONY: all lab solution starter units fixtures test demo bench content handout handouts grade gradescope mutants clean help

# solution/ and starter/ are built when their sources exist.
IMPLS := $(if $(wildcard solution/webproxy.c),solution) $(if $(wildcard starter/webproxy.c),starter)

all: lab $(IMPLS) ## build the lab tools, the reference solution and the starter

lab: $(LAB_LIB) $(TOOLS) ## build the framework library and tools into build/lab/

solution: $(BUILD)/solution/webproxy $(BUILD)/solution/simplecached ## build the reference into build/solution/

starter: $(BUILD)/starter/webproxy $(BUILD)/starter/simplecached ## build the student skeleton into build/starter/

units: $(UNIT_TESTS) ## build the C unit tests into build/tests/

fixtures: $(FIXTURES) ## build the test fixtures (broken servers) into build/fixtures/

content: lab ## generate the test files, locals.txt, workload.txt and a sha256 manifest in build/content/
	$(BUILD)/lab/mkcontent build/content

test: ## run the self-check (IMPL=starter to check the skeleton)
	@bash tests/lib/deps.sh $(if $(filter solution,$(IMPL)),kit,test)
	@$(MAKE) --no-print-directory all units fixtures content
	@IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/run --impl $(IMPL) $(if $(filter solution,$(IMPL)),--with tests/kit --with grader/tests)

demo: ## build, start cache and proxy, download the whole workload with checks, stop, show no leftovers
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content
	@bash tests/demo.sh

bench: ## measure proxy+cache against the direct server; writes build/bench/
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content
	@bash tests/bench.sh

handout: ## write dist/ipclab-handout.tar.gz, the tree a student unpacks and works in
	@bash tests/lib/deps.sh handouts
	@bash starter/handout.sh

handouts: ## render handouts/ (Markdown + Graphviz) to HTML in build/handouts/
	@bash tests/lib/deps.sh handouts
	@IPCLAB_RUBRIC=grader/rubric.tsv bash handouts/render.sh

grade: ## grade SUBMISSION=<dir or .tar.gz> (default: the reference solution)
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory lab content
	@bash grader/grade $(SUBMISSION)

gradescope: ## write build/gradescope/autograder.zip for Gradescope
	@bash grader/gradescope/package

mutants: ## grade every student bug of grader/mutants/ (MUTANTS="a b" for some, MUTANTS_FLAGS=--full or --check); prints caught/total
	@bash tests/lib/deps.sh kit
	@$(MAKE) --no-print-directory lab content
	@python3 grader/mutants/run $(MUTANTS_FLAGS) $(MUTANTS)

clean: ## remove build/ and dist/
	rm -rf build dist

help: ## list the targets
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

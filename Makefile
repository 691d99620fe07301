# ipclab: build, test and demo the IPC lab kit. `make help` lists the targets.
#
# Binaries land at fixed paths: build/lab/<tool>, build/solution/{webproxy,
# simplecached}, build/starter/{webproxy,simplecached} for the message-queue
# variant, build/solution-socket/ and build/starter-socket/ for the socket
# variant. SAN=address or SAN=thread builds the same tree with sanitizers
# into build/san-<SAN>/.
#
# VARIANT=mqueue or VARIANT=socket picks the design for every target. Unset,
# `make` builds both, `make test` checks both, and the rest use mqueue.

IMPL ?= solution
VARIANT ?=

# Flags, SAN builds and every compile rule, shared with the handout's Makefile.
include lab/build.mk

.PHONY: all lab solution starter solution-socket starter-socket units fixtures test demo bench content handout handouts grade gradescope clean help

# The variants' folders: an implementation named <impl><suffix> (solution,
# starter-socket, ...) builds from the folder build.mk's src_of finds.
ifeq ($(filter-out mqueue socket,$(VARIANT)),)
else
$(error VARIANT must be mqueue or socket)
endif
SRC_solution-socket := solution/socket
SRC_starter-socket := starter/socket
variant_suffix = $(if $(filter socket,$(1)),-socket)
BUILT_VARIANTS := $(or $(VARIANT),mqueue socket)
RUN_VARIANT := $(or $(VARIANT),mqueue)

# Each implementation is built when its sources exist.
IMPLS := $(foreach v,$(BUILT_VARIANTS),$(foreach i,solution starter,$(if $(wildcard $(call src_of,$(i)$(call variant_suffix,$(v)))/webproxy.c),$(i)$(call variant_suffix,$(v)))))

all: lab $(IMPLS) ## build the lab tools, the references and the starters (VARIANT=... for one design)

lab: $(LAB_LIB) $(TOOLS) ## build the framework library and tools into build/lab/

solution: $(BUILD)/solution/webproxy $(BUILD)/solution/simplecached ## build the mqueue reference into build/solution/

starter: $(BUILD)/starter/webproxy $(BUILD)/starter/simplecached ## build the mqueue skeleton into build/starter/

# The socket variant's reference and skeleton: build/solution-socket/, build/starter-socket/.
solution-socket starter-socket: %: $(BUILD)/%/webproxy $(BUILD)/%/simplecached

units: $(UNIT_TESTS) ## build the C unit tests into build/tests/

fixtures: $(FIXTURES) ## build the test fixtures (broken servers) into build/fixtures/

content: lab ## generate the test files, locals.txt, workload.txt and a sha256 manifest in build/content/
	$(BUILD)/lab/mkcontent build/content

# The kit's own suites need every build, whatever VARIANT says; VARIANT only
# picks whose pair suites run.
test: ## run the self-check, both variants unless VARIANT=... (IMPL=starter to check the skeleton)
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all units fixtures content VARIANT=
	@IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/run --impl $(IMPL) --variant "$(BUILT_VARIANTS)"

demo: ## build, start cache and proxy, download the whole workload with checks, stop, show no leftovers
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content VARIANT=$(RUN_VARIANT)
	@IPCLAB_VARIANT=$(RUN_VARIANT) bash tests/demo.sh

bench: ## measure proxy+cache against the direct server; writes build/bench/
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content VARIANT=$(RUN_VARIANT)
	@IPCLAB_VARIANT=$(RUN_VARIANT) bash tests/bench.sh

handout: ## write dist/ipclab-handout.tar.gz, the tree a student unpacks and works in
	@bash starter/handout.sh

handouts: ## render handouts/ (Markdown + Graphviz) to HTML in build/handouts/
	@bash tests/lib/deps.sh handouts
	@bash handouts/render.sh

grade: ## grade SUBMISSION=<dir or .tar.gz> (default: the reference solution)
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory lab content
	@bash grader/grade $(SUBMISSION)

gradescope: ## write build/gradescope/autograder.zip for Gradescope
	@bash grader/gradescope/package

clean: ## remove build/ and dist/
	rm -rf build dist

help: ## list the targets
	@grep -hE '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

# ipclab: build, test and demo the IPC lab kit. `make help` lists the targets.
#
# Binaries land at fixed paths: build/lab/<tool>, build/solution/{webproxy,
# simplecached}, build/starter/{webproxy,simplecached}. SAN=address or
# SAN=thread builds the same tree with sanitizers into build/san-<SAN>/.

SAN ?=
IMPL ?= solution

CC ?= cc
CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread
LDLIBS := -pthread -lrt

ifeq ($(SAN),)
BUILD := build
else ifeq ($(SAN),address)
BUILD := build/san-address
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
else ifeq ($(SAN),thread)
BUILD := build/san-thread
CFLAGS += -fsanitize=thread
LDFLAGS += -fsanitize=thread
else
$(error SAN must be address or thread)
endif

LAB_HEADERS := $(wildcard lab/*.h)
LAB_OBJS := $(patsubst lab/%.c,$(BUILD)/lab/%.o,$(wildcard lab/*.c))
LAB_LIB := $(BUILD)/lab/libipclab.a
TOOLS := $(patsubst lab/tools/%.c,$(BUILD)/lab/%,$(wildcard lab/tools/*.c))

# The five files a student edits; the same names in solution/ and starter/.
STUDENT_HEADERS = $*/shm_channel.h $*/cache-student.h

.PHONY: all lab solution starter units fixtures test demo bench content handout handouts grade gradescope clean help
.DELETE_ON_ERROR:

# solution/ and starter/ are built when their sources exist.
IMPLS := $(if $(wildcard solution/webproxy.c),solution) $(if $(wildcard starter/webproxy.c),starter)

all: lab $(IMPLS) ## build the lab tools, the reference solution and the starter

lab: $(LAB_LIB) $(TOOLS) ## build the framework library and tools into build/lab/

solution: $(BUILD)/solution/webproxy $(BUILD)/solution/simplecached ## build the reference into build/solution/

starter: $(BUILD)/starter/webproxy $(BUILD)/starter/simplecached ## build the student skeleton into build/starter/

$(BUILD)/lab/%.o: lab/%.c $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ilab -c -o $@ $<

$(LAB_LIB): $(LAB_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/lab/%: lab/tools/%.c $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -o $@ $< $(LAB_LIB) $(LDLIBS)

.SECONDEXPANSION:
$(BUILD)/%/webproxy: %/webproxy.c %/handle_with_cache.c %/shm_channel.c $$(STUDENT_HEADERS) $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -I$* -o $@ $(filter %.c,$^) $(LAB_LIB) $(LDLIBS)

$(BUILD)/%/simplecached: %/simplecached.c %/shm_channel.c $$(STUDENT_HEADERS) $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -I$* -o $@ $(filter %.c,$^) $(LAB_LIB) $(LDLIBS)

# C unit tests of the framework: tests/unit/<name>.c -> build/tests/<name>.
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))

$(BUILD)/tests/%: tests/unit/%.c $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -o $@ $< $(LAB_LIB) $(LDLIBS)

units: $(UNIT_TESTS) ## build the C unit tests into build/tests/

# Deliberately broken programs the tests talk to: tests/fixtures/<name>.c ->
# build/fixtures/<name>.
FIXTURES := $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%,$(wildcard tests/fixtures/*.c))

$(BUILD)/fixtures/%: tests/fixtures/%.c $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -o $@ $< $(LAB_LIB) $(LDLIBS)

fixtures: $(FIXTURES) ## build the test fixtures (broken servers) into build/fixtures/

content: lab ## generate the test files, locals.txt, workload.txt and a sha256 manifest in build/content/
	$(BUILD)/lab/mkcontent build/content

test: ## run the self-check (IMPL=starter to check the skeleton)
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all units fixtures content
	@IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/run --impl $(IMPL)

demo: ## build, start cache and proxy, download the whole workload with checks, stop, show no leftovers
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content
	@bash tests/demo.sh

bench: ## measure proxy+cache against the direct server; writes build/bench/
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content
	@bash tests/bench.sh

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
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

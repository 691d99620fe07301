# ipclab: build, test and demo the IPC lab kit. `make help` lists the targets.
#
# Binaries land at fixed paths: build/lab/<tool>, build/solution/{webproxy,
# simplecached}, build/starter/{webproxy,simplecached} for the message-queue
# variant, build/solution-socket/ and build/starter-socket/ for the socket
# variant. SAN=address or SAN=thread builds the same tree with sanitizers
# into build/san-<SAN>/.
#
# VARIANT=mqueue or VARIANT=socket picks the design for every target. Unset,
# `make` builds both, `make test` checks both, `make bench` measures both,
# and the rest (demo, handout, handouts, grade, gradescope, classroom) use
# mqueue.

IMPL ?= solution
VARIANT ?=
# TRACK=guided (the starter with TODO blocks) or TRACK=design (the starter
# that fixes only what the framework and the rules fix; the student designs
# the channel and writes design.md): for handout, handouts, grade and
# `make test IMPL=starter`.
TRACK ?= guided

# Flags, SAN builds and every compile rule, shared with the handout's Makefile.
include lab/build.mk

.PHONY: all lab solution starter solution-socket starter-socket starter-design starter-design-socket units fixtures fuzzers fuzz test check demo bench content handout handouts grade gradescope mutants clean help
.PHONY: classroom deploy-check kit-check grade-all selfcheck-time trace

# The variants' folders: solution/<variant>/ and starter/<variant>/, laid out
# the same way. An implementation named <impl><suffix> (solution,
# starter-socket, ...) builds from the folder build.mk's src_of finds; the
# build folders keep their names (build/solution is the mqueue reference).
ifeq ($(filter-out mqueue socket,$(VARIANT)),)
else
$(error VARIANT must be mqueue or socket)
endif
ifeq ($(filter-out guided design,$(TRACK)),)
else
$(error TRACK must be guided or design)
endif
SRC_solution := solution/mqueue
SRC_starter := starter/mqueue
SRC_solution-socket := solution/socket
SRC_starter-socket := starter/socket
# The design track's starters (hand-written, not generated): build/starter-design/
# and build/starter-design-socket/.
SRC_starter-design := starter/mqueue/design
SRC_starter-design-socket := starter/socket/design
# The files both variants' design starters leave alike are kept once.
SHARED_starter-design := starter/design
SHARED_starter-design-socket := starter/design
# The implementation `make test IMPL=starter` checks, by track.
TEST_IMPL := $(if $(and $(filter starter,$(IMPL)),$(filter design,$(TRACK))),starter-design,$(IMPL))
variant_suffix = $(if $(filter socket,$(1)),-socket)
BUILT_VARIANTS := $(or $(VARIANT),mqueue socket)
RUN_VARIANT := $(or $(VARIANT),mqueue)

# Each implementation is built when its sources exist.
IMPLS := $(foreach v,$(BUILT_VARIANTS),$(foreach i,solution starter starter-design,$(if $(wildcard $(call src_of,$(i)$(call variant_suffix,$(v)))/simplecached.c),$(i)$(call variant_suffix,$(v)))))

all: lab $(IMPLS) ## build the lab tools, the references and the starters (VARIANT=... for one design)

lab: $(LAB_LIB) $(TOOLS) $(TRACE_LIB) ## build the framework library, the tools and the trace library into build/lab/

solution: $(BUILD)/solution/webproxy $(BUILD)/solution/simplecached ## build the mqueue reference into build/solution/

starter: $(BUILD)/starter/webproxy $(BUILD)/starter/simplecached ## build the mqueue skeleton into build/starter/

# The socket variant's reference and skeleton: build/solution-socket/, build/starter-socket/.
# The design track's starters: build/starter-design/, build/starter-design-socket/.
solution-socket starter-socket starter-design starter-design-socket: %: $(BUILD)/%/webproxy $(BUILD)/%/simplecached

# Each variant's shm_channel.c tested in one process: tests/channel/<variant>.c
# -> build/tests/shm_channel_<variant>. Kept out of tests/unit/, which the
# handout ships: these test the references, not the framework.
CHANNEL_TESTS := $(patsubst tests/channel/%.c,$(BUILD)/tests/shm_channel_%,$(wildcard tests/channel/*.c))
$(BUILD)/tests/shm_channel_%: tests/channel/%.c tests/channel/shm_test.h solution/%/shm_channel.c solution/%/shm_channel.h solution/%/cache-student.h $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -Isolution/$* -o $@ $< solution/$*/shm_channel.c $(LAB_LIB) $(LDLIBS)

units: $(UNIT_TESTS) $(CHANNEL_TESTS) ## build the C unit tests into build/tests/

fixtures: $(FIXTURES) ## build the test fixtures (broken servers) into build/fixtures/

# ---- Fuzzing (libFuzzer: clang and Debian's libclang-rt-14-dev) ----
#
# Every tests/fuzz/<name>.c is a target, built into build/fuzz/<name> with
# the whole framework (lab/*.c) compiled in, instrumented, under ASan and
# UBSan. Seeds live in tests/fuzz/seeds/<name>/ (optional). To add a target that tests
# a solution source, drop tests/fuzz/<name>.c in and name the sources it
# needs in one line, e.g.
#	FUZZ_SRCS_cache_request := solution/mqueue/shm_channel.c
# (-Isolution/mqueue is on the include path unless FUZZ_INCLUDES_<name>
# says otherwise). `make test` builds the targets when clang is there, and
# tests/kit/fuzz.bats smoke-runs each.
FUZZ_CC ?= clang
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Wall -Wextra -Werror -pthread \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -Ilab
FUZZ_INCLUDES_cache_request_socket := -Isolution/socket
fuzz_includes = $(or $(FUZZ_INCLUDES_$(1)),-Isolution/mqueue)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(wildcard tests/fuzz/*.c))
FUZZ_TIME ?= 60
# (No target needs a source outside lab/ today: cache_request.c and
# cache_request_socket.c test the validation in each variant's
# cache-student.h, a header.)

fuzzers: $(FUZZ_TARGETS) ## build the libFuzzer targets of tests/fuzz/ into build/fuzz/

# The framework, instrumented, as an archive: a target that includes a lab
# source to reach its static functions does not clash with the copy here.
FUZZ_LIB := build/fuzz/lib/libipclab.a
$(FUZZ_LIB): $(patsubst lab/%.c,build/fuzz/lib/%.o,$(wildcard lab/*.c))
	$(AR) rcs $@ $^

build/fuzz/lib/%.o: lab/%.c $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c -o $@ $<

.SECONDEXPANSION:
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB) $(LAB_HEADERS) $$(FUZZ_SRCS_$$*)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) $(call fuzz_includes,$*) -o $@ $< $(FUZZ_SRCS_$*) $(FUZZ_LIB) -lrt

fuzz: fuzzers ## run each fuzz target for FUZZ_TIME seconds (60); corpus in build/fuzz/corpus/, crashes in build/fuzz/
	@for t in $(FUZZ_TARGETS); do \
		n=$$(basename $$t); mkdir -p build/fuzz/corpus/$$n; \
		echo "== $$n"; \
		$$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 -artifact_prefix=build/fuzz/$$n- \
			build/fuzz/corpus/$$n $$(ls -d tests/fuzz/seeds/$$n 2>/dev/null) || exit 1; \
	done

content: lab ## generate the test files, locals.txt, workload.txt and a sha256 manifest in build/content/
	$(BUILD)/lab/mkcontent build/content

# The kit's own suites need every build, whatever VARIANT says; VARIANT only
# picks whose pair suites run.
test: ## run the self-check, both variants unless VARIANT=... (IMPL=starter to check the skeleton, TRACK=design its design track)
	@bash tests/lib/deps.sh $(if $(filter solution,$(IMPL)),kit,test)
	@$(MAKE) --no-print-directory all units fixtures content VARIANT= $(if $(shell command -v $(FUZZ_CC)),fuzzers)
	@IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/run --impl $(TEST_IMPL) --variant "$(BUILT_VARIANTS)" $(if $(filter solution,$(IMPL)),--with tests/kit --with grader/tests)

# The time the handout's self-check page states (handouts/render.sh reads
# the file): a student's `make test` on each reference, measured here.
selfcheck-time: ## time a student's make test on each variant's reference into handouts/selfcheck-time.tsv (commit it)
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all fixtures content VARIANT=
	@IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/lib/selfcheck_time.sh

# The quick tier, for after each change: the build, lab/'s C unit tests,
# each variant's smoke check and the GETFILE protocol suite.
check: ## the quick tier, under 90 s: build, C unit tests, smoke check (both variants unless VARIANT=...), protocol.bats
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all units content VARIANT=
	@IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/run --units --smoke --variant "$(BUILT_VARIANTS)" tests/protocol.bats

demo: ## build, start cache and proxy, download the whole workload with checks, stop, show no leftovers
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content VARIANT=$(RUN_VARIANT)
	@IPCLAB_VARIANT=$(RUN_VARIANT) bash tests/demo.sh

trace: ## run VARIANT's pair (IMPL=...) traced over a short workload; writes build/trace/{timeline.html,trace.json,summary.txt}
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory all content VARIANT=$(RUN_VARIANT)
	@IPCLAB_VARIANT=$(RUN_VARIANT) IPCLAB_IMPL=$(IMPL) bash tests/lib/trace_run.sh

bench: ## measure both variants' proxy+cache beside the direct server (VARIANT=... for one); writes build/bench/
	@bash tests/lib/deps.sh bench
	@$(MAKE) --no-print-directory all content VARIANT=$(VARIANT)
	@BENCH_VARIANTS="$(BUILT_VARIANTS)" BENCH_GRADE_CMD='bash grader/grade --quiet -o $(BUILD)/bench/grade' bash tests/bench.sh

handout: ## write dist/ipclab-handout.tar.gz, the tree a student unpacks and works in (TRACK=design, VARIANT=socket)
	@bash tests/lib/deps.sh handouts
	@TRACK=$(TRACK) VARIANT=$(RUN_VARIANT) bash starter/handout.sh

# The design track's pages leave out the reference's architecture until an
# instructor releases it, after the deadline, with RELEASE=1.
RELEASE ?= 0
handouts: ## render the TRACK's handouts (Markdown + Graphviz) to HTML in build/handouts/, with VARIANT's words (RELEASE=1: the design track's with the reference architecture)
	@bash tests/lib/deps.sh handouts
	@VARIANT=$(RUN_VARIANT) bash handouts/pages.sh --render $(TRACK) $(RELEASE)

grade: ## grade SUBMISSION=<dir or .tar.gz> (default: the variant's reference solution)
	@bash tests/lib/deps.sh
	@$(MAKE) --no-print-directory lab content
	@bash grader/grade --track $(TRACK) --variant $(RUN_VARIANT) $(SUBMISSION)

grade-all: ## grade every submission in SUBMISSIONS=<dir>, or a mixed class in CLASS=<csv>, into build/grade-all/ with its class page (SIMILAR=1 compares the code, ONLY=<regex> grades only those rubric rows, JOBS=N)
	@bash tests/lib/deps.sh $(if $(SIMILAR),similar)
	@$(MAKE) --no-print-directory lab content
	@bash grader/grade-all --variant $(RUN_VARIANT) --track $(TRACK) $(if $(JOBS),-j $(JOBS)) $(if $(SIMILAR),--similar) $(if $(ONLY),--only '$(ONLY)') $(if $(CLASS),--class $(CLASS),$(SUBMISSIONS))

gradescope: ## write build/gradescope/autograder.zip for Gradescope, grading VARIANT's design (mqueue unless VARIANT=socket) in TRACK
	@TRACK=$(TRACK) VARIANT=$(RUN_VARIANT) bash grader/gradescope/package

classroom: ## write dist/ipclab-classroom/, a GitHub Classroom template repository with its autograding workflow (TRACK=design, VARIANT=socket)
	@TRACK=$(TRACK) VARIANT=$(RUN_VARIANT) bash starter/classroom.sh

deploy-check: ## as root: the Gradescope zip and the dev container set up and run on a clean Debian (debootstrap), under 384 MB
	@bash tests/lib/deps.sh deploy
	@$(MAKE) --no-print-directory all units fixtures content
	@IPCLAB_DEPLOY_TESTS=1 IPCLAB_BUILD=$(CURDIR)/$(BUILD) bash tests/run --filter '^deploy' grader/tests/deploy_*.bats

# make test keeps within CI's 30 minutes by grading each hostile fixture in
# one variant (they take turns), the mqueue reference on the hidden rows
# only and one test step of the Classroom workflow; this grades every
# fixture in both, the reference on every row, runs every step, then runs
# the deploy tests when root. About twice make test's time.
kit-check: ## make test with every fixture graded in both variants, then deploy-check when root
	@IPCLAB_KIT_FULL=1 $(MAKE) --no-print-directory test VARIANT=
	@if [ "$$(id -u)" -eq 0 ]; then $(MAKE) --no-print-directory deploy-check; fi

# Two grades at once, two test slots each: a grade that fails early (the
# smoke test, one row) leaves a lone grade's slots idle, two keep them fed.
MUTANTS_JOBS ?= 2
mutants: ## grade every student bug of grader/mutants/ and its socket/ (MUTANTS="a socket/b" for some, MUTANTS_FLAGS=--full or --check, MUTANTS_JOBS=2 at once); prints caught/total
	@bash tests/lib/deps.sh kit
	@$(MAKE) --no-print-directory lab content
	@python3 grader/mutants/run -j $(MUTANTS_JOBS) $(MUTANTS_FLAGS) $(MUTANTS)

clean: ## remove build/ and dist/
	rm -rf build dist

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | expand -t 12

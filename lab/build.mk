# build.mk: the compile rules shared by the kit's Makefile and the student
# Makefile of the handout, so both build with the same flags into the same
# places: build/lab/<tool>, build/<impl>/{webproxy,simplecached},
# build/tests/<unit test>, build/fixtures/<fixture>. SAN=address or
# SAN=thread builds the same tree with sanitizers into build/san-<SAN>/.
#
# An implementation's sources are in the folder of its name unless
# SRC_<name> names another: the kit's Makefile maps solution to
# solution/mqueue/ and so on; the handout keeps the student's files at its
# top, so its Makefile sets SRC_starter := .

SAN ?=

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

# C unit tests of the framework: tests/unit/<name>.c -> build/tests/<name>.
UNIT_TESTS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/*.c))

# Deliberately broken programs the tests talk to: tests/fixtures/<name>.c ->
# build/fixtures/<name>; and libraries a test preloads into a program to
# inject a fault: tests/fixtures/preload_<name>.c -> build/fixtures/preload_<name>.so.
PRELOAD_SRCS := $(wildcard tests/fixtures/preload_*.c)
FIXTURES := $(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%,$(filter-out $(PRELOAD_SRCS),$(wildcard tests/fixtures/*.c))) \
	$(patsubst tests/fixtures/%.c,$(BUILD)/fixtures/%.so,$(PRELOAD_SRCS))

.DELETE_ON_ERROR:

$(BUILD)/lab/%.o: lab/%.c $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Ilab -c -o $@ $<

$(LAB_LIB): $(LAB_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILD)/lab/%: lab/tools/%.c $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -o $@ $< $(LAB_LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -o $@ $< $(LAB_LIB) $(LDLIBS)

$(BUILD)/fixtures/preload_%.so: tests/fixtures/preload_%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $< -ldl

$(BUILD)/fixtures/%: tests/fixtures/%.c $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab -o $@ $< $(LAB_LIB) $(LDLIBS)

# The trace library (lab/trace/), preloaded only when IPCLAB_TRACE is set:
# built without sanitizers, since a sanitizer runtime must load first.
TRACE_LIB := $(BUILD)/lab/libipclab_trace.so
$(TRACE_LIB): lab/trace/trace.c lab/trace/record.h lab/trace/calls.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread -shared -fPIC -o $@ $< -ldl

# The files a student edits are the implementation folder's .c and .h; every
# header there (one of the student's own) is a prerequisite. A file the
# folder lacks comes from SHARED_<name>, when set: the design track's
# starters keep the files both variants leave alike once.
src_of = $(or $(SRC_$(1)),$(1))
src_file = $(firstword $(wildcard $(call src_of,$(1))/$(2)) $(if $(SHARED_$(1)),$(SHARED_$(1))/$(2),$(call src_of,$(1))/$(2)))
src_includes = -I$(call src_of,$(1)) $(if $(SHARED_$(1)),-I$(SHARED_$(1)))
STUDENT_HEADERS = $(wildcard $(call src_of,$*)/*.h $(if $(SHARED_$*),$(SHARED_$*)/*.h))

.SECONDEXPANSION:
$(BUILD)/%/webproxy: $$(call src_file,$$*,webproxy.c) $$(call src_file,$$*,handle_with_cache.c) $$(call src_file,$$*,shm_channel.c) $$(STUDENT_HEADERS) $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab $(call src_includes,$*) -o $@ $(filter %.c,$^) $(LAB_LIB) $(LDLIBS)

$(BUILD)/%/simplecached: $$(call src_file,$$*,simplecached.c) $$(call src_file,$$*,shm_channel.c) $$(STUDENT_HEADERS) $(LAB_LIB) $(LAB_HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -Ilab $(call src_includes,$*) -o $@ $(filter %.c,$^) $(LAB_LIB) $(LDLIBS)

# None of these rules is the default goal: the including Makefile's next
# target is (`all`).
.DEFAULT_GOAL :=

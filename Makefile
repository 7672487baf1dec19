# SPDX-License-Identifier: Apache-2.0
# apwsgi: build mod_apwsgi.so against a CPython, run the examples, run tests.
#
#   make                 build $(BUILDDIR)/mod_apwsgi.so against $(PYTHON)
#   make run             install what is missing, build, serve examples/ on :8000
#   make test            install what is missing, build, run the test matrix
#   make install         install the module with apxs (+ Debian's apwsgi.load)
#   make deb             build/deb/libapache2-mod-apwsgi_<version>_<arch>.deb
#   make test-deb        install that package, serve through the system
#                        Apache, purge it (as root: changes the machine)
#   make docs            the documentation (Sphinx, warnings are errors)
#   make lint            clang-format check of src/, error-log tag check,
#                        ruff on the Python
#   make PYTHON=/opt/python3.12/bin/python3 BUILDDIR=build/py3.12
#
# See README.md and docs/ (docs/development.rst: the build and its flags).

BUILDDIR ?= build
PYTHON   ?= python3
PORT     ?= 8000
APXS     ?= $(shell command -v apxs || command -v apxs2)
PYTEST_ARGS ?=
BENCH_ARGS ?=
CEILING  ?= build/mod_ceiling.so
# make bench-interp: the newest CPython 3.12 that pyenv has, else python3.12.
PYTHON312 ?= $(shell v=$$(pyenv versions --bare 2>/dev/null | \
    grep -E '^3\.12\.[0-9]+$$' | sort -V | tail -n 1); \
    if [ -n "$$v" ]; then echo "$$(pyenv prefix $$v)/bin/python3.12"; \
    else command -v python3.12; fi)
MODS_AVAILABLE ?= /etc/apache2/mods-available

ifeq ($(origin CC),default)
CC = gcc
endif

MODULE := $(BUILDDIR)/mod_apwsgi.so
SRCS   := $(sort $(wildcard src/*.c))
OBJS   := $(patsubst src/%.c,$(BUILDDIR)/%.o,$(SRCS))

# ---- facts about the Python we build against (read once) ----
# One interpreter start prints NAME=value words (PY_HOME, PY_PROGRAM,
# PY_INCLUDEPY, PY_LIBDIR, PY_LDVERSION, ...); see python/apwsgi/build.py.
# The path of the script is given, not the package, so any Python works.
PY_FACTS := $(shell $(PYTHON) python/apwsgi/build.py vars 2>/dev/null)
$(foreach fact,$(PY_FACTS),$(eval $(fact)))

# ---- Apache's build flags (empty when apxs is missing; see check-tools) ----
ifneq ($(APXS),)
AP_CFLAGS   := $(shell $(APXS) -q CFLAGS)
AP_CPPFLAGS := $(shell $(APXS) -q EXTRA_CPPFLAGS)
AP_INCLUDES := $(shell $(APXS) -q EXTRA_INCLUDES)
LIBEXECDIR  ?= $(shell $(APXS) -q LIBEXECDIR)
endif

PY_DEFINES := -DAPWSGI_PYTHON_HOME='"$(PY_HOME)"' \
              -DAPWSGI_PYTHON_PROGRAM='"$(PY_PROGRAM)"'
# The run path finds a libpython outside the linker's default search path
# (pyenv, /opt).  A package built against the system Python sets PY_RPATH=
# (Debian forbids a run path to a system directory).
PY_RPATH ?= -Wl,-rpath,$(PY_LIBDIR)
# Every Apache module built here (ours and the ceiling) compiles with these.
APACHE_MODULE_CFLAGS = -std=gnu11 -fPIC -O2 -g -Wall -Wextra $(AP_CFLAGS) \
              $(AP_CPPFLAGS) $(AP_INCLUDES)
ALL_CFLAGS  = $(APACHE_MODULE_CFLAGS) -I$(PY_INCLUDEPY) -Isrc \
              $(PY_DEFINES) -MMD -MP $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = -shared $(LDFLAGS) -L$(PY_LIBDIR) $(PY_RPATH)
ALL_LDLIBS  = -lpython$(PY_LDVERSION) $(LDLIBS)

# Objects are rebuilt when the compiler, the flags or the Python change,
# even in the same BUILDDIR: the signature file changes only then.
SIGNATURE := $(BUILDDIR)/build.signature
SIGNATURE_TEXT = $(CC) $(ALL_CFLAGS) | $(ALL_LDFLAGS) $(ALL_LDLIBS)

# V=1 shows the full compiler command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all deps run test soak asan valgrind bench bench-apps bench-interp \
        ceiling install deb test-deb docs clean help check-tools check-apxs \
        lint lint-c lint-tags lint-py lint-spdx FORCE
.DEFAULT_GOAL := all

all: $(MODULE)

$(MODULE): $(OBJS) $(SIGNATURE)
	@echo "  LD      $@  (Python $(PY_VERSION): $(PY_HOME))"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(OBJS) $(ALL_LDLIBS)

$(BUILDDIR)/%.o: src/%.c $(SIGNATURE) | check-tools $(BUILDDIR)
	@echo "  CC      $<"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(SIGNATURE): FORCE | $(BUILDDIR)
	$(file >$@.new,$(SIGNATURE_TEXT))
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi

$(BUILDDIR):
	@mkdir -p $@

# One clear message for each thing a build cannot do without.
check-tools:
	@if [ -z "$(APXS)" ]; then \
	  echo "apwsgi: apxs not found: install Apache's development files," \
	       "package apache2-dev (Debian/Ubuntu) or httpd-devel" \
	       "(Fedora/RHEL), or run 'make deps' (as root on Debian)." >&2; \
	  exit 1; fi
	@if [ -z "$(PY_LDVERSION)" ]; then \
	  echo "apwsgi: '$(PYTHON)' did not run or is not CPython 3.11+;" \
	       "set PYTHON=/path/to/python3.X" >&2; exit 1; fi
	@if [ ! -f "$(PY_INCLUDEPY)/Python.h" ]; then \
	  echo "apwsgi: $(PY_INCLUDEPY)/Python.h missing: install the Python" \
	       "headers (Debian: python3-dev)" >&2; exit 1; fi
	@if [ -z "$(SRCS)" ]; then \
	  echo "apwsgi: no C sources in src/" >&2; exit 1; fi

-include $(OBJS:.o=.d)

# ---- the commands a person runs ----

deps:
	@PYTHON="$(PYTHON)" BUILDDIR="$(BUILDDIR)" tools/ensure-deps

run: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) tools/run-examples --port $(PORT) --module $(MODULE)

test: deps
	@$(MAKE) --no-print-directory all
	@PYTHON="$(PYTHON)" BUILDDIR="$(BUILDDIR)" PYTEST_ARGS="$(PYTEST_ARGS)" \
	    MAKE="$(MAKE)" tools/run-tests

# pytest exits 5 when it collects nothing: no soak tests is not a failure.
# The soak compares apwsgi with Apache's own C handler: needs the ceiling.
soak: deps
	@$(MAKE) --no-print-directory all ceiling
	@PYTHONPATH=python APWSGI_MODULE="$(abspath $(MODULE))" \
	    $(PYTHON) -m pytest -ra -m soak $(PYTEST_ARGS) tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "soak: no soak tests collected"; rc=0; fi; \
	exit $$rc

# The module built with AddressSanitizer and UBSan into $(BUILDDIR)/asan,
# then the suite against it (tools/asan-run preloads libasan in Apache).
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer
asan: deps
	@$(MAKE) --no-print-directory BUILDDIR=$(BUILDDIR)/asan \
	    CFLAGS="$(SANITIZE) -O1 $(CFLAGS)" LDFLAGS="$(SANITIZE) $(LDFLAGS)" all
	@PYTHON="$(PYTHON)" tools/asan-run \
	    "$(abspath $(BUILDDIR))/asan/mod_apwsgi.so" $(PYTEST_ARGS)

# A short request mix against `apache2 -X` under valgrind memcheck.
valgrind: deps
	@$(MAKE) --no-print-directory all
	@$(PYTHON) tools/valgrind-check "$(abspath $(MODULE))" $(VALGRIND_ARGS)

# ---- the documentation: docs/*.rst, built with Sphinx in its own venv ----
# -W: a warning (a broken reference, a bad directive) fails the build.
DOCS_VENV := $(BUILDDIR)/docs-venv
DOCS_STAMP := $(DOCS_VENV)/.installed

docs: $(DOCS_STAMP)
	$(DOCS_VENV)/bin/sphinx-build -W --keep-going -q -b html docs \
	    $(BUILDDIR)/docs
	@echo "docs: $(BUILDDIR)/docs/index.html"

# The venv is made again when the pins change.
$(DOCS_STAMP): docs/requirements.txt
	@rm -rf $(DOCS_VENV)
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install --disable-pip-version-check -q \
	    -r docs/requirements.txt
	@touch $@

# ---- lint: each lint-* target is one check; `make lint` runs them all ----
CLANG_FORMAT ?= clang-format
C_FILES := $(sort $(wildcard src/*.c src/*.h))

lint: lint-c lint-tags lint-py lint-spdx

# The checked-in .clang-format; prints what it would change.
lint-c:
	@command -v $(CLANG_FORMAT) >/dev/null || { \
	  echo "apwsgi: $(CLANG_FORMAT) not found: install clang-format" >&2; \
	  exit 1; }
	$(CLANG_FORMAT) --dry-run --Werror $(C_FILES)

# Every error-log tag used once, and listed at its level in docs/errors.rst.
lint-tags:
	$(PYTHON) tools/check-log-tags

# The SPDX license line in every source file (tools/check-spdx --fix adds
# it where it is missing).
lint-spdx:
	$(PYTHON) tools/check-spdx

# ruff, version pinned in requirements.txt, rules in ruff.toml.
PY_LINT_PATHS := python tests bench examples tools/valgrind-check \
                 tools/run-examples tools/check-log-tags \
                 tools/status-screenshot tools/contention-counts tools/check-spdx \
                 setup.py
lint-py: deps
	$(PYTHON) -m ruff check $(PY_LINT_PATHS)

# ---- the benchmark: see docs/performance.rst and bench/run.py --help ----
# make bench BENCH_ARGS='--quick --scenarios hello --mpms event'
bench: all ceiling
	PYTHONPATH=python $(PYTHON) bench/run.py --module $(MODULE) \
	    --ceiling-module $(CEILING) --python $(PYTHON) $(BENCH_ARGS)

# Flask, Django and I/O-bound waiting against granian and uWSGI.
bench-apps: all
	PYTHONPATH=python $(PYTHON) bench/run.py --family apps \
	    --module $(MODULE) --python $(PYTHON) $(BENCH_ARGS)

# Interpreter pools need an own GIL, so Python 3.12+: a second build.
bench-interp: ceiling
	@py="$(PYTHON312)"; \
	if [ -z "$$py" ] || [ ! -x "$$py" ]; then \
	  echo "bench-interp: no Python 3.12 found; set" \
	       "PYTHON312=/path/to/python3.12" >&2; exit 1; fi; \
	$(MAKE) --no-print-directory PYTHON="$$py" \
	    BUILDDIR=$(BUILDDIR)/py3.12 all && \
	tools/ensure-deps --access "$$py" && \
	PYTHONPATH=python $(PYTHON) bench/run.py --family interp \
	    --module $(BUILDDIR)/py3.12/mod_apwsgi.so \
	    --ceiling-module $(CEILING) --python "$$py" $(BENCH_ARGS)

# Apache's own minimal C handler: the harness's ceiling, also used by the
# reliability tests.  Its path and handler name ("ceiling") are fixed.
ceiling: $(CEILING)

$(CEILING): bench/ceiling/mod_ceiling.c | check-apxs
	@mkdir -p $(dir $@)
	@echo "  CC/LD   $@"
	$(Q)$(CC) $(APACHE_MODULE_CFLAGS) $(CFLAGS) -shared $(LDFLAGS) -o $@ $<

check-apxs:
	@if [ -z "$(APXS)" ]; then \
	  echo "apwsgi: apxs not found: install apache2-dev (Debian/Ubuntu)" \
	       "or httpd-devel (Fedora/RHEL)" >&2; exit 1; fi

install: all
	$(APXS) -i -S LIBEXECDIR="$(LIBEXECDIR)" -n apwsgi $(MODULE)
	@if [ -d "$(MODS_AVAILABLE)" ]; then \
	  sed 's|/usr/lib/apache2/modules|$(LIBEXECDIR)|' conf/apwsgi.load \
	    > "$(MODS_AVAILABLE)/apwsgi.load" && \
	  echo "installed $(MODS_AVAILABLE)/apwsgi.load: enable with 'a2enmod apwsgi'"; \
	fi

# ---- the Debian package (debian/): built in a copy under build/deb ----
deb:
	@tools/build-deb

# Builds, installs, serves, purges: see tools/test-deb.
test-deb:
	@tools/test-deb

clean:
	rm -rf $(BUILDDIR)

help:
	@sed -n '2,14s/^# \{0,1\}//p' Makefile

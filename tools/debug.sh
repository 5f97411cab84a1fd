#!/usr/bin/env bash
# The test suite against a debug build: C assertions, Cython bounds checks and
# the internal counters (includes/debug.h) that every test's teardown checks
# for balance (tests/conftest.py). Usage: tools/debug.sh [pytest args]
# PYTHON selects the interpreter (default python3).
source "$(dirname "$0")/_scratch.sh"
python=${PYTHON:-python3}
FASTSEL_DEBUG=1 "$python" setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }
"$python" -c 'from fastsel import _selectors_c; assert _selectors_c._debug_counters() is not None'
FASTSEL_IMPL=c "$python" -m pytest -q -p no:cacheprovider "$@" tests

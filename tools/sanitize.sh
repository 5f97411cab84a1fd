#!/usr/bin/env bash
# The whole test suite against an AddressSanitizer + UndefinedBehaviorSanitizer
# build of the extension. Usage: tools/sanitize.sh [pytest args]
#
# - Only fastsel is instrumented; the interpreter is not, so the ASan runtime
#   must be loaded first (LD_PRELOAD), before the interpreter's own malloc.
# - detect_leaks=0: CPython does not free everything at exit, and LeakSanitizer
#   would report those blocks; leaks are measured by tests/test_leaks.py and
#   tools/refleaks.sh instead.
# - UBSan stops at its first report (-fno-sanitize-recover in setup.py), and
#   halt_on_error makes an ASan report fail the run, so a clean exit is a
#   clean run.
source "$(dirname "$0")/_scratch.sh"
python=${PYTHON:-python3}
FASTSEL_SANITIZE=1 "$python" setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }
asan=$(${CC:-gcc} -print-file-name=libasan.so)
ubsan=$(${CC:-gcc} -print-file-name=libubsan.so)
export LD_PRELOAD="$asan:$ubsan"
# Reports go to files (pytest captures stderr, and an aborting process would
# take its captured output with it); they are printed at the end.
export ASAN_OPTIONS=detect_leaks=0:halt_on_error=1:abort_on_error=1:log_path=$scratch/sanitizer
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$scratch/sanitizer
"$python" -c 'import fastsel._selectors_c, fastsel._loop_c'
status=0
"$python" -m pytest -q -p no:cacheprovider "$@" tests || status=$?
if compgen -G "$scratch/sanitizer.*" >/dev/null; then
    cat "$scratch"/sanitizer.*
    status=1
fi
exit "$status"

#!/usr/bin/env bash
# Reference-leak checks on a debug interpreter (sys.gettotalrefcount), which
# tests/test_leaks.py needs and otherwise skips. Usage: tools/refleaks.sh
# [pytest args]; default: tests/test_leaks.py.
#
# Debian: apt-get install python3.11-dbg python3.11-dev. The debug interpreter
# gets its own virtual environment (FASTSEL_DBG_VENV, created on first use)
# with the pinned Cython, and the extension is built for it in a scratch copy
# (its ABI differs from the release interpreter's).
source "$(dirname "$0")/_scratch.sh"
dbg_python=${DBG_PYTHON:-python3.11-dbg}
venv=${FASTSEL_DBG_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/fastsel-dbg-venv}
"$dbg_python" -c 'import sys; assert hasattr(sys, "gettotalrefcount"), "not a debug interpreter"'
if [[ ! -x "$venv/bin/python" ]]; then
    "$dbg_python" -m venv "$venv"
    "$venv/bin/python" -m pip install -q "cython==3.3.1" pytest hypothesis setuptools
fi
# The TLS scenarios make their certificates with trustme.
"$venv/bin/python" -c 'import trustme' 2>/dev/null || "$venv/bin/python" -m pip install -q trustme
python="$venv/bin/python"
"$python" setup.py -q build_ext --inplace >build.log 2>&1 || { cat build.log; exit 1; }
(( $# )) || set -- tests/test_leaks.py
"$python" -m pytest -q -p no:cacheprovider -rs "$@"

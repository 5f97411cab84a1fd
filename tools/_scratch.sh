# Sourced by the checked-build scripts: copy the sources (no build products)
# into a scratch directory and cd there, so that an instrumented build never
# replaces the in-place release build. The directory is removed on exit
# unless FASTSEL_KEEP_SCRATCH=1.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/fastsel-check.XXXXXX")
if [[ "${FASTSEL_KEEP_SCRATCH:-0}" != 1 ]]; then
    trap 'rm -rf "$scratch"' EXIT
fi
tar -C "$repo" --exclude=.git --exclude=build --exclude='*.so' --exclude='fastsel/*.c' \
    --exclude='fastsel/*.html' --exclude=.hypothesis --exclude=.pytest_cache \
    --exclude='__pycache__' --exclude='.venv*' -cf - . | tar -C "$scratch" -xf -
cd "$scratch"
echo "fastsel: checked build in $scratch" >&2

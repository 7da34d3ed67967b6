#!/usr/bin/env bash
# Run the C accelerator (auditor/speed/_speedups.c) under AddressSanitizer.
#
#   tools/asan.sh [FUZZ_INPUTS]   (default 2000)
#
# Builds the extension with -fsanitize=address into a temporary copy of this tree
# (the checkout itself is not touched), then runs, with libasan preloaded into Python,
# the tests that exercise it and a short fuzz run. ASan aborts the process at the first
# invalid read, write or free, so any report fails the run. Needs gcc and libasan.
set -euo pipefail
cd "$(dirname "$0")/.."
inputs="${1:-2000}"
python="${PYTHON:-python}"
libasan="$(gcc -print-file-name=libasan.so)"
[ -e "$libasan" ] || { echo "libasan not found (gcc -print-file-name=libasan.so)" >&2; exit 2; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
git ls-files -z | xargs -0 -I{} cp --parents {} "$work"
include="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')"
suffix="$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
gcc -O1 -g -fsanitize=address -fno-omit-frame-pointer -shared -fPIC -I"$include" \
    auditor/speed/_speedups.c -o "$work/auditor/speed/_speedups$suffix"
cd "$work"
export LD_PRELOAD="$libasan" ASAN_OPTIONS=detect_leaks=0
"$python" -c 'from auditor.speed import speedups; assert speedups.available(), "the ASan build did not load"'
"$python" -m pytest -q -p no:cacheprovider tests/engine/test_speedups.py tests/engine/test_parsing.py tests/fuzz
"$python" tools/fuzz.py --examples "$inputs" --seed 5 | tail -1
echo "no AddressSanitizer report"

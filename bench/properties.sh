#!/bin/sh
# The scheduled (not per-commit) run of the Hypothesis properties: thousands of random
# tables and scenarios through the public API (tests/test_properties.py), any bytes as a
# centres file (tests/test_reader_fuzz.py), and the
# random-rules model test over 400 fixed seeds instead of 16 (tests/test_rules.py).
#
#   bench/properties.sh                           # 2,000 examples a property (~1 h on 2 cores)
#   HYPOTHESIS_MAX_EXAMPLES=500 bench/properties.sh   # a shorter one
#
# The outcome goes to bench/results/properties.txt (appended) as well as the terminal.
set -eu
cd "$(dirname "$0")/.."
mkdir -p bench/results
export HYPOTHESIS_PROFILE=thorough
{
    echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD)" \
        "HYPOTHESIS_MAX_EXAMPLES=${HYPOTHESIS_MAX_EXAMPLES:-2000}"
    .venv/bin/pytest -q -p no:cacheprovider --hypothesis-show-statistics \
        tests/test_properties.py tests/test_reader_fuzz.py \
        "tests/test_rules.py::test_random_rules_give_checked_layouts_or_plain_errors" 2>&1
} | tee -a bench/results/properties.txt

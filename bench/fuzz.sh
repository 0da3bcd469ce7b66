#!/usr/bin/env bash
# Fuzz campaign, long mode: every parser/decoder fuzz target (the `fuzz_tests` property tests
# next to each parser; stable toolchain, so proptest instead of cargo-fuzz) run FUZZ_EXECS
# times each (default 10,000,000) at nice 19, then a table: target, executions, panics,
# seconds. A panic fails the target's test (proptest stops at the first and shrinks it; the
# minimal input is printed in the log and saved under the crate's proptest-regressions/).
# FUZZ_EXECS=1000 bench/fuzz.sh for a smoke run; FUZZ_CRATES="api esdsl" for a subset;
# FUZZ_RELEASE=1 builds the tests optimized (more executions per CPU second, one more build).
# Also scales the older never-panic property tests (PROPTEST_CASES) of traces, alertmanager.yml
# and promtail's config.
set -uo pipefail
cd "$(dirname "$0")/.."
EXECS=${FUZZ_EXECS:-10000000}
CRATES=${FUZZ_CRATES:-"scrape promql logs esdsl errors config api traces alerting alertmanager tailer"}
PROFILE=()
[ "${FUZZ_RELEASE:-0}" = 1 ] && PROFILE=(--cargo-profile release)
LOG=$(mktemp -d /tmp/pharos-fuzz.XXXXXX)
export FUZZ_EXECS=$EXECS PROPTEST_CASES=$EXECS
failed=0
for c in $CRATES; do
    # fuzz_tests::fuzz_* everywhere; traces keeps its decoders' never-panic/mutation tests in place.
    filter='test(/fuzz_tests::fuzz_/)'
    [ "$c" = traces ] && filter='test(/fuzz_tests::fuzz_|never_panic|mutated_valid_body|mutations_never_panic/)'
    # alertmanager.yml and promtail's config keep their never-panic tests in their loaders.
    [ "$c" = alertmanager ] && filter='test(/config::tests::(never_panics|guide_mutations_never_panic)/)'
    [ "$c" = tailer ] && filter='test(/config::tests::config_parser_never_panics/)'
    nice -n 19 cargo nextest run -p "$c" --lib "${PROFILE[@]}" --no-fail-fast \
        --test-threads 1 --success-output never -E "$filter" >"$LOG/$c.log" 2>&1 || failed=1
done
printf '%-58s %12s %7s %9s\n' target executions panics seconds
for c in $CRATES; do
    grep -E '^\s+(PASS|FAIL|TIMEOUT|SIGSEGV|SIGABRT) \[' "$LOG/$c.log" | sed -E "s/^\\s+//; s/\\[\\s*/[ /; s/\\(\\s*/(/" | awk '!seen[$0]++' |
        while read -r status _ secs _ _ name; do
            secs=${secs%s]}
            if [ "$status" = PASS ]; then n=$EXECS p=0; else n='<'$EXECS p='>=1'; fi
            printf '%-58s %12s %7s %9s\n' "$c::${name#fuzz_tests::}" "$n" "$p" "$secs"
        done
done
echo "logs: $LOG"
exit $failed

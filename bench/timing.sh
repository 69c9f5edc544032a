# Shared by the benchmarks (sourced): timing helpers.

# Best wall seconds of 3 runs of "$@" (its output discarded). A command
# that must start from a clean state clears it itself.
best_wall() {
    local best=""
    for _ in 1 2 3; do
        local t0=$EPOCHREALTIME
        "$@" >/dev/null
        local t
        t=$(echo "$EPOCHREALTIME - $t0" | bc -l)
        if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; fi
    done
    echo "$best"
}

#!/usr/bin/env bash
# Database throughput on SQLite and PostgreSQL:
#   - import: `liu-engine import bars` of 1,000,000 synthetic minute bars into
#     an empty `bars` table, then the same file again (every bar an upsert of
#     an existing row); whole process, CSV parsing included;
#   - trade writes: `liu-engine bench-writes` (hidden) writes 1,000,000
#     `new_trades` rows through the writer a backtest uses, in one transaction.
# PostgreSQL: a scratch database on the server of $LIU_TEST_POSTGRES_URL
# (default: the local server, as for the tests), created and dropped here;
# skipped when psql is missing. Best of 3 runs.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=target/release/liu-engine
out=bench-out
mkdir -p "$out"
bars=1000000
csv="$out/minute-1m.csv"
[ -f "$csv" ] || "$engine" data generate --bars "$bars" --seed 7 -o "$csv"

sqlite="$out/bench-db.db"
backends=("$sqlite")
if command -v psql >/dev/null; then
    admin=${LIU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}
    scratch=liu_bench_db
    pg="${admin%/*}/$scratch"
    export PGOPTIONS="-c client_min_messages=warning"
    psql "$admin" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" -c "CREATE DATABASE $scratch"
    trap 'psql "$admin" -qc "DROP DATABASE IF EXISTS $scratch WITH (FORCE)"' EXIT
    backends+=("$pg")
else
    echo "psql not found: PostgreSQL skipped" >&2
fi

empty_bars() { # db
    if [ "$1" = "$sqlite" ]; then
        rm -f "$sqlite" "$sqlite"-*
    else
        "$engine" db migrate --db "$1" >/dev/null
        psql "$1" -qc "TRUNCATE bars"
    fi
}

rate() { # the "N rows/s" or "(N bars/s)" figure of a liu-engine summary line
    grep -oE '[0-9]+ (bars|rows)/s' | grep -oE '^[0-9]+'
}

best() { # best rate of 3 runs of "$@"; $before runs ahead of each
    local top=0
    for _ in 1 2 3; do
        $before
        local r
        r=$("$@" | rate)
        if [ "$r" -gt "$top" ]; then top=$r; fi
    done
    echo "$top"
}

for db in "${backends[@]}"; do
    name=$([ "$db" = "$sqlite" ] && echo SQLite || echo PostgreSQL)
    before="empty_bars $db"
    fresh=$(best "$engine" import bars "$csv" --db "$db")
    empty_bars "$db"
    "$engine" import bars "$csv" --db "$db" >/dev/null
    before=true
    again=$(best "$engine" import bars "$csv" --db "$db")
    before=true
    writes=$(best "$engine" bench-writes --rows "$bars" --db "$db")
    printf '%-10s import into an empty table %9d bars/s\n' "$name" "$fresh"
    printf '%-10s import again (all upserts) %9d bars/s\n' "$name" "$again"
    printf '%-10s new_trades writes          %9d rows/s\n' "$name" "$writes"
done

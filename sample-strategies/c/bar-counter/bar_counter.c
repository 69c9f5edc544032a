// Counts each symbol's bars across sessions with the `state` store: the C
// twin of sample-strategies/bar-counter, named bar-counter-c. A live session
// picks up the counts the last one kept and says so in its log; it never
// trades.

#include <stdlib.h>
#include <string.h>

#include "liu_strategy.h"

typedef struct {
    char *key; // "bars:<symbol>"; NULL for ids not ours
    uint64_t count;
} counter_t;

static counter_t *counters;
static size_t n_counters;

static bool init(const liu_params_t *p, liu_error_t *error) {
    (void)p;
    (void)error;
    return true;
}

// Decimal digits of `n` into `out` (at least 21 bytes), NUL-terminated:
// strategies have no snprintf.
static void format_u64(uint64_t n, char *out) {
    char digits[21];
    size_t len = 0;
    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n > 0);
    for (size_t i = 0; i < len; i++) out[i] = digits[len - 1 - i];
    out[len] = 0;
}

static liu_verdict_t add_symbol(liu_symbol_id_t symbol, const char *name) {
    if (symbol >= n_counters) {
        counter_t *grown = realloc(counters, (symbol + 1) * sizeof *grown);
        if (grown == NULL) abort();
        for (size_t i = n_counters; i <= symbol; i++) grown[i] = (counter_t){0};
        counters = grown;
        n_counters = symbol + 1;
    }
    counter_t *c = &counters[symbol];
    free(c->key);
    size_t len = strlen(name);
    c->key = malloc(len + 6);
    if (c->key == NULL) abort();
    memcpy(c->key, "bars:", 5);
    memcpy(c->key + 5, name, len + 1);
    c->count = 0;
    char *kept = liu_state_get(c->key);
    if (kept != NULL) {
        c->count = strtoull(kept, NULL, 10);
        free(kept);
    }
    if (c->count > 0) {
        char count[21];
        format_u64(c->count, count);
        size_t n = strlen(name), m = strlen(count);
        const char *prefix = "bar-counter-c: resuming ";
        char *line = malloc(strlen(prefix) + n + 4 + m + 1);
        if (line == NULL) abort();
        strcpy(line, prefix);
        strcat(line, name);
        strcat(line, " at ");
        strcat(line, count);
        liu_log_info(line);
        free(line);
    }
    return LIU_VERDICT_KEEP;
}

static liu_verdict_t on_bar(liu_symbol_id_t symbol, liu_timeframe_t timeframe, const liu_bar_t *bar) {
    (void)timeframe;
    (void)bar;
    if (symbol >= n_counters || counters[symbol].key == NULL) return LIU_VERDICT_KEEP;
    counter_t *c = &counters[symbol];
    c->count++;
    char value[21];
    format_u64(c->count, value);
    char *why = NULL;
    if (!liu_state_set(c->key, value, &why)) {
        liu_log_warn(why ? why : "bar-counter-c: state.set refused");
        free(why);
    }
    return LIU_VERDICT_KEEP;
}

static const liu_strategy_t bar_counter = {
    .name = "bar-counter-c",
    .init = init,
    .add_symbol = add_symbol,
    .on_bar = on_bar,
};

LIU_EXPORT_STRATEGY(bar_counter);

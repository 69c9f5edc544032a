// SMA crossover, long and short: the C twin of sample-strategies/sma-cross.
//
// On each bar: when the fast SMA crosses above the slow one (previous fast <
// previous slow and current fast > current slow) close any short and go long
// `qty`; on the opposite cross close any long and go short `qty`.

#include <stdlib.h>

#include "liu_strategy.h"

// Per-symbol state: the two windows and the previous bar's averages.
typedef struct series {
    bool active;
    liu_window_t fast, slow;
    bool has_previous;
    double prev_fast, prev_slow;
} series_t;

static int64_t fast_len, slow_len;
static double qty;
// Indexed by symbol id (dense, small integers), grown on demand.
static series_t *symbols;
static size_t n_symbols;

static const liu_param_spec_t params[] = {
    LIU_PARAM_INTEGER("fast", 10, "fast SMA period, in bars"),
    LIU_PARAM_INTEGER("slow", 30, "slow SMA period, in bars"),
    LIU_PARAM_FLOAT("qty", 100.0, "shares per position"),
};

static bool init(const liu_params_t *p, liu_error_t *error) {
    if (!liu_params_integer(p, "fast", &fast_len, error) || !liu_params_integer(p, "slow", &slow_len, error) ||
        !liu_params_float(p, "qty", &qty, error)) {
        return false;
    }
    if (fast_len < 1 || slow_len <= fast_len) {
        liu_error_str(error, "need 1 <= fast < slow, got fast=");
        liu_error_int(error, fast_len);
        liu_error_str(error, " slow=");
        liu_error_int(error, slow_len);
        return false;
    }
    if (!(qty > 0 && isfinite(qty))) {
        liu_error_str(error, "qty must be a positive number, got ");
        liu_error_num(error, qty);
        return false;
    }
    return true;
}

static liu_verdict_t add_symbol(liu_symbol_id_t symbol, const char *name) {
    (void)name;
    if (symbol >= n_symbols) {
        series_t *grown = realloc(symbols, (symbol + 1) * sizeof *grown);
        if (grown == NULL) abort();
        for (size_t i = n_symbols; i <= symbol; i++) grown[i] = (series_t){0};
        symbols = grown;
        n_symbols = symbol + 1;
    }
    series_t *s = &symbols[symbol];
    liu_window_free(&s->fast);
    liu_window_free(&s->slow);
    *s = (series_t){.active = true};
    if (!liu_window_init(&s->fast, (size_t)fast_len) || !liu_window_init(&s->slow, (size_t)slow_len)) abort();
    return LIU_VERDICT_KEEP;
}

static liu_verdict_t on_bar(liu_symbol_id_t symbol, liu_timeframe_t timeframe, const liu_bar_t *bar) {
    (void)timeframe;
    if (symbol >= n_symbols || !symbols[symbol].active) return LIU_VERDICT_KEEP;
    series_t *s = &symbols[symbol];
    liu_window_push(&s->fast, bar->close);
    liu_window_push(&s->slow, bar->close);
    double fast, slow;
    if (!liu_window_mean(&s->fast, &fast) || !liu_window_mean(&s->slow, &slow)) return LIU_VERDICT_KEEP;
    bool had_previous = s->has_previous;
    double prev_fast = s->prev_fast, prev_slow = s->prev_slow;
    s->has_previous = true;
    s->prev_fast = fast;
    s->prev_slow = slow;
    if (!had_previous) return LIU_VERDICT_KEEP;
    // Move to +qty / -qty in one order: it covers any opposite position first.
    double target;
    if (prev_fast < prev_slow && fast > slow) {
        target = qty;
    } else if (prev_fast > prev_slow && fast < slow) {
        target = -qty;
    } else {
        return LIU_VERDICT_KEEP;
    }
    double delta = target - liu_get_position(symbol).qty;
    if (delta > 0) {
        liu_order_market(symbol, LIU_SIDE_BUY, delta, NULL, NULL);
    } else if (delta < 0) {
        liu_order_market(symbol, LIU_SIDE_SELL, -delta, NULL, NULL);
    }
    return LIU_VERDICT_KEEP;
}

static const liu_strategy_t sma_cross = {
    .name = "sma-cross",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .init = init,
    .add_symbol = add_symbol,
    .on_bar = on_bar,
};

LIU_EXPORT_STRATEGY(sma_cross);

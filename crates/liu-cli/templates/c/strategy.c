// {{name}}: buys `qty` of each symbol on its first bar and holds it.
// Replace the logic; strategy-sdk/c/README.md lists what a strategy may use.

#include <stdbool.h>
#include <stdint.h>

#include "liu_strategy.h"

#define MAX_SYMBOLS 4096

static double qty;
static bool bought[MAX_SYMBOLS];

static const liu_param_spec_t params[] = {
    LIU_PARAM_FLOAT("qty", 10.0, "shares to buy"),
};

static bool init(const liu_params_t *p, liu_error_t *error) {
    if (!liu_params_float(p, "qty", &qty, error)) return false;
    if (!(qty > 0 && qty < INFINITY)) {
        liu_error_str(error, "qty must be a positive number, got ");
        liu_error_num(error, qty);
        return false;
    }
    return true;
}

static liu_verdict_t on_bar(liu_symbol_id_t symbol, liu_timeframe_t timeframe, const liu_bar_t *bar) {
    (void)timeframe;
    (void)bar;
    if (symbol < MAX_SYMBOLS && !bought[symbol]) {
        bought[symbol] = liu_order_market(symbol, LIU_SIDE_BUY, qty, NULL, NULL);
    }
    return LIU_VERDICT_KEEP;
}

static const liu_strategy_t strategy = {
    .name = "{{name}}",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .init = init,
    .on_bar = on_bar,
};

LIU_EXPORT_STRATEGY(strategy);

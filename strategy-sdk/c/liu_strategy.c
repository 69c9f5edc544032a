// The C SDK's implementation: the world's exports forwarding to the
// exported liu_strategy_t, and thin wrappers over the generated imports that
// own and free the bindings' memory so strategies rarely have to.

#include "liu_strategy.h"

#include <stdlib.h>
#include <string.h>

extern const liu_strategy_t *const liu_exported_strategy;

struct liu_params {
    strategy_list_tuple2_string_param_value_t *list;
};

// Events before a successful `init` are ignored, as in the other SDKs.
static bool initialized;

// ---- Errors -------------------------------------------------------------

void liu_error_str(liu_error_t *error, const char *text) {
    size_t room = sizeof error->message - 1 - error->len;
    size_t n = strlen(text);
    if (n > room) n = room;
    memcpy(error->message + error->len, text, n);
    error->len += n;
    error->message[error->len] = '\0';
}

void liu_error_int(liu_error_t *error, int64_t value) {
    char digits[24];
    size_t i = sizeof digits;
    digits[--i] = '\0';
    // Negate digit by digit so that INT64_MIN does not overflow.
    bool negative = value < 0;
    do {
        int d = (int)(value % 10);
        digits[--i] = (char)('0' + (d < 0 ? -d : d));
        value /= 10;
    } while (value != 0);
    if (negative) digits[--i] = '-';
    liu_error_str(error, digits + i);
}

void liu_error_num(liu_error_t *error, double value) {
    if (isnan(value)) {
        liu_error_str(error, "NaN");
    } else if (isinf(value)) {
        liu_error_str(error, value > 0 ? "inf" : "-inf");
    } else if (value == trunc(value) && fabs(value) < 1e18) {
        liu_error_int(error, (int64_t)value);
    } else {
        // Fewest significant digits (up to 17) that give the value back.
        int exponent = (int)floor(log10(fabs(value)));
        int digits = 1;
        double scaled = 0;
        for (; digits <= 17; digits++) {
            scaled = round(value * pow(10, digits - 1 - exponent));
            if (scaled * pow(10, exponent + 1 - digits) == value) break;
        }
        if (digits > 17) digits = 17;
        if (value < 0) liu_error_str(error, "-");
        char text[48];
        size_t at = 0;
        int point = exponent + 1; // digits before the decimal point
        int64_t n = (int64_t)fabs(scaled);
        char ds[20];
        for (int k = 0; k < digits; k++, n /= 10) ds[digits - 1 - k] = (char)('0' + n % 10);
        if (point <= 0) {
            text[at++] = '0';
            text[at++] = '.';
            for (int k = point; k < 0 && at < 40; k++) text[at++] = '0';
            for (int k = 0; k < digits && at < 46; k++) text[at++] = ds[k];
        } else {
            for (int k = 0; k < point && at < 40; k++) text[at++] = k < digits ? ds[k] : '0';
            if (point < digits) {
                text[at++] = '.';
                for (int k = point; k < digits && at < 46; k++) text[at++] = ds[k];
            }
        }
        text[at] = '\0';
        liu_error_str(error, text);
    }
}

// ---- Parameters ---------------------------------------------------------

static const liu_engine_types_param_value_t *find_param(const liu_params_t *params, const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < params->list->len; i++) {
        const strategy_string_t *key = &params->list->ptr[i].f0;
        if (key->len == n && memcmp(key->ptr, name, n) == 0) return &params->list->ptr[i].f1;
    }
    return NULL;
}

static bool wrong_kind(const char *name, const char *expected, const liu_engine_types_param_value_t *v,
                       liu_error_t *error) {
    static const char *const kinds[] = {"integer", "float", "text", "flag"};
    liu_error_str(error, "parameter ");
    liu_error_str(error, name);
    liu_error_str(error, ": expected ");
    liu_error_str(error, expected);
    liu_error_str(error, ", got ");
    liu_error_str(error, v == NULL ? "nothing" : kinds[v->tag]);
    return false;
}

bool liu_params_integer(const liu_params_t *params, const char *name, int64_t *out, liu_error_t *error) {
    const liu_engine_types_param_value_t *v = find_param(params, name);
    if (v == NULL || v->tag != LIU_ENGINE_TYPES_PARAM_VALUE_INTEGER) return wrong_kind(name, "an integer", v, error);
    *out = v->val.integer;
    return true;
}

bool liu_params_float(const liu_params_t *params, const char *name, double *out, liu_error_t *error) {
    const liu_engine_types_param_value_t *v = find_param(params, name);
    if (v != NULL && v->tag == LIU_ENGINE_TYPES_PARAM_VALUE_FLOAT) {
        *out = v->val.float_;
        return true;
    }
    if (v != NULL && v->tag == LIU_ENGINE_TYPES_PARAM_VALUE_INTEGER) {
        *out = (double)v->val.integer;
        return true;
    }
    return wrong_kind(name, "a number", v, error);
}

bool liu_params_text(const liu_params_t *params, const char *name, const char **out, liu_error_t *error) {
    const liu_engine_types_param_value_t *v = find_param(params, name);
    if (v == NULL || v->tag != LIU_ENGINE_TYPES_PARAM_VALUE_TEXT) return wrong_kind(name, "text", v, error);
    // WIT strings are not NUL-terminated: give the caller a terminated copy
    // that lives as long as the parameters (freed after `init`).
    strategy_string_t *s = (strategy_string_t *)&v->val.text;
    uint8_t *copy = malloc(s->len + 1);
    if (copy == NULL) return wrong_kind(name, "text (out of memory)", v, error);
    memcpy(copy, s->ptr, s->len);
    copy[s->len] = '\0';
    free(s->ptr);
    s->ptr = copy;
    *out = (const char *)copy;
    return true;
}

bool liu_params_flag(const liu_params_t *params, const char *name, bool *out, liu_error_t *error) {
    const liu_engine_types_param_value_t *v = find_param(params, name);
    if (v == NULL || v->tag != LIU_ENGINE_TYPES_PARAM_VALUE_FLAG) return wrong_kind(name, "true/false", v, error);
    *out = v->val.flag;
    return true;
}

// ---- The world's exports ------------------------------------------------

void exports_strategy_describe(strategy_strategy_info_t *ret) {
    const liu_strategy_t *s = liu_exported_strategy;
    // Returned memory is freed by the bindings' post-return: duplicate it all.
    strategy_string_dup(&ret->name, s->name);
    strategy_string_dup(&ret->version, s->version ? s->version : "0.1.0");
    ret->params.len = s->n_params;
    ret->params.ptr = calloc(s->n_params ? s->n_params : 1, sizeof *ret->params.ptr);
    for (size_t i = 0; i < s->n_params; i++) {
        const liu_param_spec_t *p = &s->params[i];
        liu_engine_types_param_spec_t *out = &ret->params.ptr[i];
        strategy_string_dup(&out->name, p->name);
        strategy_string_dup(&out->description, p->description);
        out->kind = p->kind;
        out->default_.is_some = p->has_default;
        out->default_.val.tag = p->kind; // param-kind and param-value cases share their order
        switch (p->kind) {
        case LIU_PARAM_KIND_INTEGER: out->default_.val.val.integer = p->default_value.integer; break;
        case LIU_PARAM_KIND_FLOAT: out->default_.val.val.float_ = p->default_value.number; break;
        case LIU_PARAM_KIND_TEXT:
            if (p->has_default) strategy_string_dup(&out->default_.val.val.text, p->default_value.text);
            break;
        default: out->default_.val.val.flag = p->default_value.flag; break;
        }
    }
}

bool exports_strategy_init(strategy_list_tuple2_string_param_value_t *list, strategy_string_t *err) {
    liu_params_t params = {list};
    liu_error_t error = {.len = 0};
    error.message[0] = '\0';
    initialized = liu_exported_strategy->init(&params, &error);
    strategy_list_tuple2_string_param_value_free(list);
    if (!initialized) strategy_string_dup(err, error.message);
    return initialized;
}

strategy_verdict_t exports_strategy_add_symbol(strategy_symbol_id_t symbol, strategy_string_t *name) {
    liu_verdict_t verdict = LIU_VERDICT_KEEP;
    if (initialized && liu_exported_strategy->add_symbol) {
        char *text = malloc(name->len + 1);
        if (text != NULL) {
            memcpy(text, name->ptr, name->len);
            text[name->len] = '\0';
            verdict = liu_exported_strategy->add_symbol(symbol, text);
            free(text);
        }
    }
    strategy_string_free(name);
    return verdict;
}

strategy_verdict_t exports_strategy_on_bar(strategy_symbol_id_t symbol, strategy_timeframe_t timeframe,
                                           strategy_bar_t *bar) {
    if (!initialized || !liu_exported_strategy->on_bar) return LIU_VERDICT_KEEP;
    return liu_exported_strategy->on_bar(symbol, timeframe, bar);
}

strategy_verdict_t exports_strategy_on_trade(strategy_symbol_id_t symbol, strategy_trade_t *trade) {
    if (!initialized || !liu_exported_strategy->on_trade) return LIU_VERDICT_KEEP;
    return liu_exported_strategy->on_trade(symbol, trade);
}

strategy_verdict_t exports_strategy_on_quote(strategy_symbol_id_t symbol, strategy_quote_t *quote) {
    if (!initialized || !liu_exported_strategy->on_quote) return LIU_VERDICT_KEEP;
    return liu_exported_strategy->on_quote(symbol, quote);
}

void exports_strategy_on_order_update(strategy_order_update_t *update) {
    if (initialized && liu_exported_strategy->on_order_update) liu_exported_strategy->on_order_update(update);
    strategy_order_update_free(update);
}

bool exports_strategy_wants_run_all(void) {
    return initialized && liu_exported_strategy->wants_run_all && liu_exported_strategy->wants_run_all();
}

void exports_strategy_run_all(strategy_timestamp_t time) {
    if (initialized && liu_exported_strategy->run_all) liu_exported_strategy->run_all(time);
}

// ---- Rolling window -----------------------------------------------------

bool liu_window_init(liu_window_t *window, size_t len) {
    *window = (liu_window_t){0};
    if (len == 0) return false;
    window->values = calloc(len, sizeof(double));
    window->len = len;
    return window->values != NULL;
}

// The sum of the held values, oldest to newest.
static double window_resum(const liu_window_t *window) {
    size_t oldest = window->filled ? window->next : 0;
    size_t count = window->filled ? window->len : window->next;
    double total = 0.0;
    for (size_t i = 0, at = oldest; i < count; i++) {
        total += window->values[at];
        if (++at == window->len) at = 0;
    }
    return total;
}

void liu_window_push(liu_window_t *window, double value) {
    // While filling, the slot holds 0.0 and nothing leaves.
    double leaving = window->values[window->next];
    window->values[window->next] = value;
    if (++window->next == window->len) {
        window->next = 0;
        window->filled = true;
        window->sum = window_resum(window);
    } else {
        window->sum = (window->sum - leaving) + value;
        if (!isfinite(window->sum)) window->sum = window_resum(window);
    }
}

bool liu_window_mean(const liu_window_t *window, double *out) {
    if (!window->filled) return false;
    *out = window->sum / (double)window->len;
    return true;
}

void liu_window_free(liu_window_t *window) {
    free(window->values);
    *window = (liu_window_t){0};
}

// ---- Market data and indicators -----------------------------------------

liu_position_t liu_get_position(liu_symbol_id_t symbol) {
    liu_position_t position;
    liu_engine_market_data_get_position(symbol, &position);
    return position;
}

liu_account_t liu_get_account(void) {
    liu_account_t account;
    liu_engine_market_data_get_account(&account);
    return account;
}

liu_timestamp_t liu_now(void) {
    return liu_engine_market_data_now();
}

liu_f64_list_t liu_closes(liu_symbol_id_t symbol, liu_timeframe_t timeframe, uint32_t count) {
    liu_f64_list_t closes;
    liu_engine_market_data_closes(symbol, timeframe, count, &closes);
    return closes;
}

void liu_f64_list_free(liu_f64_list_t *list) {
    strategy_list_f64_free(list);
}

// The bindings take a mutable list they do not modify or free.
#define SERIES(fn, values, n, period)                                \
    liu_f64_list_t in = {(double *)(values), (n)}, out;              \
    liu_engine_fincalcs_##fn(&in, (period), &out);                   \
    return out

liu_f64_list_t liu_sma(const double *values, size_t n, uint32_t period) { SERIES(sma, values, n, period); }
liu_f64_list_t liu_ema(const double *values, size_t n, uint32_t period) { SERIES(ema, values, n, period); }
liu_f64_list_t liu_rsi(const double *values, size_t n, uint32_t period) { SERIES(rsi, values, n, period); }
liu_f64_list_t liu_stddev(const double *values, size_t n, uint32_t period) { SERIES(stddev, values, n, period); }

// ---- Orders -------------------------------------------------------------

liu_order_request_t liu_order_request(liu_symbol_id_t symbol, liu_side_t side, double qty) {
    return (liu_order_request_t){
        .symbol = symbol,
        .side = side,
        .qty = qty,
        .kind = LIU_ENGINE_TYPES_ORDER_KIND_MARKET,
        .time_in_force = LIU_ENGINE_TYPES_TIME_IN_FORCE_DAY,
        .indicators = {(uint8_t *)"", 0},
    };
}

static bool rejected(liu_rejection_t *reason, liu_rejection_t *why) {
    if (why != NULL) {
        *why = *reason;
    } else {
        liu_engine_orders_rejection_free(reason);
    }
    return false;
}

bool liu_order_submit(liu_order_request_t *request, liu_order_id_t *id, liu_rejection_t *why) {
    liu_order_id_t order;
    liu_rejection_t reason;
    if (!liu_engine_orders_submit(request, &order, &reason)) return rejected(&reason, why);
    if (id != NULL) *id = order;
    return true;
}

bool liu_order_market(liu_symbol_id_t symbol, liu_side_t side, double qty, liu_order_id_t *id, liu_rejection_t *why) {
    liu_order_request_t request = liu_order_request(symbol, side, qty);
    return liu_order_submit(&request, id, why);
}

bool liu_order_limit(liu_symbol_id_t symbol, liu_side_t side, double qty, double price, liu_order_id_t *id,
                     liu_rejection_t *why) {
    liu_order_request_t request = liu_order_request(symbol, side, qty);
    request.kind = LIU_ENGINE_TYPES_ORDER_KIND_LIMIT;
    request.limit_price = (strategy_option_f64_t){true, price};
    return liu_order_submit(&request, id, why);
}

bool liu_order_cancel(liu_order_id_t order, liu_rejection_t *why) {
    liu_rejection_t reason;
    if (!liu_engine_orders_cancel(order, &reason)) return rejected(&reason, why);
    return true;
}

bool liu_close_position(liu_symbol_id_t symbol, liu_order_id_t *id, liu_rejection_t *why) {
    double qty = liu_get_position(symbol).qty;
    if (qty > 0) return liu_order_market(symbol, LIU_SIDE_SELL, qty, id, why);
    if (qty < 0) return liu_order_market(symbol, LIU_SIDE_BUY, -qty, id, why);
    return true;
}

void liu_rejection_free(liu_rejection_t *why) {
    liu_engine_orders_rejection_free(why);
}

// ---- Logging ------------------------------------------------------------

static void log_at(liu_engine_log_level_t level, const char *message) {
    strategy_string_t text = {(uint8_t *)message, strlen(message)};
    liu_engine_log_log(level, &text);
}

void liu_log_debug(const char *message) { log_at(LIU_ENGINE_LOG_LEVEL_DEBUG, message); }
void liu_log_info(const char *message) { log_at(LIU_ENGINE_LOG_LEVEL_INFO, message); }
void liu_log_warn(const char *message) { log_at(LIU_ENGINE_LOG_LEVEL_WARN, message); }
void liu_log_error(const char *message) { log_at(LIU_ENGINE_LOG_LEVEL_ERROR, message); }

static strategy_string_t borrowed(const char *text) {
    strategy_string_t s = {(uint8_t *)text, strlen(text)};
    return s;
}

// A NUL-terminated copy of `s`, which is freed.
static char *take_string(strategy_string_t *s) {
    char *out = malloc(s->len + 1);
    if (out) {
        memcpy(out, s->ptr, s->len);
        out[s->len] = 0;
    }
    strategy_string_free(s);
    return out;
}

char *liu_state_get(const char *key) {
    strategy_string_t k = borrowed(key), value;
    return liu_engine_state_get(&k, &value) ? take_string(&value) : NULL;
}

bool liu_state_set(const char *key, const char *value, char **why) {
    strategy_string_t k = borrowed(key), v = borrowed(value), err;
    if (liu_engine_state_set(&k, &v, &err)) {
        if (why) *why = NULL;
        return true;
    }
    if (why) {
        *why = take_string(&err);
    } else {
        strategy_string_free(&err);
    }
    return false;
}

void liu_state_delete(const char *key) {
    strategy_string_t k = borrowed(key);
    liu_engine_state_delete(&k);
}

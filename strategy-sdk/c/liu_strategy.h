// Write liu-engine trading strategies in C.
//
// Fill a `liu_strategy_t` with a name, the parameters and the handlers you
// need, and export it with LIU_EXPORT_STRATEGY; build with clang for wasm32
// (see README.md) and wrap the module with `liu-engine component new`. This
// header is a thin layer over the wit-bindgen bindings in bindings/ (which
// stay usable for anything not wrapped here: every fincalcs function, bars,
// quotes). Strategies get no WASI: stdio (printf, even snprintf), clocks,
// files and sockets are unavailable, and using them leaves an import that
// `component new` refuses; malloc and the string and math functions work.

#ifndef LIU_STRATEGY_H
#define LIU_STRATEGY_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bindings/strategy.h"

typedef liu_engine_types_symbol_id_t liu_symbol_id_t;
typedef liu_engine_types_timestamp_t liu_timestamp_t;
typedef liu_engine_types_order_id_t liu_order_id_t;
typedef liu_engine_types_timeframe_t liu_timeframe_t;
typedef liu_engine_types_bar_t liu_bar_t;
typedef liu_engine_types_trade_t liu_trade_t;
typedef liu_engine_types_quote_t liu_quote_t;
typedef liu_engine_types_verdict_t liu_verdict_t;
typedef liu_engine_types_side_t liu_side_t;
typedef liu_engine_types_position_t liu_position_t;
typedef liu_engine_types_account_t liu_account_t;
typedef liu_engine_types_order_update_t liu_order_update_t;
typedef liu_engine_types_param_kind_t liu_param_kind_t;
typedef liu_engine_orders_order_request_t liu_order_request_t;
typedef liu_engine_orders_rejection_t liu_rejection_t;
typedef strategy_list_f64_t liu_f64_list_t;

#define LIU_VERDICT_KEEP LIU_ENGINE_TYPES_VERDICT_KEEP
#define LIU_VERDICT_REJECT_SYMBOL LIU_ENGINE_TYPES_VERDICT_REJECT_SYMBOL
#define LIU_SIDE_BUY LIU_ENGINE_TYPES_SIDE_BUY
#define LIU_SIDE_SELL LIU_ENGINE_TYPES_SIDE_SELL
#define LIU_TIMEFRAME_SECOND LIU_ENGINE_TYPES_TIMEFRAME_SECOND
#define LIU_TIMEFRAME_MINUTE LIU_ENGINE_TYPES_TIMEFRAME_MINUTE
#define LIU_TIMEFRAME_DAY LIU_ENGINE_TYPES_TIMEFRAME_DAY
#define LIU_PARAM_KIND_INTEGER LIU_ENGINE_TYPES_PARAM_KIND_INTEGER
#define LIU_PARAM_KIND_FLOAT LIU_ENGINE_TYPES_PARAM_KIND_FLOAT
#define LIU_PARAM_KIND_TEXT LIU_ENGINE_TYPES_PARAM_KIND_TEXT
#define LIU_PARAM_KIND_FLAG LIU_ENGINE_TYPES_PARAM_KIND_FLAG

// ---- Parameters -------------------------------------------------------

// One parameter a strategy declares; build them with the LIU_PARAM_* macros.
typedef struct liu_param_spec {
    const char *name;
    liu_param_kind_t kind;
    bool has_default;
    union {
        int64_t integer;
        double number;
        const char *text;
        bool flag;
    } default_value;
    const char *description;
} liu_param_spec_t;

#define LIU_PARAM_INTEGER(n, d, desc) \
    { .name = (n), .kind = LIU_PARAM_KIND_INTEGER, .has_default = true, .default_value.integer = (d), .description = (desc) }
#define LIU_PARAM_FLOAT(n, d, desc) \
    { .name = (n), .kind = LIU_PARAM_KIND_FLOAT, .has_default = true, .default_value.number = (d), .description = (desc) }
#define LIU_PARAM_TEXT(n, d, desc) \
    { .name = (n), .kind = LIU_PARAM_KIND_TEXT, .has_default = true, .default_value.text = (d), .description = (desc) }
#define LIU_PARAM_FLAG(n, d, desc) \
    { .name = (n), .kind = LIU_PARAM_KIND_FLAG, .has_default = true, .default_value.flag = (d), .description = (desc) }
// A parameter the user must always give.
#define LIU_PARAM_REQUIRED(n, k, desc) { .name = (n), .kind = (k), .has_default = false, .description = (desc) }

// Why `init` refuses to start: a message built without printf (which would
// need WASI). Appends are truncated at the buffer's end.
typedef struct liu_error {
    char message[512];
    size_t len;
} liu_error_t;

void liu_error_str(liu_error_t *error, const char *text);
void liu_error_int(liu_error_t *error, int64_t value);
// A float as Rust's `{}` prints it for integral values, NaN and infinities
// ("100", "-5", "NaN", "inf"); other values get up to 17 significant digits.
void liu_error_num(liu_error_t *error, double value);

// The parameters the engine passed to `init`, already checked against the
// declared ones. Each accessor returns false with `error` set when the
// value is missing or of another kind.
typedef struct liu_params liu_params_t;

bool liu_params_integer(const liu_params_t *params, const char *name, int64_t *out, liu_error_t *error);
// A float parameter; an integer value is accepted and widened.
bool liu_params_float(const liu_params_t *params, const char *name, double *out, liu_error_t *error);
// Text is NUL-terminated and valid until `init` returns; copy what you keep.
bool liu_params_text(const liu_params_t *params, const char *name, const char **out, liu_error_t *error);
bool liu_params_flag(const liu_params_t *params, const char *name, bool *out, liu_error_t *error);

// ---- The strategy -----------------------------------------------------

// A trading strategy: `name` and `init` are required, any other handler
// may be NULL (do nothing, keep the symbol).
typedef struct liu_strategy {
    const char *name;
    const char *version; // NULL: "0.1.0"
    const liu_param_spec_t *params;
    size_t n_params;
    // Read the parameters; return false with `error` set to refuse to start.
    bool (*init)(const liu_params_t *params, liu_error_t *error);
    // `name` is NUL-terminated and valid during the call.
    liu_verdict_t (*add_symbol)(liu_symbol_id_t symbol, const char *name);
    liu_verdict_t (*on_bar)(liu_symbol_id_t symbol, liu_timeframe_t timeframe, const liu_bar_t *bar);
    liu_verdict_t (*on_trade)(liu_symbol_id_t symbol, const liu_trade_t *trade);
    liu_verdict_t (*on_quote)(liu_symbol_id_t symbol, const liu_quote_t *quote);
    void (*on_order_update)(const liu_order_update_t *update);
    bool (*wants_run_all)(void);
    void (*run_all)(liu_timestamp_t time);
} liu_strategy_t;

// Makes `definition` (a liu_strategy_t) the component's strategy.
#define LIU_EXPORT_STRATEGY(definition) const liu_strategy_t *const liu_exported_strategy = &(definition)

// ---- Rolling window ---------------------------------------------------

// The last `len` values of a series, with their sum kept as they arrive: a
// push costs O(1). So that rounding never accumulates, the sum is taken again
// oldest to newest each time the window wraps and whenever the running sum is
// not finite. Every SDK defines the mean by exactly these operations, so
// strategies in different languages give bit-identical results.
typedef struct liu_window {
    double *values;
    size_t len;
    size_t next;
    bool filled;
    double sum;
} liu_window_t;

// False when `len` is 0 or memory is exhausted.
bool liu_window_init(liu_window_t *window, size_t len);
void liu_window_push(liu_window_t *window, double value);
// The mean of a full window into *out; false while it is filling.
bool liu_window_mean(const liu_window_t *window, double *out);
void liu_window_free(liu_window_t *window);

// ---- Market data ------------------------------------------------------

liu_position_t liu_get_position(liu_symbol_id_t symbol);
liu_account_t liu_get_account(void);
liu_timestamp_t liu_now(void);
// Up to `count` most recent closes, oldest first; free with liu_f64_list_free.
liu_f64_list_t liu_closes(liu_symbol_id_t symbol, liu_timeframe_t timeframe, uint32_t count);
void liu_f64_list_free(liu_f64_list_t *list);

// ---- Indicators (host-native) ----------------------------------------
// Series of the input's length, NaN before defined; free with liu_f64_list_free.
// The rest (macd, bollinger, atr, vwap, ...) are the liu_engine_fincalcs_*
// functions of bindings/strategy.h.

liu_f64_list_t liu_sma(const double *values, size_t n, uint32_t period);
liu_f64_list_t liu_ema(const double *values, size_t n, uint32_t period);
liu_f64_list_t liu_rsi(const double *values, size_t n, uint32_t period);
liu_f64_list_t liu_stddev(const double *values, size_t n, uint32_t period);

// ---- Orders -----------------------------------------------------------
// Each call returns true when the engine accepted the order, storing its id
// in `*id`; on refusal it returns false and, when `why` is not NULL, stores
// the reason (release it with liu_rejection_free). `id` may be NULL.

// A request for `qty` at market, good for the day, with no extras.
liu_order_request_t liu_order_request(liu_symbol_id_t symbol, liu_side_t side, double qty);
bool liu_order_submit(liu_order_request_t *request, liu_order_id_t *id, liu_rejection_t *why);
bool liu_order_market(liu_symbol_id_t symbol, liu_side_t side, double qty, liu_order_id_t *id, liu_rejection_t *why);
bool liu_order_limit(liu_symbol_id_t symbol, liu_side_t side, double qty, double price, liu_order_id_t *id,
                     liu_rejection_t *why);
bool liu_order_cancel(liu_order_id_t order, liu_rejection_t *why);
// Close the whole position at market; true with *id unset when already flat.
bool liu_close_position(liu_symbol_id_t symbol, liu_order_id_t *id, liu_rejection_t *why);
void liu_rejection_free(liu_rejection_t *why);

// ---- Logging (bounded per strategy by the engine) ---------------------

void liu_log_debug(const char *message);
void liu_log_info(const char *message);
void liu_log_warn(const char *message);
void liu_log_error(const char *message);

// ---- The strategy's own state store -----------------------------------
// Kept across live sessions (per strategy name and environment; shared by
// the strategy's instances in every consumer, so key per-symbol values by
// symbol). A backtest starts empty and keeps nothing. Keys up to 256 bytes,
// values up to 64 KiB, at most 1024 keys.

// The value under `key` as a NUL-terminated copy the caller frees, or NULL
// when there is none.
char *liu_state_get(const char *key);
// Stores `value` under `key`. False past the bounds (nothing changes); then,
// when `why` is not NULL, *why is the engine's reason, for the caller to free.
bool liu_state_set(const char *key, const char *value, char **why);
void liu_state_delete(const char *key);

#endif

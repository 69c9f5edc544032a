//! Tests of [`super`].

use super::*;

const S: i64 = NANOS_PER_SECOND;

#[test]
fn epoch_numbers() {
    assert_eq!(parse_timestamp("1704205800"), Some(1_704_205_800 * S));
    assert_eq!(parse_timestamp(" 1704205800 "), Some(1_704_205_800 * S));
    assert_eq!(parse_timestamp("0"), Some(0));
    assert_eq!(parse_timestamp("1704205800.25"), Some(1_704_205_800 * S + S / 4));
    assert_eq!(parse_timestamp("-1.5"), Some(-3 * S / 2));
    // 13 digits: milliseconds; 16: microseconds; 19: nanoseconds.
    assert_eq!(parse_timestamp("1704205800123"), Some(1_704_205_800_123_000_000));
    assert_eq!(parse_timestamp("1704205800123.5"), Some(1_704_205_800_123_500_000));
    assert_eq!(parse_timestamp("1704205800123456"), Some(1_704_205_800_123_456_000));
    assert_eq!(parse_timestamp("1704205800123456789"), Some(1_704_205_800_123_456_789));
    for bad in ["", "-", "1.", ".5", "12a", "1e9", "17042058001234567890", "9999999999999999999"] {
        assert_eq!(parse_timestamp(bad), None, "{bad}");
    }
}

#[test]
fn iso_formats() {
    let day = 1_704_153_600 * S; // 2024-01-02T00:00:00Z
    let t = 1_704_205_800 * S; // 2024-01-02T14:30:00Z
    assert_eq!(parse_timestamp("2024-01-02"), Some(day));
    assert_eq!(parse_timestamp("2024-01-02 14:30"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02T14:30"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02 14:30:00"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02T14:30:00Z"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02 14:30:00.5"), Some(t + S / 2));
    assert_eq!(parse_timestamp("2024-01-02 14:30:00.123456789"), Some(t + 123_456_789));
    assert_eq!(parse_timestamp("2024-01-02 14:30:00.1234567891"), Some(t + 123_456_789));
    assert_eq!(parse_timestamp("2024-01-02T14:30:00.250Z"), Some(t + S / 4));
    assert_eq!(parse_timestamp("2024-01-02 15:30:00+01:00"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02T09:30:00-05:00"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02T09:30-0500"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02T19:30:00+05"), Some(t));
    assert_eq!(parse_timestamp("2024-01-02 14:30:00+00:00"), Some(t));
    assert_eq!(parse_timestamp("1970-01-01"), Some(0));
    assert_eq!(parse_timestamp("1969-12-31 23:59:59"), Some(-S));
    assert_eq!(parse_timestamp("2024-02-29"), Some(1_709_164_800 * S));
    assert_eq!(parse_timestamp("2000-03-01"), Some(951_868_800 * S));
    for bad in [
        "2024-13-01",
        "2024-00-10",
        "2023-02-29",
        "2024-04-31",
        "2024-01-02 24:00",
        "2024-01-02 12:60",
        "2024-01-02 12:00:60",
        "2024-01-02 12",
        "2024-01-02 12:00:",
        "2024-01-02 12:00:00.",
        "2024-01-02X12:00",
        "2024-01-02 12:00Zx",
        "2024-01-02 12:00+1",
        "2024-01-02 12:00+01:0",
        "2024/01/02",
        "2024-1-02xx",
        "9999-12-31",
        "abcd-ef-gh",
    ] {
        assert_eq!(parse_timestamp(bad), None, "{bad}");
    }
}

#[test]
fn format_round_trips() {
    for t in [0, -S, 1_704_205_800 * S, 1_704_205_800 * S + 250_000_000, 951_868_800 * S + 7] {
        let s = format_timestamp(t);
        assert_eq!(parse_timestamp(&s), Some(t), "{s}");
    }
    assert_eq!(format_timestamp(1_704_205_800 * S), "2024-01-02T14:30:00Z");
    assert_eq!(format_timestamp(-S / 2), "1969-12-31T23:59:59.5Z");
}

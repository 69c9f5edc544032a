//! Tests of [`super`].

use super::*;

/// 2021-02-22T15:51:44.208Z, a timestamp from Alpaca's documentation.
const T0: Timestamp = 1_614_009_104_208_000_000;

#[test]
fn rfc3339_as_the_providers_send_it() {
    let s = 1_614_009_104i64 * NANOS_PER_SECOND;
    for (text, want) in [
        ("2021-02-22T15:51:44Z", Some(s)),
        ("2021-02-22T15:51:44.208Z", Some(s + 208_000_000)),
        ("2021-02-22T15:51:44.123456789Z", Some(s + 123_456_789)),
        ("2021-02-22T15:51:44.1234567891234Z", Some(s + 123_456_789)),
        ("2021-02-22t15:51:44z", Some(s)),
        ("2021-02-22T10:51:44-05:00", Some(s)),
        ("2021-02-22T17:51:44.5+02:00", Some(s + 500_000_000)),
        ("1970-01-01T00:00:00Z", Some(0)),
        ("1969-12-31T23:59:59.5Z", Some(-500_000_000)),
        ("2024-02-29T00:00:00Z", Some(1_709_164_800 * NANOS_PER_SECOND)),
        ("2023-02-29T00:00:00Z", None),
        ("2021-13-01T00:00:00Z", None),
        ("2021-02-22T24:00:00Z", None),
        ("2021-02-22T15:51:44", None),
        ("2021-02-22T15:51:44.Z", None),
        ("2021-02-22T15:51:44Zjunk", None),
        ("2021-02-22T15:51:44+0500", None),
        ("2021-02-22", None),
        ("", None),
    ] {
        assert_eq!(parse_rfc3339(text), want, "{text}");
    }
    for t in [0, T0, 1_704_205_800_123_456_789, -1_500_000_000] {
        let f = format_rfc3339(t);
        assert_eq!(f.len(), 30);
        assert_eq!(parse_rfc3339(&f), Some(t), "{f}");
    }
    assert_eq!(format_rfc3339(T0), "2021-02-22T15:51:44.208000000Z");
}

#[test]
fn strict_rfc3339_and_the_shortest_format_round_trip() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(parse_rfc3339("2021-03-16T18:38:01Z"), Some(1_615_919_881_000_000_000));
    assert_eq!(parse_rfc3339("2021-03-16T14:38:01.5-04:00"), Some(1_615_919_881_500_000_000));
    assert_eq!(parse_rfc3339("2021-03-16T18:38:01.123456789+00:00"), Some(1_615_919_881_123_456_789));
    for bad in ["", "2021-03-16", "2021-03-16T18:38:01", "yesterday"] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    assert_eq!(format_timestamp(1_615_919_881_942_282_000), "2021-03-16T18:38:01.942282Z");
    assert_eq!(format_timestamp(1_615_919_881_000_000_000), "2021-03-16T18:38:01Z");
    assert_eq!(parse_rfc3339(&format_timestamp(1_650_390_305_024_916_716)), Some(1_650_390_305_024_916_716));
}

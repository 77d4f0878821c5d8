//! The leaf values a hardening run tries: random and boundary strings (with `format`s),
//! integers and numbers. Each candidate is filtered against its constraints by the caller.

use super::rng::Rng;

/// Strings past which no string is built (a `maxLength` of a billion is tried at this length).
pub const MAX_STRING: usize = 1 << 20;
/// The "long" string where no `maxLength` bounds it.
pub const LONG_UNBOUNDED: usize = 10_000;

/// Characters random strings are drawn from: mostly what people type, some of what breaks
/// naive code (quotes, backslashes, percent signs, non-ASCII, a zero-width space).
const COMMON: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789    .,-_:/";
const ODD: &[char] = &[
    '\'', '"', '\\', '%', '&', '?', '#', '<', '>', '{', '}', '\n', '\t', 'é', 'ß', 'Ω', 'ж', '日',
    '本', '🎉', '\u{200b}', '\u{202e}', 'ﬁ',
];

pub fn random_char(rng: &mut Rng) -> char {
    if rng.one_in(8) {
        ODD[rng.index(ODD.len())]
    } else {
        let common: Vec<char> = COMMON.chars().collect();
        common[rng.index(common.len())]
    }
}

/// A random string of exactly `length` characters.
pub fn random_string(rng: &mut Rng, length: usize) -> String {
    (0..length).map(|_| random_char(rng)).collect()
}

/// Strings that break naive code, each with what it is.
pub fn special_strings() -> Vec<(&'static str, String)> {
    vec![
        ("the empty string", String::new()),
        ("one character", "a".to_owned()),
        ("whitespace only", "   ".to_owned()),
        ("unicode", "Zürich – 東京 🎉 naïve ﬁ".to_owned()),
        ("right-to-left override", "abc\u{202e}def".to_owned()),
        (
            "quotes and escapes",
            "\"quoted\" 'single' back\\slash\n\ttab".to_owned(),
        ),
        ("control characters", "a\u{0}b\u{1b}[31mc\u{7f}".to_owned()),
        ("path traversal", "../../../etc/passwd".to_owned()),
        ("URL metacharacters", "a b&c=d?e#f%2F/g+h".to_owned()),
        ("markup", "<script>alert(1)</script>".to_owned()),
        ("SQL", "' OR '1'='1".to_owned()),
        ("number-like text", "-1".to_owned()),
        (
            "a replacement character and a noncharacter",
            "\u{fffd}\u{ffff}".to_owned(),
        ),
    ]
}

/// A random instance of `format`, for the formats the language knows; `None` for others.
pub fn formatted(rng: &mut Rng, format: &str, hosts: &[String]) -> Option<String> {
    let two = |rng: &mut Rng, below: u64| format!("{:02}", rng.below(below));
    Some(match format {
        "date-time" => format!(
            "{}-{:02}-{:02}T{}:{}:{}Z",
            rng.between(1971, 2099),
            rng.between(1, 12),
            rng.between(1, 28),
            two(rng, 24),
            two(rng, 60),
            two(rng, 60)
        ),
        "date" => format!(
            "{}-{:02}-{:02}",
            rng.between(1971, 2099),
            rng.between(1, 12),
            rng.between(1, 28)
        ),
        "email" => format!("user{}@example.com", rng.below(10_000)),
        "uri" => {
            let host = host(rng, hosts);
            format!("https://{host}/{}", segment(rng))
        }
        "hostname" => format!("host{}.example.com", rng.below(1000)),
        "ipv4" => format!("192.0.2.{}", rng.below(256)),
        "ipv6" => format!("2001:db8::{:x}", rng.below(0x10000)),
        "uuid" => {
            let hex = |rng: &mut Rng, n: usize| -> String {
                (0..n)
                    .map(|_| {
                        char::from_digit(u32::try_from(rng.below(16)).unwrap_or(0), 16)
                            .unwrap_or('0')
                    })
                    .collect()
            };
            format!(
                "{}-{}-4{}-a{}-{}",
                hex(rng, 8),
                hex(rng, 4),
                hex(rng, 3),
                hex(rng, 3),
                hex(rng, 12)
            )
        }
        _ => return None,
    })
}

/// Edge instances of `format`, each with what it is; the last is not an instance at all
/// (formats are annotations in 2020-12: the gateway lets it through, so the code must cope).
pub fn format_boundaries(format: &str, hosts: &[String]) -> Vec<(String, String)> {
    let own = |values: &[(&str, &str)]| -> Vec<(String, String)> {
        values
            .iter()
            .map(|(what, value)| ((*what).to_owned(), (*value).to_owned()))
            .collect()
    };
    let mut values = match format {
        "date-time" => own(&[
            ("the earliest date-time", "0001-01-01T00:00:00Z"),
            (
                "the latest date-time",
                "9999-12-31T23:59:59.999999999+14:00",
            ),
            ("a leap second", "1990-12-31T23:59:60Z"),
            ("a leap day, far offset", "2024-02-29T12:00:00-12:00"),
            ("lower-case separators", "2026-01-01t00:00:00z"),
        ]),
        "date" => own(&[
            ("the earliest date", "0001-01-01"),
            ("the latest date", "9999-12-31"),
            ("a leap day", "2024-02-29"),
        ]),
        "email" => own(&[
            ("a short address", "a@b.co"),
            ("a quoted local part", "\"a b\"@example.com"),
            ("a sub-addressed one", "first.last+tag@sub.example.co.uk"),
        ]),
        "uuid" => own(&[
            ("the nil UUID", "00000000-0000-0000-0000-000000000000"),
            ("an upper-case UUID", "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF"),
        ]),
        "hostname" => own(&[
            ("a one-label name", "localhost"),
            ("a trailing dot", "example.com."),
        ]),
        "ipv4" => own(&[
            ("0.0.0.0", "0.0.0.0"),
            ("a broadcast address", "255.255.255.255"),
        ]),
        "ipv6" => own(&[("::", "::"), ("a mapped IPv4", "::ffff:192.0.2.1")]),
        "uri" => {
            let mut values = Vec::new();
            for host in hosts.iter().take(2) {
                values.push((format!("the bare {host}"), format!("https://{host}")));
                values.push((
                    format!("a query and fragment on {host}"),
                    format!("https://{host}:443/a%20b/%2e%2e/c?x=1&y=%00&z=%E2%9C%93#frag"),
                ));
                values.push((
                    format!("credentials in a URL to {host}"),
                    format!("https://user:pass@{host}/"),
                ));
                values.push((
                    format!("a deep path on {host}"),
                    format!("https://{host}/{}", "a/".repeat(300)),
                ));
            }
            values.push((
                "a host outside the allowlist".to_owned(),
                "https://unlisted.example/feed".to_owned(),
            ));
            values.push(("an IP address".to_owned(), "https://127.0.0.1/".to_owned()));
            values.push((
                "plain HTTP".to_owned(),
                format!(
                    "http://{}/",
                    hosts.first().map_or("example.com", String::as_str)
                ),
            ));
            values
        }
        _ => return Vec::new(),
    };
    values.push((format!("not a {format}"), format!("not-a-{format}")));
    values
}

fn host<'h>(rng: &mut Rng, hosts: &'h [String]) -> &'h str {
    rng.pick(hosts).map_or("example.com", String::as_str)
}

fn segment(rng: &mut Rng) -> String {
    let letters: String = (0..rng.between(1, 12))
        .map(|_| char::from(b'a' + u8::try_from(rng.below(26)).unwrap_or(0)))
        .collect();
    letters
}

/// Integer boundary candidates for `lo..=hi` (either side open), each with what it is.
pub fn integer_boundaries(lo: Option<i128>, hi: Option<i128>) -> Vec<(String, i128)> {
    let mut values = Vec::new();
    if let Some(lo) = lo {
        values.push(("the minimum".to_owned(), lo));
        values.push(("just above the minimum".to_owned(), lo + 1));
    }
    if let Some(hi) = hi {
        values.push(("the maximum".to_owned(), hi));
        values.push(("just below the maximum".to_owned(), hi - 1));
    }
    for (what, value) in [("zero", 0), ("one", 1), ("minus one", -1)] {
        values.push((what.to_owned(), value));
    }
    if hi.is_none() {
        values.push(("a large int (10^12)".to_owned(), 1_000_000_000_000));
        values.push(("2^53 + 1 (past exact doubles)".to_owned(), (1 << 53) + 1));
        values.push(("the largest i64".to_owned(), i128::from(i64::MAX)));
        values.push(("the largest u64".to_owned(), i128::from(u64::MAX)));
    }
    if lo.is_none() {
        values.push(("-(2^53 + 1)".to_owned(), -((1 << 53) + 1)));
        values.push(("the smallest i64".to_owned(), i128::from(i64::MIN)));
    }
    values
}

/// Number boundary candidates for `[lo, hi]` (either side open), each with what it is.
pub fn number_boundaries(lo: Option<f64>, hi: Option<f64>) -> Vec<(String, f64)> {
    let mut values = Vec::new();
    if let Some(lo) = lo {
        values.push(("the minimum".to_owned(), lo));
        values.push((
            "just above the minimum".to_owned(),
            lo + lo.abs().max(1.0) * 1e-9,
        ));
    }
    if let Some(hi) = hi {
        values.push(("the maximum".to_owned(), hi));
        values.push((
            "just below the maximum".to_owned(),
            hi - hi.abs().max(1.0) * 1e-9,
        ));
    }
    for (what, value) in [
        ("zero", 0.0),
        ("negative zero", -0.0),
        ("a half", 0.5),
        ("a tiny fraction", 1e-7),
        ("a negative fraction", -0.25),
    ] {
        values.push((what.to_owned(), value));
    }
    if hi.is_none() {
        values.push(("a huge number".to_owned(), 1e308));
        values.push(("the largest double".to_owned(), f64::MAX));
    }
    if lo.is_none() {
        values.push(("a hugely negative number".to_owned(), -1e308));
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_have_random_instances_and_boundaries_end_with_a_non_instance() {
        let mut rng = Rng::new(2);
        let hosts = vec!["feeds.example.org".to_owned()];
        for format in [
            "date-time",
            "date",
            "email",
            "uri",
            "hostname",
            "ipv4",
            "ipv6",
            "uuid",
        ] {
            let value = formatted(&mut rng, format, &hosts).unwrap();
            assert!(!value.is_empty(), "{format}");
            let boundaries = format_boundaries(format, &hosts);
            assert_eq!(boundaries.last().unwrap().1, format!("not-a-{format}"));
        }
        assert!(formatted(&mut rng, "x-unknown", &hosts).is_none());
        assert!(formatted(&mut rng, "uri", &hosts)
            .unwrap()
            .starts_with("https://feeds.example.org/"));
        let date_time = formatted(&mut rng, "date-time", &hosts).unwrap();
        assert_eq!(date_time.len(), "2026-01-01T00:00:00Z".len(), "{date_time}");
    }

    #[test]
    fn random_strings_have_the_asked_length_in_characters() {
        let mut rng = Rng::new(4);
        for length in [0, 1, 17, 300] {
            assert_eq!(random_string(&mut rng, length).chars().count(), length);
        }
    }

    #[test]
    fn open_ranges_get_huge_values() {
        let open = integer_boundaries(None, None);
        assert!(open.iter().any(|(_, v)| *v == i128::from(u64::MAX)));
        assert!(open.iter().any(|(_, v)| *v == i128::from(i64::MIN)));
        let closed = integer_boundaries(Some(1), Some(100));
        assert!(closed.iter().all(|(_, v)| v.abs() <= 101), "{closed:?}");
        assert!(number_boundaries(None, Some(1.0))
            .iter()
            .any(|(_, v)| *v == -1e308));
    }
}

//! Durations as people write them, in the topology file and on the command line: `250ms`, `2s`,
//! `1.5m`, `1h`, `30d`. [`HumanDuration`] parses that form ([`FromStr`]) and prints it back
//! ([`Display`](fmt::Display)) in its shortest exact unit, so what linkpatrol prints (timeouts
//! in reasons, edge labels, deadlines) reads like what the user wrote.
//!
//! Invariants: a parsed duration is at most [`MAX`] (a year); printing and parsing round-trip to
//! the millisecond; below a millisecond the value prints in µs.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest duration accepted anywhere.
pub const MAX: Duration = Duration::from_secs(86_400 * 365);

/// A [`Duration`] with the notation of SPEC §1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    /// `250ms`, `2s`, `1.5m`, `1h`, `30d`; the unit is required. The error says what is wrong
    /// in words that fit after "`VALUE`: ".
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| "missing unit (`ms`, `s`, `m`, `h` or `d`)".to_owned())?;
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err("expected a number before the unit".into());
        }
        let n: f64 = num
            .parse()
            .map_err(|_| format!("`{num}` is not a number"))?;
        let secs = match unit {
            "ms" => n / 1000.0,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86_400.0,
            other => return Err(format!("unknown unit `{other}`")),
        };
        if !secs.is_finite() || secs > MAX.as_secs_f64() {
            return Err("too long".into());
        }
        Ok(Self(Duration::from_secs_f64(secs)))
    }
}

impl fmt::Display for HumanDuration {
    /// The largest unit that holds the value exactly (`1m`, `90s`, `250ms`), else seconds with
    /// up to three decimals (`1.5s`, `2.25s`); under a millisecond, whole µs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return write!(f, "{}µs", self.0.as_micros());
        }
        for (unit, size) in [
            ("d", 86_400_000),
            ("h", 3_600_000),
            ("m", 60_000),
            ("s", 1000),
        ] {
            if ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        if ms < 1000 {
            return write!(f, "{ms}ms");
        }
        let secs = format!("{:.3}", ms as f64 / 1000.0);
        write!(f, "{}s", secs.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// A duration as printed: `HumanDuration(d).to_string()`.
pub fn show(d: Duration) -> String {
    HumanDuration(d).to_string()
}

/// A command-line duration (`--deadline`, `--interval`): the file's notation, or a bare number
/// of seconds; longer than zero.
pub fn parse_arg(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bare = !t.is_empty() && t.chars().all(|c| c.is_ascii_digit() || c == '.');
    let parsed = if bare {
        format!("{t}s").parse::<HumanDuration>()
    } else {
        t.parse::<HumanDuration>()
    };
    match parsed {
        Ok(HumanDuration(d)) if !d.is_zero() => Ok(d),
        Ok(_) => Err(format!("`{s}` must be longer than zero")),
        Err(why) => Err(format!(
            "`{s}` is not a duration ({why}; e.g. `90s`, `1500ms`, `2m`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Duration, String> {
        s.parse::<HumanDuration>().map(|h| h.0)
    }

    #[test]
    fn parses_every_unit() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1.5m"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("30d"), Ok(Duration::from_secs(30 * 86_400)));
        for bad in ["", "5", "s", "5 parsecs", "1.2.3s", "400d", "-1s"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn prints_the_shortest_exact_unit() {
        let cases = [
            (Duration::from_micros(400), "400µs"),
            (Duration::from_millis(250), "250ms"),
            (Duration::from_millis(800), "800ms"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_millis(2250), "2.25s"),
            (Duration::from_secs(2), "2s"),
            (Duration::from_secs(90), "90s"),
            (Duration::from_secs(60), "1m"),
            (Duration::from_secs(7200), "2h"),
            (Duration::from_secs(86_400 * 30), "30d"),
        ];
        for (d, text) in cases {
            assert_eq!(show(d), text);
        }
    }

    #[test]
    fn printing_and_parsing_round_trip_to_the_millisecond() {
        for ms in (1..200_000u64)
            .step_by(997)
            .chain([1000, 60_000, 3_600_000, 86_400_000])
        {
            let d = Duration::from_millis(ms);
            assert_eq!(parse(&show(d)), Ok(d), "{ms} ms printed as {}", show(d));
        }
    }

    #[test]
    fn command_line_durations_take_bare_seconds_and_refuse_zero() {
        assert_eq!(parse_arg("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_arg("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_arg("0s").unwrap_err().contains("longer than zero"));
        assert!(parse_arg("abc").unwrap_err().contains("not a duration"));
    }
}

//! How times and durations are written on screen.

use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;

/// Whole seconds left, rounded up: a countdown shows 0 only when time is up.
pub fn secs_left(d: Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

/// `mm:ss`, or `h:mm:ss` from an hour on.
pub fn clock_secs(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A short, human duration: `250 ms`, `1.3 s`, `42 s`, `3 min 05 s`, `2 h 07 min`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && !d.is_zero() {
        "<1 ms".into()
    } else if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 10_000 {
        format!("{:.1} s", d.as_secs_f64())
    } else if d.as_secs() < 60 {
        format!("{} s", d.as_secs())
    } else if d.as_secs() < 3600 {
        format!("{} min {:02} s", d.as_secs() / 60, d.as_secs() % 60)
    } else {
        format!("{} h {:02} min", d.as_secs() / 3600, d.as_secs() / 60 % 60)
    }
}

/// A server's time setting as it would be configured: whole seconds as
/// such (`0 s`, `60 s`, `300 s`), anything finer as [`human`] writes it.
pub fn setting(d: Duration) -> String {
    if d.subsec_nanos() == 0 {
        format!("{} s", d.as_secs())
    } else {
        human(d)
    }
}

/// Whole minutes, for the time in the call: `<1 min`, `12 min`, `1 h 05 min`.
pub fn minutes(d: Duration) -> String {
    let m = d.as_secs() / 60;
    match m {
        0 => "<1 min".into(),
        1..60 => format!("{m} min"),
        _ => format!("{} h {:02} min", m / 60, m % 60),
    }
}

/// A round-trip time: `0.42 ms`, `12.3 ms`, `250 ms`, `1.20 s`.
pub fn rtt(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", d.as_secs_f64())
    }
}

fn zoned(t: SystemTime, tz: &TimeZone) -> Option<jiff::Zoned> {
    jiff::Timestamp::try_from(t)
        .ok()
        .map(|ts| ts.to_zoned(tz.clone()))
}

/// Wall-clock time of day, `14:02:05`.
pub fn time_of_day(t: SystemTime, tz: &TimeZone) -> String {
    zoned(t, tz).map_or_else(|| "--:--:--".into(), |z| z.strftime("%H:%M:%S").to_string())
}

/// When `t` was, as seen at `now`: the time of day if that was today in
/// `tz`, `Nov 17 11:01` on another day this year, `2025-11-17 11:01` in
/// another year. A time of day alone would pass yesterday off as today.
pub fn when(t: SystemTime, now: SystemTime, tz: &TimeZone) -> String {
    let (Some(z), Some(today)) = (zoned(t, tz), zoned(now, tz)) else {
        return time_of_day(t, tz);
    };
    let format = if z.date() == today.date() {
        "%H:%M:%S"
    } else if z.year() == today.year() {
        "%b %-d %H:%M"
    } else {
        "%Y-%m-%d %H:%M"
    };
    z.strftime(format).to_string()
}

/// Wall-clock time of day with milliseconds, `14:02:05.123`, for the event log.
pub fn time_of_day_ms(t: SystemTime, tz: &TimeZone) -> String {
    zoned(t, tz).map_or_else(
        || "--:--:--.---".into(),
        |z| z.strftime("%H:%M:%S%.3f").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_round_up_and_clocks_pad() {
        assert_eq!(secs_left(Duration::from_millis(1)), 1);
        assert_eq!(secs_left(Duration::from_secs(2)), 2);
        assert_eq!(secs_left(Duration::ZERO), 0);
        assert_eq!(clock_secs(299), "04:59");
        assert_eq!(clock_secs(3723), "1:02:03");
    }

    #[test]
    fn durations_read_like_a_person_would_say_them() {
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::from_micros(300)), "<1 ms");
        assert_eq!(human(Duration::from_millis(1340)), "1.3 s");
        assert_eq!(human(Duration::from_secs(185)), "3 min 05 s");
        assert_eq!(minutes(Duration::from_secs(59)), "<1 min");
        assert_eq!(minutes(Duration::from_secs(3900)), "1 h 05 min");
        assert_eq!(rtt(Duration::from_micros(420)), "0.42 ms");
        assert_eq!(rtt(Duration::from_micros(12_340)), "12.3 ms");
        assert_eq!(setting(Duration::ZERO), "0 s");
        assert_eq!(setting(Duration::from_secs(60)), "60 s");
        assert_eq!(setting(Duration::from_millis(1500)), "1.5 s");
    }

    #[test]
    fn times_of_day_use_the_given_zone() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123);
        assert_eq!(time_of_day(t, &TimeZone::UTC), "11:06:40");
        assert_eq!(time_of_day_ms(t, &TimeZone::UTC), "11:06:40.123");
    }

    #[test]
    fn a_time_on_another_day_says_which_day() {
        let utc = TimeZone::UTC;
        // 2026-11-18 11:06:40 UTC
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let ago = |s: u64| now - Duration::from_secs(s);
        assert_eq!(when(ago(300), now, &utc), "11:01:40");
        assert_eq!(when(ago(11 * 3600), now, &utc), "00:06:40");
        assert_eq!(when(ago(12 * 3600), now, &utc), "Nov 17 23:06");
        assert_eq!(when(ago(20 * 86_400), now, &utc), "Oct 29 11:06");
        assert_eq!(when(ago(400 * 86_400), now, &utc), "2025-10-14 11:06");
        // "Today" is the dashboard's zone's: 23:06 UTC on the 17th is the
        // 18th nine hours east.
        let east = TimeZone::fixed(jiff::tz::offset(9));
        assert_eq!(when(ago(12 * 3600), now, &east), "08:06:40");
    }
}

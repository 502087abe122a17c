//! Timestamps: unix milliseconds in storage and on signatures, RFC 3339 in the event's `ts`
//! field. Hearth writes `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC) and reads any RFC 3339 timestamp from
//! 1970 to 9999: `T` or `t`, an optional fraction of any length (truncated to milliseconds),
//! and `Z` or a `±HH:MM` offset. A leap second (`:60`) reads as the next minute's first instant.

/// Why a string is not an acceptable RFC 3339 timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    /// The text does not follow `YYYY-MM-DDTHH:MM:SS[.fff]Z|±HH:MM`.
    #[error("not an RFC 3339 timestamp")]
    Syntax,
    /// A field is out of range (month 13, February 30, hour 24, …).
    #[error("RFC 3339 field out of range")]
    OutOfRange,
    /// The instant is before 1970-01-01T00:00:00Z.
    #[error("timestamp before the Unix epoch")]
    BeforeEpoch,
}

const MS_PER_DAY: i64 = 86_400_000;

/// Parses an RFC 3339 timestamp such as `2026-02-09T20:00:00.000Z` into ms since the epoch.
pub fn parse_rfc3339_ms(text: &str) -> Result<u64, TimeError> {
    let b = text.as_bytes();
    if b.len() < 20 || b.len() > 64 {
        return Err(TimeError::Syntax);
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b.get(i) != Some(&c)) || !matches!(b.get(10), Some(b'T' | b't')) {
        return Err(TimeError::Syntax);
    }
    let mut pos = 19;
    let mut millis = 0;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while let Some(d @ b'0'..=b'9') = b.get(pos) {
            if pos - start < 3 {
                millis = millis * 10 + i64::from(d - b'0');
            }
            pos += 1;
        }
        match pos - start {
            0 => return Err(TimeError::Syntax),
            1 => millis *= 100,
            2 => millis *= 10,
            _ => {}
        }
    }
    let offset_minutes = match b.get(pos..) {
        Some(b"Z" | b"z") => 0,
        Some([sign @ (b'+' | b'-'), _, _, b':', _, _]) => {
            let oh = digits(b, pos + 1, 2)?;
            let om = digits(b, pos + 4, 2)?;
            if oh > 23 || om > 59 {
                return Err(TimeError::OutOfRange);
            }
            let m = oh * 60 + om;
            if *sign == b'-' {
                -m
            } else {
                m
            }
        }
        _ => return Err(TimeError::Syntax),
    };
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(TimeError::OutOfRange);
    }
    let days = days_from_civil(year, month, day);
    let ms =
        days * MS_PER_DAY + ((hour * 60 + minute - offset_minutes) * 60 + second) * 1000 + millis;
    u64::try_from(ms).map_err(|_| TimeError::BeforeEpoch)
}

/// Formats unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
pub fn format_rfc3339_ms(unix_ms: i64) -> String {
    let secs = unix_ms.div_euclid(1000);
    let ms = unix_ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

fn digits(b: &[u8], start: usize, len: usize) -> Result<i64, TimeError> {
    let field = b.get(start..start + len).ok_or(TimeError::Syntax)?;
    field.iter().try_fold(0i64, |acc, &d| {
        if d.is_ascii_digit() {
            Ok(acc * 10 + i64::from(d - b'0'))
        } else {
            Err(TimeError::Syntax)
        }
    })
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01 (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_instants() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00.001Z"), Ok(1));
        assert_eq!(
            parse_rfc3339_ms("2026-02-09T20:00:00.000Z"),
            Ok(1_770_667_200_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-01-01T00:00:00Z"),
            Ok(1_767_225_600_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-02-09T21:30:00.5+01:30"),
            Ok(1_770_667_200_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-02-09t19:00:00.123456789-01:00"),
            Ok(1_770_667_200_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-02-29T00:00:00Z"),
            Ok(951_782_400_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2016-12-31T23:59:60Z"),
            parse_rfc3339_ms("2017-01-01T00:00:00Z")
        );
    }

    #[test]
    fn rejects_bad_timestamps() {
        for bad in [
            "",
            "2026-02-09",
            "2026-02-09T20:00:00",
            "2026-02-09 20:00:00Z",
            "2026-02-09T20:00:00.Z",
            "2026-02-09T20:00:00+0100",
            "2026-02-09T20:00:00Zjunk",
            "+026-02-09T20:00:00Z",
            "2026-02-09T20:00:00.000ZZ",
            "２026-02-09T20:00:00Z",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), Err(TimeError::Syntax), "{bad:?}");
        }
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2026-04-31T00:00:00Z",
            "2026-01-00T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:60:00Z",
            "2026-01-01T00:00:61Z",
            "2026-01-01T00:00:00+24:00",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), Err(TimeError::OutOfRange), "{bad:?}");
        }
        assert_eq!(
            parse_rfc3339_ms("1969-12-31T23:59:59.999Z"),
            Err(TimeError::BeforeEpoch)
        );
        assert_eq!(
            parse_rfc3339_ms("1970-01-01T00:00:00+00:01"),
            Err(TimeError::BeforeEpoch)
        );
    }

    #[test]
    fn format_round_trips() {
        for ms in [
            0,
            1,
            951_782_400_000,
            1_770_667_200_123,
            253_402_300_799_999,
        ] {
            let text = format_rfc3339_ms(ms as i64);
            assert_eq!(parse_rfc3339_ms(&text), Ok(ms), "{text}");
        }
        assert_eq!(
            format_rfc3339_ms(1_770_667_200_000),
            "2026-02-09T20:00:00.000Z"
        );
        assert_eq!(format_rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
    }
}

//! Durations (`90`, `500ms`, `1s`, `2h`, `3d`, `1m30s`) and memory sizes (`256m`, `1g`): the
//! one grammar every flag and definition key uses.

use std::time::Duration;

/// The longest duration accepted anywhere (ten years): longer is a typo, and deadlines that
/// far out overflow clocks.
pub const MAX_DURATION: Duration = Duration::from_secs(3650 * 86_400);

/// Why a duration or memory size was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("`{0}` is not a duration; write seconds or a number and a unit, e.g. 90, 500ms, 1m30s, 2h, 3d")]
    NotADuration(String),
    #[error("`{text}` is too long: at most {max}")]
    TooLong { text: String, max: String },
    #[error("`{0}` is not a memory size; write e.g. 256m, 1g or 512k")]
    NotAMemorySize(String),
    #[error("memory `{0}` must be more than zero")]
    NoMemory(String),
}

/// Parses a duration: a number of seconds (`90`), or one or more `<number><unit>` with unit
/// ms, s, m, h or d (`1m30s`). Longer than [`MAX_DURATION`] is an error, not a wrap-around.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let text = text.trim();
    let bad = || UnitError::NotADuration(text.to_string());
    let too_long = || UnitError::TooLong {
        text: text.to_string(),
        max: format_duration(MAX_DURATION),
    };
    if text.is_empty() {
        return Err(bad());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = text.parse().map_err(|_| too_long())?;
        let total = Duration::from_secs(secs);
        return if total > MAX_DURATION {
            Err(too_long())
        } else {
            Ok(total)
        };
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits == 0 {
            return Err(bad());
        }
        let number: u64 = rest[..digits].parse().map_err(|_| too_long())?;
        rest = &rest[digits..];
        let unit_len = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_alphabetic())
                .len();
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => return Err(bad()),
        };
        let part = number
            .checked_mul(millis_per_unit)
            .map(Duration::from_millis)
            .ok_or_else(too_long)?;
        total = total.checked_add(part).ok_or_else(too_long)?;
        if total > MAX_DURATION {
            return Err(too_long());
        }
    }
    Ok(total)
}

/// Parses a limit: a duration, or `none` for no limit (`None`).
pub fn parse_limit(text: &str) -> Result<Option<Duration>, UnitError> {
    match text.trim() {
        "none" => Ok(None),
        other => parse_duration(other).map(Some),
    }
}

/// Formats a duration the way it would be written in a definition.
pub fn format_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 {
        return "0s".into();
    }
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut secs = duration.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if secs >= size {
            out.push_str(&format!("{}{unit}", secs / size));
            secs %= size;
        }
    }
    out
}

/// Parses a memory size: bytes, or a number with k, m or g (optionally followed by `b`),
/// binary multiples as Docker uses them.
pub fn parse_memory(text: &str) -> Result<u64, UnitError> {
    let text = text.trim();
    let bad = || UnitError::NotAMemorySize(text.to_string());
    let lower = text.to_ascii_lowercase();
    let digits = lower.len() - lower.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return Err(bad());
    }
    let number: u64 = lower[..digits].parse().map_err(|_| bad())?;
    let multiplier: u64 = match &lower[digits..] {
        "" | "b" => 1,
        "k" | "kb" => 1 << 10,
        "m" | "mb" => 1 << 20,
        "g" | "gb" => 1 << 30,
        _ => return Err(bad()),
    };
    let bytes = number.checked_mul(multiplier).ok_or_else(bad)?;
    if bytes == 0 {
        return Err(UnitError::NoMemory(text.to_string()));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("3d"), Ok(Duration::from_secs(3 * 86_400)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("3650d"), Ok(MAX_DURATION));
        assert_eq!(parse_limit("none"), Ok(None));
        assert_eq!(parse_limit("3d"), Ok(Some(Duration::from_secs(3 * 86_400))));
        for absurd in [
            "99999999d",
            "3651d",
            "18446744073709551615s",
            "18446744073709551616",
            "18446744073709551615ms1s",
        ] {
            let err = parse_duration(absurd).unwrap_err();
            assert!(err.to_string().contains("too long"), "{absurd}: {err}");
        }
        for bad in [
            "",
            "none",
            "1x",
            "s",
            "1.5s",
            "-1s",
            "1 s",
            "99999999999999999999s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn durations_round_trip() {
        for text in ["500ms", "1s", "1m30s", "3d", "2h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory("256m"), Ok(256 << 20));
        assert_eq!(parse_memory("1g"), Ok(1 << 30));
        assert_eq!(parse_memory("1GB"), Ok(1 << 30));
        assert_eq!(parse_memory("512k"), Ok(512 << 10));
        assert_eq!(parse_memory("1024"), Ok(1024));
        for bad in ["", "m", "1x", "0", "1.5g", "-1m", "99999999999999g"] {
            assert!(parse_memory(bad).is_err(), "{bad:?} accepted");
        }
    }
}

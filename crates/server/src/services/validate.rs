//! Field checks shared by every resource; each error names the field and says what to fix.

use vs_base::text::{find_invisible_or_control, invisible_message};
use vs_base::{Error, Result};

/// A trimmed, non-empty display name of at most `max` characters without control or invisible
/// formatting characters (Unicode Cc, Cf, Zl, Zp: a right-to-left override, a zero-width
/// space), which make a name read as something it is not.
pub fn name(field: &str, value: &str, max: usize) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if v.chars().count() > max {
        return Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    invisible(field, value, v)?;
    Ok(v.to_string())
}

/// Refuses `trimmed` (a slice of `value`) when it holds a control or invisible character; the
/// position is counted in `value`, as the person typed it.
pub fn invisible(field: &str, value: &str, trimmed: &str) -> Result<()> {
    if let Some((at, c)) = find_invisible_or_control(trimmed) {
        let lead = value.len() - value.trim_start().len();
        let at = at + value[..lead].chars().count();
        return Err(Error::invalid(field, invisible_message(field, at, c)));
    }
    Ok(())
}

/// A number within an inclusive range.
pub fn range(field: &str, value: f64, min: f64, max: f64, unit: &str) -> Result<f64> {
    if !value.is_finite() || value < min || value > max {
        return Err(Error::invalid(
            field,
            format!("must be between {min} and {max}{unit}"),
        ));
    }
    Ok(value)
}

/// An optional free-text field, trimmed, empty meaning absent.
pub fn optional_text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) if v.chars().count() > max => Err(Error::invalid(
            field,
            format!("must be at most {max} characters"),
        )),
        Some(v) if v.chars().any(char::is_control) => {
            Err(Error::invalid(field, "must not contain control characters"))
        }
        Some(v) => Ok(Some(v.to_string())),
    }
}

/// A host name or IP address without scheme, port or path.
pub fn host(field: &str, value: &str) -> Result<String> {
    let v = value.trim();
    let bad = || {
        Error::invalid(
            field,
            "must be a host name or IP address without scheme or port, e.g. 192.168.1.50",
        )
    };
    if v.is_empty() || v.len() > 253 || v.contains("://") || v.contains('/') {
        return Err(bad());
    }
    if v.parse::<std::net::IpAddr>().is_ok() {
        return Ok(v.to_string());
    }
    let ok = v.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    });
    if ok {
        Ok(v.to_string())
    } else {
        Err(bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(name("name", "  Dock  ", 64).unwrap(), "Dock");
        assert!(name("name", "   ", 64).is_err());
        assert!(name("name", &"x".repeat(65), 64).is_err());
        assert!(name("name", "a\u{7}b", 64).is_err());
        let e = name("name", " abc\u{202E}gpj.exe", 64).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("name"));
        assert_eq!(
            e.message,
            "name contains an invisible or control character (U+202E RIGHT-TO-LEFT OVERRIDE) at position 5"
        );
        for bad in [
            "a\u{200B}b",
            "a\u{200D}b",
            "a\u{2060}b",
            "\u{FEFF}ab",
            "a\u{2028}b",
        ] {
            assert!(name("name", bad, 64).is_err(), "{bad:?}");
        }
        // Text stays text: markup is stored as typed, shown as typed.
        assert_eq!(
            name("name", "<script>alert(1)</script>", 64).unwrap(),
            "<script>alert(1)</script>"
        );
    }

    #[test]
    fn hosts() {
        assert!(host("h", "192.168.1.50").is_ok());
        assert!(host("h", "cam-1.local").is_ok());
        assert!(host("h", "::1").is_ok());
        for bad in ["", "http://x", "x/y", "-a.b", "a..b", "a b"] {
            assert!(host("h", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ranges() {
        assert!(range("pan", 180.0, -180.0, 180.0, "°").is_ok());
        assert!(range("pan", 180.1, -180.0, 180.0, "°").is_err());
        assert!(range("pan", f64::NAN, -180.0, 180.0, "°").is_err());
    }
}

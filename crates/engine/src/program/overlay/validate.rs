//! Checks an overlay before anything is rendered, so a bad set is refused whole with an error
//! naming the field.

use chrono::format::{Item, StrftimeItems};
use vs_base::{Error, Result};

use super::url::MIN_REFRESH;
use super::{text_style, Overlay, OverlayKind};

pub(super) fn validate(o: &Overlay) -> Result<()> {
    let field = |f: &str| format!("overlays[{}].{f}", o.id);
    if let Some(s) = text_style(&o.kind) {
        if !(s.size_px.is_finite() && s.size_px >= 4.0 && s.size_px <= 1000.0) {
            return Err(Error::invalid(
                field("size_px"),
                "must be between 4 and 1000",
            ));
        }
    }
    match &o.kind {
        OverlayKind::Image {
            opacity,
            width,
            height,
            ..
        }
        | OverlayKind::UrlImage {
            opacity,
            width,
            height,
            ..
        } => {
            if !(opacity.is_finite() && (0.0..=1.0).contains(opacity)) {
                return Err(Error::invalid(field("opacity"), "must be between 0 and 1"));
            }
            if width.is_some_and(|w| w == 0 || w > 8192)
                || height.is_some_and(|h| h == 0 || h > 8192)
            {
                return Err(Error::invalid(
                    field("size"),
                    "must be between 1 and 8192 pixels",
                ));
            }
        }
        OverlayKind::Clock { format, .. }
            if format.is_empty()
                || StrftimeItems::new(format).any(|i| matches!(i, Item::Error)) =>
        {
            return Err(Error::invalid(
                field("format"),
                format!("{format:?} is not a valid strftime format"),
            ));
        }
        _ => {}
    }
    if let OverlayKind::UrlImage { url, refresh, .. } | OverlayKind::UrlText { url, refresh, .. } =
        &o.kind
    {
        let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
        if !ok {
            return Err(Error::invalid(field("url"), "must be an http or https URL"));
        }
        if *refresh < MIN_REFRESH {
            return Err(Error::invalid(
                field("refresh"),
                "must be at least one second",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::TextStyle;
    use super::*;
    use crate::program::overlay::tests::image;

    #[test]
    fn validation_rejects_bad_values() {
        let mut o = image(1, 0, 0);
        if let OverlayKind::Image { opacity, .. } = &mut o.kind {
            *opacity = 1.5;
        }
        assert!(validate(&o).is_err());
        let clock = |f: &str| Overlay {
            id: 2,
            visible: true,
            kind: OverlayKind::Clock {
                format: f.into(),
                tz: chrono_tz::Europe::Paris,
                x: 0,
                y: 0,
                style: TextStyle::default(),
            },
        };
        assert!(validate(&clock("%H:%M:%S")).is_ok());
        assert!(validate(&clock("%Q")).is_err());
        let url = Overlay {
            id: 3,
            visible: true,
            kind: OverlayKind::UrlText {
                url: "file:///etc/passwd".into(),
                refresh: Duration::from_secs(5),
                x: 0,
                y: 0,
                style: TextStyle::default(),
            },
        };
        assert!(validate(&url).is_err());
    }
}

//! Overlays (image, text, clock, data fetched from a URL) placed in the 1920x1080 reference
//! frame: their checks per kind, and their storage. VistterStudio's references to them
//! (`studio_keys`) are kept so its segments resolve.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::timelines::{OverlayRow, OverlayWrite};
use vs_db::Db;

use super::assets::{Asset, AssetService};
use super::{validate, Events, Infra};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OverlayKind {
    /// An uploaded image (`asset_id`).
    Image,
    /// Fixed text.
    Text,
    /// The time, formatted with `clock_format` in `timezone`.
    Clock,
    /// An image fetched from `url` every `refresh_s` seconds.
    UrlImage,
    /// Text fetched from `url` (a field of a JSON answer with `json_pointer`).
    UrlText,
}

impl OverlayKind {
    pub fn as_str(self) -> &'static str {
        match self {
            OverlayKind::Image => "image",
            OverlayKind::Text => "text",
            OverlayKind::Clock => "clock",
            OverlayKind::UrlImage => "url_image",
            OverlayKind::UrlText => "url_text",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.trim().to_ascii_lowercase().as_str() {
            "image" => OverlayKind::Image,
            "text" => OverlayKind::Text,
            "clock" => OverlayKind::Clock,
            "url_image" => OverlayKind::UrlImage,
            "url_text" => OverlayKind::UrlText,
            _ => return None,
        })
    }
}

/// How an overlay looks. Placement is in pixels of the 1920x1080 reference frame and is the
/// default for clips of the timeline editor, which place each clip themselves.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlayDefinition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<i32>,
    /// 0 (invisible) to 1 (opaque).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opacity: Option<f64>,
    /// The text of a `text` overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub font_size: Option<i32>,
    /// `#RRGGBB` or `#RRGGBBAA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "#FFFFFF")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "#00000080")]
    pub background: Option<String>,
    /// strftime format of a `clock` overlay, `%H:%M` by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "%H:%M")]
    pub clock_format: Option<String>,
    /// IANA time zone of a `clock` overlay; the appliance's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// http(s) address of a `url_image` or `url_text` overlay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Seconds between two fetches of `url` (5 to 86400, 60 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_s: Option<i64>,
    /// RFC 6901 pointer to the field of a JSON answer that a `url_text` overlay shows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "/current/temperature")]
    pub json_pointer: Option<String>,
}

/// The body of `POST /api/overlays` and `PUT /api/overlays/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverlayInput {
    #[schema(example = "Marina logo")]
    pub name: String,
    /// image, text, clock, url_image or url_text
    #[schema(example = "image")]
    pub kind: String,
    /// The asset an `image` overlay shows.
    #[serde(default)]
    pub asset_id: Option<i64>,
    #[serde(default)]
    pub definition: OverlayDefinition,
    /// VistterStudio references (asset ids or paths) that name this overlay in segments.
    /// Absent on update: kept.
    #[serde(default)]
    pub studio_keys: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Overlay {
    pub id: i64,
    pub name: String,
    pub kind: OverlayKind,
    pub asset_id: Option<i64>,
    pub definition: OverlayDefinition,
    pub studio_keys: Vec<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl TryFrom<OverlayRow> for Overlay {
    type Error = Error;

    fn try_from(r: OverlayRow) -> Result<Self> {
        Ok(Overlay {
            id: r.id,
            kind: OverlayKind::parse(&r.kind)
                .ok_or_else(|| Error::internal(anyhow::anyhow!("overlay kind {}", r.kind)))?,
            definition: serde_json::from_str(&r.definition).map_err(Error::internal)?,
            studio_keys: parse_keys(&r.studio_keys),
            name: r.name,
            asset_id: r.asset_id,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

pub fn parse_keys(json: &str) -> Vec<String> {
    serde_json::from_str(json).unwrap_or_default()
}

fn colour(field: &str, v: &str) -> Result<String> {
    let hex = v.trim().strip_prefix('#').unwrap_or("");
    if matches!(hex.len(), 3 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(format!("#{}", hex.to_ascii_uppercase()))
    } else {
        Err(Error::invalid(
            field,
            format!("'{v}' is not a colour: write #RRGGBB or #RRGGBBAA"),
        ))
    }
}

fn in_range(field: &str, v: Option<i64>, min: i64, max: i64, unit: &str) -> Result<()> {
    match v {
        Some(v) if v < min || v > max => Err(Error::invalid(
            field,
            format!("must be between {min} and {max}{unit}"),
        )),
        _ => Ok(()),
    }
}

/// Checks an overlay's fields. `prefix` is put before every field name (`overlays[2].` in a
/// sync). Whether `asset_id` exists is the caller's to check.
pub fn validate_overlay(
    prefix: &str,
    name: &str,
    kind: &str,
    asset_id: Option<i64>,
    d: &OverlayDefinition,
) -> Result<(String, OverlayKind, OverlayDefinition)> {
    let f = |s: &str| format!("{prefix}{s}");
    let name = validate::name(&f("name"), name, 100)?;
    let kind = OverlayKind::parse(kind).ok_or_else(|| {
        Error::invalid(
            f("kind"),
            "must be image, text, clock, url_image or url_text",
        )
    })?;
    let mut d = d.clone();
    let w = i64::from(vs_timeline::model::PROGRAM_WIDTH);
    let h = i64::from(vs_timeline::model::PROGRAM_HEIGHT);
    in_range(&f("definition.x"), d.x.map(i64::from), -w, w, " pixels")?;
    in_range(&f("definition.y"), d.y.map(i64::from), -h, h, " pixels")?;
    in_range(
        &f("definition.width"),
        d.width.map(i64::from),
        1,
        w,
        " pixels",
    )?;
    in_range(
        &f("definition.height"),
        d.height.map(i64::from),
        1,
        h,
        " pixels",
    )?;
    if let Some(o) = d.opacity {
        validate::range(&f("definition.opacity"), o, 0.0, 1.0, "")?;
    }
    in_range(
        &f("definition.font_size"),
        d.font_size.map(i64::from),
        6,
        400,
        " pixels",
    )?;
    if let Some(c) = &d.color {
        d.color = Some(colour(&f("definition.color"), c)?);
    }
    if let Some(c) = &d.background {
        d.background = Some(colour(&f("definition.background"), c)?);
    }
    in_range(
        &f("definition.refresh_s"),
        d.refresh_s,
        5,
        86_400,
        " seconds",
    )?;
    match kind {
        OverlayKind::Image => {
            if asset_id.is_none() {
                return Err(Error::invalid(
                    f("asset_id"),
                    "an image overlay needs an asset: upload one to /api/assets first",
                ));
            }
        }
        OverlayKind::Text => {
            let text = d.text.as_deref().map(str::trim).unwrap_or("");
            if text.is_empty() {
                return Err(Error::invalid(
                    f("definition.text"),
                    "a text overlay needs a text",
                ));
            }
            if text.chars().count() > 500 {
                return Err(Error::invalid(
                    f("definition.text"),
                    "must be at most 500 characters",
                ));
            }
        }
        OverlayKind::Clock => {
            let fmt = d.clock_format.get_or_insert_with(|| "%H:%M".into());
            let bad = chrono::format::StrftimeItems::new(fmt)
                .any(|i| matches!(i, chrono::format::Item::Error));
            if bad || fmt.trim().is_empty() || fmt.len() > 64 {
                return Err(Error::invalid(
                    f("definition.clock_format"),
                    format!("'{fmt}' is not a clock format; use strftime fields such as %H:%M:%S or %d/%m %H:%M"),
                ));
            }
            if let Some(tz) = &d.timezone {
                vs_timeline::Schedule::parse_tz(&f("definition.timezone"), tz)?;
            }
        }
        OverlayKind::UrlImage | OverlayKind::UrlText => {
            let field = f("definition.url");
            let raw = d.url.as_deref().map(str::trim).unwrap_or("");
            if raw.is_empty() {
                return Err(Error::invalid(
                    field,
                    "this overlay needs the http(s) address to fetch",
                ));
            }
            let u = url::Url::parse(raw)
                .map_err(|_| Error::invalid(&field, format!("'{raw}' is not an address")))?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                return Err(Error::invalid(
                    field,
                    "must be an http:// or https:// address",
                ));
            }
            // The definition is shown to every user and exported: it must not carry a login.
            if !u.username().is_empty() || u.password().is_some() {
                return Err(Error::invalid(
                    field,
                    "must not contain a user name or password",
                ));
            }
            d.refresh_s.get_or_insert(60);
            if let Some(p) = &d.json_pointer {
                if !p.is_empty() && !p.starts_with('/') {
                    return Err(Error::invalid(
                        f("definition.json_pointer"),
                        "must start with '/', e.g. /current/temperature",
                    ));
                }
            }
        }
    }
    if kind != OverlayKind::Image && asset_id.is_some() {
        return Err(Error::invalid(
            f("asset_id"),
            "only image overlays show an asset",
        ));
    }
    Ok((name, kind, d))
}

fn clean_keys(field: &str, keys: &[String]) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let k = k.trim();
        if k.is_empty() || k.len() > 500 || k.chars().any(char::is_control) {
            return Err(Error::invalid(
                format!("{field}[{i}]"),
                "must be 1 to 500 characters without control characters",
            ));
        }
        if !out.iter().any(|o| o == k) {
            out.push(k.to_string());
        }
    }
    Ok(out)
}

pub fn overlay_write(
    name: String,
    kind: OverlayKind,
    asset_id: Option<i64>,
    definition: &OverlayDefinition,
    keys: &[String],
) -> Result<OverlayWrite> {
    Ok(OverlayWrite {
        name,
        kind: kind.as_str().into(),
        definition: serde_json::to_string(definition).map_err(Error::internal)?,
        asset_id,
        studio_keys: serde_json::to_string(keys).map_err(Error::internal)?,
    })
}

/// Overlays: checked, stored, and announced to browsers as they change.
pub struct OverlayService {
    db: Db,
    events: Events,
    /// The assets image overlays show.
    assets: Arc<AssetService>,
}

impl OverlayService {
    pub fn new(infra: &Infra, assets: Arc<AssetService>) -> Self {
        OverlayService {
            db: infra.db.clone(),
            events: infra.events.clone(),
            assets,
        }
    }

    /// An asset and its bytes (what an image overlay shows).
    pub async fn asset_content(&self, id: i64) -> Result<(Asset, Vec<u8>)> {
        self.assets.content(id).await
    }

    pub async fn list(&self) -> Result<Vec<Overlay>> {
        self.db
            .list_overlays()
            .await?
            .into_iter()
            .map(Overlay::try_from)
            .collect()
    }

    pub async fn get(&self, id: i64) -> Result<Overlay> {
        self.db.overlay(id).await?.try_into()
    }

    async fn checked_overlay(
        &self,
        input: &OverlayInput,
        keep_keys: Option<Vec<String>>,
    ) -> Result<OverlayWrite> {
        let (name, kind, definition) = validate_overlay(
            "",
            &input.name,
            &input.kind,
            input.asset_id,
            &input.definition,
        )?;
        if let Some(a) = input.asset_id {
            if let Err(e) = self.db.asset(a).await {
                return Err(match e.kind {
                    vs_base::ErrorKind::NotFound => {
                        Error::invalid("asset_id", format!("asset {a} does not exist"))
                    }
                    _ => e,
                });
            }
        }
        let keys = match &input.studio_keys {
            Some(k) => clean_keys("studio_keys", k)?,
            None => keep_keys.unwrap_or_default(),
        };
        overlay_write(name, kind, input.asset_id, &definition, &keys)
    }

    pub async fn create(&self, input: &OverlayInput, user_id: Option<i64>) -> Result<Overlay> {
        let w = self.checked_overlay(input, None).await?;
        let mut tx = self.db.catalog_tx().await?;
        let row = tx.insert_overlay(&w).await?;
        tx.audit(user_id, "overlay_created", Some(&row.name), None)
            .await?;
        tx.commit().await?;
        self.events
            .publish("overlay_changed", serde_json::json!({ "id": row.id }));
        row.try_into()
    }

    pub async fn update(
        &self,
        id: i64,
        input: &OverlayInput,
        user_id: Option<i64>,
    ) -> Result<Overlay> {
        let existing = self.db.overlay(id).await?;
        let w = self
            .checked_overlay(input, Some(parse_keys(&existing.studio_keys)))
            .await?;
        let mut tx = self.db.catalog_tx().await?;
        let row = tx.update_overlay(id, &w).await?;
        tx.audit(user_id, "overlay_updated", Some(&row.name), None)
            .await?;
        tx.commit().await?;
        self.events
            .publish("overlay_changed", serde_json::json!({ "id": row.id }));
        row.try_into()
    }

    /// Deletes an overlay no timeline shows (409 otherwise, naming the timelines).
    pub async fn delete(&self, id: i64, user_id: Option<i64>) -> Result<()> {
        let existing = self.db.overlay(id).await?;
        let users = self.db.timelines_using_overlay(id).await?;
        if !users.is_empty() {
            return Err(Error::conflict(format!(
                "the overlay is shown by the timeline{} {}; remove it there first",
                if users.len() == 1 { "" } else { "s" },
                quoted(&users)
            )));
        }
        self.db.delete_overlay(id).await?;
        self.db
            .audit(user_id, "overlay_deleted", Some(&existing.name), None)
            .await?;
        self.events
            .publish("overlay_changed", serde_json::json!({ "id": id }));
        Ok(())
    }
}

pub(crate) fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("'{n}'"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_fields_are_checked_per_kind() {
        let d = OverlayDefinition::default();
        let cases: Vec<(&str, Option<i64>, OverlayDefinition, &str)> = vec![
            ("image", None, d.clone(), "asset_id"),
            ("text", None, d.clone(), "definition.text"),
            ("url_text", None, d.clone(), "definition.url"),
            (
                "url_image",
                None,
                OverlayDefinition {
                    url: Some("https://u:p@x.example/a.png".into()),
                    ..d.clone()
                },
                "definition.url",
            ),
            (
                "clock",
                None,
                OverlayDefinition {
                    clock_format: Some("%Q".into()),
                    ..d.clone()
                },
                "definition.clock_format",
            ),
            (
                "text",
                None,
                OverlayDefinition {
                    text: Some("hi".into()),
                    opacity: Some(1.5),
                    ..d.clone()
                },
                "definition.opacity",
            ),
            (
                "text",
                None,
                OverlayDefinition {
                    text: Some("hi".into()),
                    color: Some("red".into()),
                    ..d.clone()
                },
                "definition.color",
            ),
            ("text", Some(1), d.clone(), "definition.text"),
            ("banner", None, d.clone(), "kind"),
        ];
        for (kind, asset, def, field) in cases {
            let e = validate_overlay("overlays[0].", "x", kind, asset, &def).unwrap_err();
            assert_eq!(
                e.field.as_deref(),
                Some(format!("overlays[0].{field}").as_str()),
                "{kind}: {e}"
            );
        }
        let (_, kind, def) = validate_overlay("", "Clock", "clock", None, &d).unwrap();
        assert_eq!(kind, OverlayKind::Clock);
        assert_eq!(def.clock_format.as_deref(), Some("%H:%M"));
    }
}

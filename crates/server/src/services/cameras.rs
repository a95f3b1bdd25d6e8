//! Cameras and their presets: validation of what a user sends, credentials moved out of
//! addresses and sealed, the views the API returns (never with a secret), and the address with
//! credentials that only FFmpeg and the camera see.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Protocol, Result, Secret, SecretBox, StreamUrl};
use vs_db::cameras::{CameraRow, CameraWrite};
use vs_db::Db;
use vs_timeline::credentials::{join_credentials, split_credentials, CredentialPlacement};

use super::presets::{validate_preset, Preset, PresetInput};
use super::ptz::{CameraCopy, PtzService};
use super::{validate, Events, Infra};

/// What kind of camera: a fixed view, or one that pans/tilts/zooms (ONVIF).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum CameraKind {
    Static,
    Ptz,
}

impl CameraKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CameraKind::Static => "STATIC",
            CameraKind::Ptz => "PTZ",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "STATIC" | "FIXED" => Some(CameraKind::Static),
            "PTZ" => Some(CameraKind::Ptz),
            _ => None,
        }
    }
}

/// The body of `POST /api/cameras` and `PUT /api/cameras/{id}`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraInput {
    /// Display name, unique (case-insensitive), 1–64 characters.
    #[schema(example = "Reolink Front")]
    pub name: String,
    /// `STATIC` or `PTZ`.
    #[serde(rename = "type")]
    #[schema(example = "PTZ")]
    pub kind: String,
    /// `RTSP`, `RTSPS`, `RTMP`, `RTMPS` or `SRT`; must match the address.
    #[schema(example = "RTSP")]
    pub protocol: String,
    /// Stream address. Credentials inside it are moved to username/password.
    #[schema(example = "rtsp://user:pass@192.168.1.50:554/stream1")]
    pub address: String,
    #[serde(default)]
    pub username: Option<String>,
    /// Write-only. On update: absent or null keeps the stored password, "" clears it.
    #[serde(default)]
    pub password: Option<String>,
    /// ONVIF host for PTZ control, when it differs from the stream's host.
    #[serde(default)]
    pub onvif_host: Option<String>,
    /// ONVIF port (80 by default; some cameras use 8899).
    #[serde(default)]
    pub onvif_port: Option<i64>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A camera as the API shows it: the address never carries credentials, the password is
/// only reported as present or not.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Camera {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CameraKind,
    pub protocol: Protocol,
    pub address: String,
    pub username: Option<String>,
    pub has_password: bool,
    pub onvif_host: Option<String>,
    pub onvif_port: Option<i64>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl From<CameraRow> for Camera {
    fn from(r: CameraRow) -> Self {
        Camera {
            id: r.id,
            name: r.name,
            kind: CameraKind::parse(&r.kind).unwrap_or(CameraKind::Static),
            protocol: Protocol::parse(&r.protocol).unwrap_or(Protocol::Rtsp),
            address: r.address,
            username: r.username,
            has_password: r.password_enc.is_some(),
            onvif_host: r.onvif_host,
            onvif_port: r.onvif_port,
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// A checked camera, with its password in clear (in memory only).
#[derive(Debug, Clone)]
pub struct ValidCamera {
    pub name: String,
    pub kind: CameraKind,
    pub url: StreamUrl,
    pub username: Option<String>,
    /// None: not given (keep on update); Some(empty): clear.
    pub password: Option<Secret>,
    pub onvif_host: Option<String>,
    pub onvif_port: Option<i64>,
    pub enabled: bool,
    /// Where the address carried its login (userinfo, or query parameters as Reolink's RTMP
    /// wants them); `None` when it carried none (an update keeps the stored placement).
    pub placement: Option<CredentialPlacement>,
}

impl ValidCamera {
    /// The address with credentials, for FFmpeg or a device only.
    pub fn connect_url(&self) -> String {
        join_credentials(
            &self.url,
            self.username.as_deref(),
            self.password.as_ref(),
            &self.placement.clone().unwrap_or_default(),
        )
    }
}

/// The stored form of a placement: `None` for the userinfo, else the query parameters' names.
pub fn placement_text(p: &CredentialPlacement) -> Option<String> {
    match p {
        CredentialPlacement::UserInfo => None,
        CredentialPlacement::Query {
            user_param,
            password_param,
        } => Some(serde_json::json!({"user": user_param, "password": password_param}).to_string()),
    }
}

/// The placement of a stored camera (an unreadable value falls back to the userinfo).
pub fn placement_of(text: Option<&str>) -> CredentialPlacement {
    let Some(v) = text.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok()) else {
        return CredentialPlacement::UserInfo;
    };
    match (v["user"].as_str(), v["password"].as_str()) {
        (Some(u), Some(p)) => CredentialPlacement::Query {
            user_param: u.to_string(),
            password_param: p.to_string(),
        },
        _ => CredentialPlacement::UserInfo,
    }
}

/// The address FFmpeg or a device connects to: the stored (credential-free) address with the
/// login put back where the camera reads it.
pub fn connect_address(
    address: &str,
    username: Option<&str>,
    password: Option<&Secret>,
    credential_query: Option<&str>,
) -> Result<String> {
    let parsed = StreamUrl::parse(address, "address")?;
    Ok(join_credentials(
        &parsed.url,
        username,
        password,
        &placement_of(credential_query),
    ))
}

/// Checks every field of a camera; errors name the field and say what to fix.
pub fn validate_camera(input: &CameraInput) -> Result<ValidCamera> {
    let name = validate::name("name", &input.name, 64)?;
    let kind = CameraKind::parse(&input.kind)
        .ok_or_else(|| Error::invalid("type", "must be STATIC or PTZ"))?;
    let protocol = Protocol::parse(&input.protocol).ok_or_else(|| {
        Error::invalid("protocol", "must be one of RTSP, RTSPS, RTMP, RTMPS, SRT")
    })?;
    // Credentials found in the userinfo or the query (user=…&password=…) leave the address.
    let parsed = split_credentials(&input.address, "address")?;
    let placement = parsed.has_credentials().then(|| parsed.placement.clone());
    if !protocol.same_family(parsed.url.protocol()) {
        return Err(Error::invalid(
            "address",
            format!(
                "is a {} address but protocol is {}; make them match",
                parsed.url.protocol(),
                protocol
            ),
        ));
    }
    let field_user = validate::optional_text("username", input.username.as_deref(), 128)?;
    let username = match (parsed.username, field_user) {
        (Some(a), Some(f)) if a != f => {
            return Err(Error::invalid(
                "username",
                "differs from the user inside the address; give credentials in one place",
            ))
        }
        (a, f) => f.or(a),
    };
    if let Some(p) = &input.password {
        if p.chars().count() > 256 {
            return Err(Error::invalid("password", "must be at most 256 characters"));
        }
    }
    let password = match (&input.password, parsed.password) {
        (Some(p), _) => Some(Secret::new(p.clone())),
        (None, from_address) => from_address,
    };
    let onvif_host = match input.onvif_host.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(h) => Some(validate::host("onvif_host", h)?),
    };
    let onvif_port = match input.onvif_port {
        None => None,
        Some(p) if (1..=65535).contains(&p) => Some(p),
        Some(_) => {
            return Err(Error::invalid("onvif_port", "must be between 1 and 65535"));
        }
    };
    Ok(ValidCamera {
        name,
        kind,
        url: parsed.url,
        username,
        password,
        onvif_host,
        onvif_port,
        enabled: input.enabled.unwrap_or(true),
        placement,
    })
}

/// The full address with credentials of a stored camera, for FFmpeg/ONVIF only.
pub fn connect_url(secrets: &SecretBox, row: &CameraRow) -> Result<String> {
    let password = row
        .password_enc
        .as_deref()
        .map(|p| secrets.open(p))
        .transpose()?;
    connect_address(
        &row.address,
        row.username.as_deref(),
        password.as_ref(),
        row.credential_query.as_deref(),
    )
}

/// What happened to a camera, for the services that keep something per camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CameraChange {
    Added,
    /// `connection`: the address, the login or `enabled` changed, so whatever is connected
    /// to the old settings is stale.
    Updated {
        connection: bool,
    },
    Deleted,
}

/// Told of every camera change, synchronously, before the request that made it answers.
pub trait CameraListener: Send + Sync {
    fn camera_changed(&self, id: i64, change: CameraChange);
}

/// Cameras and their presets: validation, sealed credentials, the views the API returns.
pub struct CameraService {
    db: Db,
    secrets: SecretBox,
    events: Events,
    listeners: Vec<Arc<dyn CameraListener>>,
    /// Removes a deleted preset's copy on the camera.
    ptz: Arc<PtzService>,
}

impl CameraService {
    pub fn new(
        infra: &Infra,
        listeners: Vec<Arc<dyn CameraListener>>,
        ptz: Arc<PtzService>,
    ) -> Self {
        CameraService {
            db: infra.db.clone(),
            secrets: infra.secrets.clone(),
            events: infra.events.clone(),
            listeners,
            ptz,
        }
    }

    fn tell(&self, id: i64, change: CameraChange) {
        for l in &self.listeners {
            l.camera_changed(id, change);
        }
    }

    pub async fn list(&self) -> Result<Vec<Camera>> {
        Ok(self
            .db
            .list_cameras()
            .await?
            .into_iter()
            .map(Camera::from)
            .collect())
    }

    pub async fn get(&self, id: i64) -> Result<Camera> {
        Ok(self.db.camera(id).await?.into())
    }

    /// The row to write for a checked camera, its password sealed.
    pub(crate) fn camera_write(
        &self,
        v: &ValidCamera,
        keep_password: Option<String>,
        keep_query: Option<String>,
    ) -> CameraWrite {
        let password_enc = match &v.password {
            Some(p) if p.is_empty() => None,
            Some(p) => Some(self.secrets.seal(p)),
            None => keep_password,
        };
        CameraWrite {
            name: v.name.clone(),
            kind: v.kind.as_str().into(),
            protocol: v.url.protocol().as_str().into(),
            address: v.url.as_str().into(),
            username: v.username.clone(),
            password_enc,
            onvif_host: v.onvif_host.clone(),
            onvif_port: v.onvif_port,
            enabled: v.enabled,
            credential_query: match &v.placement {
                Some(p) => placement_text(p),
                None => keep_query,
            },
        }
    }

    pub async fn create(&self, input: &CameraInput, user_id: Option<i64>) -> Result<Camera> {
        let v = validate_camera(input)?;
        let row = self
            .db
            .create_camera(&self.camera_write(&v, None, None))
            .await?;
        self.db
            .audit(
                user_id,
                "camera_created",
                Some(&row.name),
                Some(&row.address),
            )
            .await?;
        tracing::info!(camera = row.id, name = %row.name, address = %row.address, "camera added");
        let camera = Camera::from(row);
        self.events
            .publish("camera_changed", serde_json::json!({ "id": camera.id }));
        self.tell(camera.id, CameraChange::Added);
        Ok(camera)
    }

    pub async fn update(
        &self,
        id: i64,
        input: &CameraInput,
        user_id: Option<i64>,
    ) -> Result<Camera> {
        let v = validate_camera(input)?;
        let existing = self.db.camera(id).await?;
        let row = self
            .db
            .update_camera(
                id,
                &self.camera_write(
                    &v,
                    existing.password_enc.clone(),
                    existing.credential_query.clone(),
                ),
            )
            .await?;
        let connection = row.address != existing.address
            || row.password_enc != existing.password_enc
            || row.username != existing.username
            || row.credential_query != existing.credential_query
            || row.enabled != existing.enabled;
        self.tell(id, CameraChange::Updated { connection });
        self.db
            .audit(
                user_id,
                "camera_updated",
                Some(&row.name),
                Some(&row.address),
            )
            .await?;
        let camera = Camera::from(row);
        self.events
            .publish("camera_changed", serde_json::json!({ "id": camera.id }));
        Ok(camera)
    }

    pub async fn delete(&self, id: i64, user_id: Option<i64>) -> Result<()> {
        let existing = self.db.camera(id).await?;
        self.db.delete_camera(id).await?;
        self.tell(id, CameraChange::Deleted);
        self.db
            .audit(user_id, "camera_deleted", Some(&existing.name), None)
            .await?;
        self.events
            .publish("camera_changed", serde_json::json!({ "id": id }));
        Ok(())
    }

    /// After the commit of an import that added cameras in its own transaction: the camera
    /// list cache, the audit log, the live events and the listeners, as `create` does for one.
    pub async fn announce_added(&self, rows: &[CameraRow], user_id: Option<i64>) -> Vec<Camera> {
        if rows.is_empty() {
            return Vec::new();
        }
        self.db.forget_cameras();
        let mut created = Vec::new();
        for row in rows {
            tracing::info!(camera = row.id, name = %row.name, address = %row.address, "camera added for a VistterStudio segment");
            if let Err(e) = self
                .db
                .audit(
                    user_id,
                    "camera_created",
                    Some(&row.name),
                    Some(&row.address),
                )
                .await
            {
                tracing::warn!(camera = row.id, error = %e, "audit of an imported camera");
            }
            self.events
                .publish("camera_changed", serde_json::json!({ "id": row.id }));
            created.push(Camera::from(row.clone()));
        }
        for row in rows {
            self.tell(row.id, CameraChange::Added);
        }
        created
    }

    /// The full address with credentials of a stored camera, for FFmpeg/ONVIF only.
    pub fn connect_url(&self, row: &CameraRow) -> Result<String> {
        connect_url(&self.secrets, row)
    }

    // -----------------------------------------------------------------------------------------
    // Presets

    pub async fn list_presets(&self, camera_id: i64) -> Result<Vec<Preset>> {
        Ok(self
            .db
            .list_presets(camera_id)
            .await?
            .into_iter()
            .map(Preset::from)
            .collect())
    }

    pub async fn preset(&self, id: i64) -> Result<Preset> {
        Ok(self.db.preset(id).await?.into())
    }

    pub async fn create_preset(
        &self,
        camera_id: i64,
        input: &PresetInput,
        user_id: Option<i64>,
    ) -> Result<Preset> {
        let w = validate_preset(input, None)?;
        let row = self.db.create_preset(camera_id, &w).await?;
        self.db
            .audit(
                user_id,
                "preset_created",
                Some(&row.name),
                Some(&camera_id.to_string()),
            )
            .await?;
        Ok(row.into())
    }

    pub async fn update_preset(
        &self,
        id: i64,
        input: &PresetInput,
        user_id: Option<i64>,
    ) -> Result<Preset> {
        let existing = self.db.preset(id).await?;
        let w = validate_preset(input, existing.onvif_token)?;
        let row = self.db.update_preset(id, &w).await?;
        self.db
            .audit(user_id, "preset_updated", Some(&row.name), None)
            .await?;
        Ok(row.into())
    }

    /// Deletes a preset, and its copy on the camera first (see `DeletePresetQuery` for what
    /// happens when the camera cannot remove it, and what `force` changes).
    pub async fn delete_preset(&self, id: i64, user_id: Option<i64>, force: bool) -> Result<()> {
        let existing = self.db.preset(id).await?;
        let copy = match self.ptz.remove_from_camera(&existing).await {
            Ok(copy) => copy,
            Err(e) if force => {
                tracing::warn!(preset = id, error = %e.message, "preset deleted by force; the camera keeps its copy");
                CameraCopy::Kept(e.message)
            }
            Err(e) => {
                let kind = match e.kind {
                    ErrorKind::Timeout => ErrorKind::Timeout,
                    _ => ErrorKind::Device,
                };
                return Err(Error::new(
                    kind,
                    format!(
                        "the preset '{}' was not deleted, because the camera did not remove its \
                         copy (token {}): {}. Fix the camera's connection and delete it again, or \
                         delete with force=true to remove it from the appliance only",
                        existing.name,
                        existing.onvif_token.as_deref().unwrap_or_default(),
                        e.message
                    ),
                ));
            }
        };
        self.db.delete_preset(id).await?;
        let detail = match &copy {
            CameraCopy::None => None,
            CameraCopy::Removed | CameraCopy::AlreadyGone => {
                Some("removed from the camera".to_string())
            }
            CameraCopy::Kept(why) => {
                tracing::info!(preset = id, reason = %why, "preset deleted; the camera keeps its copy");
                Some(format!("the camera keeps its copy: {why}"))
            }
        };
        self.db
            .audit(
                user_id,
                "preset_deleted",
                Some(&existing.name),
                detail.as_deref(),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(address: &str) -> CameraInput {
        CameraInput {
            name: "Reolink Front".into(),
            kind: "PTZ".into(),
            protocol: "RTSP".into(),
            address: address.into(),
            ..Default::default()
        }
    }

    #[test]
    fn spec_example_moves_credentials_out() {
        let v = validate_camera(&input("rtsp://user:pass@192.168.1.50:554/stream1")).unwrap();
        assert_eq!(v.url.as_str(), "rtsp://192.168.1.50:554/stream1");
        assert_eq!(v.username.as_deref(), Some("user"));
        assert_eq!(v.password.as_ref().unwrap().expose(), "pass");
        assert_eq!(v.connect_url(), "rtsp://user:pass@192.168.1.50:554/stream1");
    }

    #[test]
    fn each_field_is_checked() {
        let cases: Vec<(CameraInput, &str)> = vec![
            (
                CameraInput {
                    name: " ".into(),
                    ..input("rtsp://h/s")
                },
                "name",
            ),
            (
                CameraInput {
                    kind: "dome".into(),
                    ..input("rtsp://h/s")
                },
                "type",
            ),
            (
                CameraInput {
                    protocol: "HTTP".into(),
                    ..input("rtsp://h/s")
                },
                "protocol",
            ),
            (input("rtmp://h/live"), "address"),
            (input("not a url"), "address"),
            (
                CameraInput {
                    onvif_port: Some(70000),
                    ..input("rtsp://h/s")
                },
                "onvif_port",
            ),
            (
                CameraInput {
                    onvif_host: Some("http://x".into()),
                    ..input("rtsp://h/s")
                },
                "onvif_host",
            ),
            (
                CameraInput {
                    username: Some("b".into()),
                    ..input("rtsp://a:p@h/s")
                },
                "username",
            ),
        ];
        for (c, field) in cases {
            let e = validate_camera(&c).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{c:?}");
        }
    }
    #[test]
    fn reolink_query_credentials_leave_the_address_and_go_back_in_the_query() {
        let c = CameraInput {
            protocol: "RTMP".into(),
            ..input(
                "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&password=s%26cret",
            )
        };
        let v = validate_camera(&c).unwrap();
        assert_eq!(
            v.url.as_str(),
            "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0"
        );
        assert_eq!(v.username.as_deref(), Some("admin"));
        assert_eq!(v.password.as_ref().unwrap().expose(), "s&cret");
        let stored = placement_text(v.placement.as_ref().unwrap());
        assert!(stored.is_some(), "the query placement is stored");
        let back = connect_address(
            v.url.as_str(),
            v.username.as_deref(),
            v.password.as_ref(),
            stored.as_deref(),
        )
        .unwrap();
        assert_eq!(
            back,
            "rtmp://192.168.1.60/bcs/channel0_main.bcs?channel=0&stream=0&user=admin&password=s%26cret"
        );
        assert_eq!(v.connect_url(), back);
        // Userinfo stays userinfo; an address without a login says nothing about where it goes.
        let v = validate_camera(&input("rtsp://admin:pw@h/s")).unwrap();
        assert_eq!(v.placement, Some(CredentialPlacement::UserInfo));
        assert_eq!(placement_text(&CredentialPlacement::UserInfo), None);
        assert_eq!(
            connect_address("rtsp://h/s", Some("admin"), Some(&Secret::new("pw")), None).unwrap(),
            "rtsp://admin:pw@h/s"
        );
        assert_eq!(
            validate_camera(&input("rtsp://h/s")).unwrap().placement,
            None
        );
        assert_eq!(
            placement_of(Some("not json")),
            CredentialPlacement::UserInfo
        );
    }
}

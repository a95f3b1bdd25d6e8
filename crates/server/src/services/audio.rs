//! Program audio settings: how each camera sounds in programs (heard or not, gain), each
//! program's master gain and bed, and the bed files (stored once per content under
//! `<data_dir>/audio/<sha256>`, checked by decoding them with FFmpeg, decoded again only when a
//! program starts using one). Every change applies at once to the running programs, without
//! touching their encoders.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use vs_base::{Error, Result};
use vs_db::audio::{AudioBedRow, CameraAudioRow, ProgramAudioRow};
use vs_db::Db;
use vs_engine::{AudioBed, AudioSettings, BedMode, SourceGain};

use super::programs::RunningPrograms;
use super::{validate, Infra};
use crate::config::Config;

/// Largest bed file accepted (about 10 minutes of 256 kbit/s MP3; only the first
/// [`vs_engine::program::audio::MAX_BED_SECONDS`] play).
pub const MAX_BED_BYTES: usize = 20 * 1024 * 1024;

/// Gains are within this range, dB.
const GAIN_RANGE: std::ops::RangeInclusive<f64> = -60.0..=20.0;

/// An uploaded bed as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AudioBedView {
    pub id: i64,
    pub name: String,
    pub mime: String,
    pub size: i64,
    /// Length that plays (at most 120 s), seconds.
    pub seconds: f64,
    pub created_at: String,
}

impl From<AudioBedRow> for AudioBedView {
    fn from(r: AudioBedRow) -> Self {
        AudioBedView {
            id: r.id,
            name: r.name,
            mime: r.mime,
            size: r.size,
            seconds: r.seconds,
            created_at: r.created_at,
        }
    }
}

/// How a camera sounds in programs: `GET`/`PUT /api/cameras/{id}/audio`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CameraAudio {
    /// Heard when the camera is on air.
    pub enabled: bool,
    /// −60…+20 dB.
    pub gain_db: f64,
}

/// A program's mix: `GET`/`PUT /api/programs/{id}/audio`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgramAudio {
    /// −60…+20 dB.
    pub master_gain_db: f64,
    /// An uploaded bed (`/api/audio/beds`), looped; `null` for none.
    #[serde(default)]
    pub bed_id: Option<i64>,
    /// −60…+20 dB.
    #[serde(default = "default_bed_gain")]
    pub bed_gain_db: f64,
    /// `under` the cameras' sound, or `instead` of it.
    #[serde(default)]
    pub bed_mode: BedMode,
}

fn default_bed_gain() -> f64 {
    -12.0
}

impl Default for ProgramAudio {
    fn default() -> Self {
        ProgramAudio {
            master_gain_db: 0.0,
            bed_id: None,
            bed_gain_db: default_bed_gain(),
            bed_mode: BedMode::Under,
        }
    }
}

fn check_gain(field: &str, v: f64) -> Result<f64> {
    if v.is_finite() && GAIN_RANGE.contains(&v) {
        Ok((v * 10.0).round() / 10.0)
    } else {
        Err(Error::invalid(field, "must be between -60 and 20 dB"))
    }
}

fn mode_str(m: BedMode) -> &'static str {
    match m {
        BedMode::Under => "under",
        BedMode::Instead => "instead",
    }
}

pub struct AudioService {
    db: Db,
    config: Arc<Config>,
    running: Arc<RunningPrograms>,
    /// Decoded beds by id: decoding takes a second or two, a program start should not.
    beds: std::sync::Mutex<HashMap<i64, Arc<Vec<f32>>>>,
}

impl AudioService {
    pub fn new(infra: &Infra, running: Arc<RunningPrograms>) -> Self {
        AudioService {
            db: infra.db.clone(),
            config: infra.config.clone(),
            running,
            beds: Default::default(),
        }
    }

    fn bed_dir(&self) -> PathBuf {
        self.config.data_dir.join("audio")
    }

    pub async fn list_beds(&self) -> Result<Vec<AudioBedView>> {
        Ok(self
            .db
            .list_audio_beds()
            .await?
            .into_iter()
            .map(Into::into)
            .collect())
    }

    /// Stores a bed: any audio FFmpeg decodes from WAV, MP3, FLAC, Ogg, M4A, AAC or
    /// Matroska. The same bytes again give the same bed (`false`: not created).
    pub async fn upload_bed(
        &self,
        name: Option<String>,
        bytes: bytes::Bytes,
        user: Option<i64>,
    ) -> Result<(AudioBedView, bool)> {
        if bytes.is_empty() {
            return Err(Error::invalid("file", "the file is empty"));
        }
        if bytes.len() > MAX_BED_BYTES {
            return Err(Error::invalid(
                "file",
                format!(
                    "the file is {:.1} MiB; beds may be at most {} MiB",
                    bytes.len() as f64 / (1024.0 * 1024.0),
                    MAX_BED_BYTES / (1024 * 1024)
                ),
            ));
        }
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if let Some(row) = self.db.audio_bed_by_sha(&sha256).await? {
            return Ok((row.into(), false));
        }
        let name = match name.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => validate::name("name", n.rsplit(['/', '\\']).next().unwrap_or(n), 200)?,
            None => format!("bed-{}", &sha256[..8]),
        };
        let dir = self.bed_dir();
        let tmp = dir.join(format!("{sha256}.upload"));
        let path = dir.join(&sha256);
        {
            let (dir, tmp, bytes) = (dir.clone(), tmp.clone(), bytes.clone());
            tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(&tmp, &bytes)
            })
            .await
            .map_err(Error::internal)?
            .map_err(Error::internal)?;
        }
        let decoded = match vs_engine::program::audio::decode_bed(&self.config.ffmpeg, &tmp).await {
            Ok(d) => d,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(match e.kind {
                    vs_base::ErrorKind::Validation => Error::invalid(
                        "file",
                        "not an audio file this appliance plays (WAV, MP3, FLAC, Ogg, M4A, AAC)",
                    ),
                    _ => e,
                });
            }
        };
        tokio::fs::rename(&tmp, &path)
            .await
            .map_err(Error::internal)?;
        let seconds = decoded.len() as f64 / 2.0 / vs_engine::program::audio::SAMPLE_RATE as f64;
        let mime = mime_guess::from_path(&name)
            .first()
            .filter(|m| m.type_() == "audio")
            .map(|m| m.essence_str().to_string())
            .unwrap_or_else(|| "application/octet-stream".into());
        let row = match self
            .db
            .insert_audio_bed(&name, &mime, &sha256, bytes.len() as i64, seconds)
            .await
        {
            Ok(r) => r,
            Err(e) => {
                let _ = tokio::fs::remove_file(&path).await;
                return Err(e);
            }
        };
        self.beds
            .lock()
            .expect("beds lock")
            .insert(row.id, Arc::new(decoded));
        self.db
            .audit(user, "audio_bed_uploaded", Some(&row.name), None)
            .await?;
        Ok((row.into(), true))
    }

    pub async fn delete_bed(&self, id: i64, user: Option<i64>) -> Result<()> {
        let row = self.db.delete_audio_bed(id).await?;
        self.beds.lock().expect("beds lock").remove(&id);
        let _ = tokio::fs::remove_file(self.bed_dir().join(&row.sha256)).await;
        self.db
            .audit(user, "audio_bed_deleted", Some(&row.name), None)
            .await
    }

    pub async fn camera_audio(&self, camera_id: i64) -> Result<CameraAudio> {
        self.db.camera(camera_id).await?;
        Ok(match self.db.camera_audio(camera_id).await? {
            Some(r) => CameraAudio {
                enabled: r.enabled,
                gain_db: r.gain_db,
            },
            None => CameraAudio {
                enabled: true,
                gain_db: 0.0,
            },
        })
    }

    pub async fn set_camera_audio(
        &self,
        camera_id: i64,
        input: CameraAudio,
        user: Option<i64>,
    ) -> Result<CameraAudio> {
        let cam = self.db.camera(camera_id).await?;
        let gain_db = check_gain("gain_db", input.gain_db)?;
        self.db
            .set_camera_audio(CameraAudioRow {
                camera_id,
                enabled: input.enabled,
                gain_db,
            })
            .await?;
        self.db
            .audit(user, "camera_audio", Some(&cam.name), None)
            .await?;
        for id in self.running.ids().await {
            self.apply(id).await?;
        }
        self.camera_audio(camera_id).await
    }

    pub async fn program_audio(&self, program_id: i64) -> Result<ProgramAudio> {
        self.db.program(program_id).await?;
        Ok(match self.db.program_audio(program_id).await? {
            Some(r) => ProgramAudio {
                master_gain_db: r.master_gain_db,
                bed_id: r.bed_id,
                bed_gain_db: r.bed_gain_db,
                bed_mode: if r.bed_mode == "instead" {
                    BedMode::Instead
                } else {
                    BedMode::Under
                },
            },
            None => ProgramAudio::default(),
        })
    }

    pub async fn set_program_audio(
        &self,
        program_id: i64,
        input: ProgramAudio,
        user: Option<i64>,
    ) -> Result<ProgramAudio> {
        let program = self.db.program(program_id).await?;
        let master_gain_db = check_gain("master_gain_db", input.master_gain_db)?;
        let bed_gain_db = check_gain("bed_gain_db", input.bed_gain_db)?;
        if let Some(bed) = input.bed_id {
            self.db.audio_bed(bed).await.map_err(|e| match e.kind {
                vs_base::ErrorKind::NotFound => {
                    Error::invalid("bed_id", format!("audio bed {bed} does not exist"))
                }
                _ => e,
            })?;
            // Decoded before anything is stored: a bed that cannot play changes nothing.
            self.bed_samples(bed).await?;
        }
        self.db
            .set_program_audio(&ProgramAudioRow {
                program_id,
                master_gain_db,
                bed_id: input.bed_id,
                bed_gain_db,
                bed_mode: mode_str(input.bed_mode).into(),
            })
            .await?;
        self.db
            .audit(user, "program_audio", Some(&program.name), None)
            .await?;
        self.apply(program_id).await?;
        self.program_audio(program_id).await
    }

    async fn bed_samples(&self, id: i64) -> Result<Arc<Vec<f32>>> {
        if let Some(s) = self.beds.lock().expect("beds lock").get(&id) {
            return Ok(s.clone());
        }
        let row = self.db.audio_bed(id).await?;
        let decoded = Arc::new(
            vs_engine::program::audio::decode_bed(
                &self.config.ffmpeg,
                &self.bed_dir().join(&row.sha256),
            )
            .await?,
        );
        self.beds
            .lock()
            .expect("beds lock")
            .insert(id, decoded.clone());
        Ok(decoded)
    }

    /// The engine's mix for a program, from what is stored.
    pub async fn settings_for(&self, program_id: i64) -> Result<AudioSettings> {
        let p = self.program_audio(program_id).await?;
        let sources = self
            .db
            .camera_audio_all()
            .await?
            .into_iter()
            .map(|r| {
                (
                    r.camera_id,
                    SourceGain {
                        enabled: r.enabled,
                        gain_db: r.gain_db as f32,
                    },
                )
            })
            .collect();
        let bed = match p.bed_id {
            Some(id) => {
                let row = self.db.audio_bed(id).await?;
                Some(AudioBed {
                    name: row.name,
                    samples: self.bed_samples(id).await?,
                    gain_db: p.bed_gain_db as f32,
                    mode: p.bed_mode,
                })
            }
            None => None,
        };
        Ok(AudioSettings {
            master_gain_db: p.master_gain_db as f32,
            sources,
            bed,
        })
    }

    /// Gives a running program its stored mix (nothing when it does not run).
    async fn apply(&self, program_id: i64) -> Result<()> {
        if let Some(h) = self.running.get(program_id).await {
            h.set_audio(self.settings_for(program_id).await?);
        }
        Ok(())
    }
}

//! The bridge from the timeline executor to the program feed: cues become takes, preset moves
//! ahead of time (while another camera is on air) and overlay changes, all through the running
//! program — never by restarting its encoder.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use vs_base::{Error, ErrorKind, Result};
use vs_db::Db;
use vs_timeline::{OverlayShow, ProgramControl};

use crate::services::programs::{Placement, ProgramOverlay, ProgramService, TakeInput};
use crate::services::ptz::PtzService;

/// Plays timelines through the program that runs (or the first program, started on demand).
pub struct TimelineBridge {
    db: Db,
    programs: Arc<ProgramService>,
    /// Moves a camera ahead of its take (`Prepare` cues).
    ptz: Arc<PtzService>,
    /// Overlays shown by the timeline now (with their layer), on top of the program's own.
    shown: Mutex<Vec<(u32, ProgramOverlay)>>,
    /// Cameras moved ahead of their take by a `Prepare` cue: (camera, preset). Their take
    /// needs no second move, which would cost a settle check at the cut.
    prepared: Mutex<std::collections::HashSet<(i64, i64)>>,
}

impl TimelineBridge {
    pub fn new(db: Db, programs: Arc<ProgramService>, ptz: Arc<PtzService>) -> Self {
        TimelineBridge {
            db,
            programs,
            ptz,
            shown: Mutex::new(Vec::new()),
            prepared: Mutex::new(Default::default()),
        }
    }

    /// The program timelines play through: the running one with the lowest id, else the first
    /// configured program, started now.
    async fn program_id(&self) -> Result<i64> {
        let running: Vec<i64> = {
            let mut ids: Vec<i64> = self.programs.running_ids().await;
            ids.sort_unstable();
            ids
        };
        if let Some(id) = running.first() {
            return Ok(*id);
        }
        let first = self
            .db
            .list_programs()
            .await?
            .into_iter()
            .map(|p| p.id)
            .min()
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Unavailable,
                    "no program is configured: create one (Program page) to play timelines",
                )
            })?;
        self.programs.start(first, None).await?;
        Ok(first)
    }

    async fn apply_overlays(&self, program: i64) -> Result<()> {
        let row = self.db.program(program).await?;
        let mut list: Vec<ProgramOverlay> = serde_json::from_str(&row.overlays).unwrap_or_default();
        let shown = self.shown.lock().expect("bridge lock").clone();
        list.retain(|o| !shown.iter().any(|(_, s)| s.overlay_id == o.overlay_id));
        list.extend(shown.into_iter().map(|(_, s)| s));
        let handle = self.programs.running_program(program).await?;
        let engine = self
            .programs
            .engine_overlays(&list, handle.config().width, handle.config().height)
            .await?;
        handle.set_overlays(engine).await
    }
}

#[async_trait]
impl ProgramControl for TimelineBridge {
    async fn take(&self, camera_id: i64, preset_id: Option<i64>) -> Result<()> {
        let program = self.program_id().await?;
        let preset_id = preset_id.filter(|p| {
            !self
                .prepared
                .lock()
                .expect("bridge lock")
                .remove(&(camera_id, *p))
        });
        self.programs
            .take(
                program,
                &TakeInput {
                    camera_id,
                    preset_id,
                },
                None,
            )
            .await?;
        Ok(())
    }

    async fn prepare(&self, camera_id: i64, preset_id: i64) -> Result<()> {
        let program = self.program_id().await?;
        // Decode it already, so the take is instant, and move it while it is off air.
        self.programs.preroll(program, camera_id).await?;
        self.ptz.move_to_preset(preset_id).await?;
        let mut prepared = self.prepared.lock().expect("bridge lock");
        // A camera is at one preset at a time.
        prepared.retain(|(c, _)| *c != camera_id);
        prepared.insert((camera_id, preset_id));
        Ok(())
    }

    async fn show_overlay(&self, o: &OverlayShow) -> Result<()> {
        let program = self.program_id().await?;
        {
            let mut shown = self.shown.lock().expect("bridge lock");
            shown.retain(|(_, s)| s.overlay_id != o.overlay_id);
            shown.push((
                o.layer,
                ProgramOverlay {
                    overlay_id: o.overlay_id,
                    visible: true,
                    placement: Some(Placement {
                        x: o.x,
                        y: o.y,
                        width: o.width,
                        height: o.height,
                        opacity: o.opacity,
                    }),
                },
            ));
            // Lower layers first: they are drawn first (the sort is stable within a layer).
            shown.sort_by_key(|(layer, _)| *layer);
        }
        self.apply_overlays(program).await
    }

    async fn hide_overlay(&self, overlay_id: i64) -> Result<()> {
        let program = self.program_id().await?;
        self.shown
            .lock()
            .expect("bridge lock")
            .retain(|(_, s)| s.overlay_id != overlay_id);
        self.apply_overlays(program).await
    }

    async fn ready(&self) -> Result<()> {
        if self.programs.running_ids().await.is_empty() && self.db.list_programs().await?.is_empty()
        {
            // 503 as documented: the feed is missing, not busy (the status agrees).
            return Err(Error::new(
                ErrorKind::Unavailable,
                "no program is configured: create one (Program page) to play timelines through it",
            ));
        }
        Ok(())
    }

    async fn slate(&self) -> Result<()> {
        let program = self.program_id().await?;
        self.programs.take_slate(program, None).await?;
        Ok(())
    }
}

//! Timelines made or edited on the appliance: validated against what is configured now and
//! stored only when valid; their schedules; their export as VistterStudio segment files.

use vs_base::{Error, Result};
use vs_timeline::{compile, CompileOptions, CueList, ExportOptions, Format, Report, Timeline};

use super::scheduler::{parse_schedule, ScheduleInput};
use super::{
    catalog_of, dated, full_report, model_field, model_of, new_timeline_id, rename_issues,
    report_error, strip_read_only, timeline_write, view_of, TimelineService, TimelineView,
};

impl TimelineService {
    pub async fn list(&self) -> Result<Vec<TimelineView>> {
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let destinations = self.destination_ids().await?;
        self.db
            .list_timelines()
            .await?
            .iter()
            .map(|r| view_of(r, &catalog, &destinations))
            .collect()
    }

    pub async fn get(&self, id: &str) -> Result<TimelineView> {
        let row = self.db.timeline(id).await?;
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        view_of(&row, &catalog, &self.destination_ids().await?)
    }

    /// Checks a timeline without storing it: every error and warning, in the model's names.
    pub async fn validate(&self, mut timeline: Timeline) -> Result<Report> {
        strip_read_only(&mut timeline);
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let report = full_report(&timeline, &catalog, &self.destination_ids().await?);
        Ok(Report {
            errors: rename_issues(&report.errors, model_field),
            warnings: rename_issues(&report.warnings, model_field),
        })
    }

    /// Stores a timeline made on the appliance; refused (and nothing stored) unless valid.
    pub async fn create(
        &self,
        mut timeline: Timeline,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        strip_read_only(&mut timeline);
        if timeline.id.is_none() {
            timeline.id = Some(new_timeline_id());
        }
        self.save_model(timeline, false, user_id).await
    }

    pub async fn update(
        &self,
        id: &str,
        mut timeline: Timeline,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        strip_read_only(&mut timeline);
        if timeline.id.as_deref().is_some_and(|given| given != id) {
            return Err(Error::invalid(
                "id",
                "differs from the id in the address; a timeline's id cannot change",
            ));
        }
        timeline.id = Some(id.to_string());
        let view = self.save_model(timeline, true, user_id).await?;
        self.reload_if_playing(id, &view.timeline).await;
        Ok(view)
    }

    async fn save_model(
        &self,
        timeline: Timeline,
        update: bool,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        let destinations = self.destination_ids().await?;
        let mut tx = self.db.catalog_tx().await?;
        let catalog = catalog_of(&tx.catalog_rows().await?);
        let report = full_report(&timeline, &catalog, &destinations);
        if let Some(e) = report_error(&report, model_field) {
            return Err(e);
        }
        let w = timeline_write(&timeline, None)?;
        let row = if update {
            tx.update_timeline(&w).await?
        } else {
            tx.insert_timeline(&w).await?
        };
        let action = if update {
            "timeline_updated"
        } else {
            "timeline_created"
        };
        tx.audit(user_id, action, Some(&row.name), Some(&row.id))
            .await?;
        tx.commit().await?;
        self.events
            .publish("timeline_changed", serde_json::json!({ "id": row.id }));
        view_of(&row, &catalog, &destinations)
    }

    pub async fn delete(&self, id: &str, user_id: Option<i64>) -> Result<()> {
        let row = self.db.timeline(id).await?;
        let status = self.player().status();
        if status.state == "playing" && status.timeline_id.as_deref() == Some(id) {
            return Err(Error::invalid_state(
                "the timeline is playing; stop it first",
            ));
        }
        self.db.delete_timeline(id).await?;
        self.db
            .audit(user_id, "timeline_deleted", Some(&row.name), Some(id))
            .await?;
        self.events
            .publish("timeline_changed", serde_json::json!({ "id": id }));
        self.kick.notify_one();
        Ok(())
    }

    /// The cue list the executor would fire for a timeline.
    pub async fn cues(&self, id: &str) -> Result<CueList> {
        let row = self.db.timeline(id).await?;
        Ok(compile(&model_of(&row)?, &CompileOptions::default()))
    }

    pub async fn set_schedule(
        &self,
        id: &str,
        input: Option<&ScheduleInput>,
        user_id: Option<i64>,
    ) -> Result<TimelineView> {
        let text = match input {
            Some(i) => Some(serde_json::to_string(&parse_schedule(i)?).map_err(Error::internal)?),
            None => None,
        };
        let row = self.db.set_timeline_schedule(id, text.as_deref()).await?;
        self.db
            .audit(
                user_id,
                "timeline_scheduled",
                Some(&row.name),
                Some(text.as_deref().unwrap_or("none")),
            )
            .await?;
        self.events
            .publish("timeline_changed", serde_json::json!({ "id": id }));
        self.kick.notify_one();
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        view_of(&row, &catalog, &self.destination_ids().await?)
    }

    /// A timeline as a VistterStudio segment file (never with credentials), and its file name.
    pub async fn export(&self, id: &str, format: Option<Format>) -> Result<(String, String)> {
        let row = self.db.timeline(id).await?;
        let catalog = catalog_of(&self.db.catalog_rows().await?);
        let timeline = dated(model_of(&row)?, &row);
        let text = vs_timeline::export_pretty(
            &timeline,
            &catalog,
            &ExportOptions {
                format,
                credentials: None,
            },
        )?;
        Ok((format!("{id}.json"), text))
    }
}

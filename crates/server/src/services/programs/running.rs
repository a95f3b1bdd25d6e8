//! The programs that run now, by id: owned by the `ProgramService`, read by the previews (a
//! program's preview taps its output). A registry they can hold without holding the program
//! service.

use std::collections::HashMap;

use tokio::sync::{Mutex, MutexGuard};
use vs_engine::ProgramHandle;

#[derive(Default)]
pub struct RunningPrograms {
    handles: Mutex<HashMap<i64, ProgramHandle>>,
}

impl RunningPrograms {
    /// The map itself, for a change or a look that must not race a start or a stop.
    pub async fn lock(&self) -> MutexGuard<'_, HashMap<i64, ProgramHandle>> {
        self.handles.lock().await
    }

    pub async fn ids(&self) -> Vec<i64> {
        self.handles.lock().await.keys().copied().collect()
    }

    pub async fn get(&self, id: i64) -> Option<ProgramHandle> {
        self.handles.lock().await.get(&id).cloned()
    }
}

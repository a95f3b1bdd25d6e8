//! Time as a dependency, so supervision timing (stall, startup, backoff, stop timeouts) can be
//! driven by tests instead of waited for. The trait is the workspace's one clock
//! (`vs_base::clock`), shared with the timeline executor; re-exported here under the names the
//! engine has always used.

pub use vs_base::clock::{Clock, TokioClock};

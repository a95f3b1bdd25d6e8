//! How the appliance's process uses the C allocator. glibc's malloc gives each thread that
//! allocates its own arena (up to 8 per core), and each arena keeps what it once held, so the
//! resident size grows with the number of threads rather than with what is live. Raw frames,
//! the big allocations, are reused through [`crate::framepool`]; two arenas keep contention
//! low on the Pi's four cores and the rest close to the live set.

/// Arenas the process may use (see the module documentation).
pub const MALLOC_ARENAS: i32 = 2;

/// Limits glibc's malloc to [`MALLOC_ARENAS`] arenas. Call it first thing in `main`, before any
/// other thread exists. Elsewhere (musl, other systems) it does nothing.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes a malloc parameter; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
    }
}

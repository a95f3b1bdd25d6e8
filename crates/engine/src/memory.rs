//! How the appliance's process uses the C allocator. glibc's malloc gives each thread that
//! allocates its own arena (up to 8 per core), and each arena keeps what it once held, so the
//! resident size grows with the number of threads rather than with what is live. Raw frames,
//! the big allocations, are reused through [`crate::framepool`]; two arenas keep contention
//! low on the Pi's four cores and the rest close to the live set.

/// Arenas the process may use (see the module documentation).
pub const MALLOC_ARENAS: i32 = 2;

/// Allocations from this size up get their own mapping, returned to the system when freed.
/// glibc's default threshold (128 KiB) rises to the size of any such block once freed, after
/// which raw frames (1.4 MB at 720p, 3.1 MB at 1080p) beyond what the frame pool keeps are
/// carved from an arena and stay resident there after the program stops or shrinks. A fixed
/// threshold keeps them out: what the pool does not hold goes back at once. Compressed video
/// (a 1080p keyframe is a few hundred KB) stays below it.
pub const MMAP_THRESHOLD: i32 = 1 << 20;

/// Limits glibc's malloc to [`MALLOC_ARENAS`] arenas and fixes its mapping threshold at
/// [`MMAP_THRESHOLD`]. Call it first thing in `main`, before any other thread exists.
/// Elsewhere (musl, other systems) it does nothing.
#[allow(unsafe_code)]
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes malloc parameters; called before other threads start.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, MALLOC_ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// What [`release_code_pages`] found and let go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Released {
    /// Read-only, never-written file mappings (code and constants) whose pages were unmapped.
    pub mappings: usize,
    /// Their resident size before, in KiB.
    pub resident_kib: u64,
}

/// Unmaps the resident pages of the executable's read-only mappings — its code and constants —
/// that hold no private (written) page.
///
/// Why: the binary is 40 MB, and what start-up runs once (migrations, the OpenAPI document,
/// the command line, TLS set-up) leaves its code mapped: with the kernel's fault-around, 16 MiB
/// of the binary is resident after start while 3 MiB of it is touched in a minute of idling.
/// The pages stay in the page cache, so code that runs again is mapped back by a minor fault;
/// resident memory then follows the working set instead of start-up's path.
///
/// Safe because only mappings with `Anonymous: 0 kB` in `/proc/self/smaps` and no write
/// permission are touched: for those, `MADV_DONTNEED` drops page-table entries whose content is
/// the file's, exactly what a later fault maps again. A relocated read-only mapping
/// (`.data.rel.ro` after RELRO) has private pages and is left alone. Only the executable's own
/// mappings, made at exec and never remapped: a shared library being loaded by another thread
/// (the resolver's) is mapped read-only before its relocations are written, and must not be
/// touched in between. Elsewhere than Linux it does nothing.
///
/// The appliance calls it 15 s after start and then every minute (`vistterstream serve`).
pub fn release_code_pages() -> std::io::Result<Released> {
    #[cfg(target_os = "linux")]
    {
        let exe = std::fs::read_link("/proc/self/exe")?;
        let exe = exe.to_string_lossy();
        let smaps = std::fs::read_to_string("/proc/self/smaps")?;
        let mut released = Released::default();
        for m in read_only_file_mappings(&smaps, &exe) {
            if madvise_dontneed(m.start, m.end - m.start).is_ok() {
                released.mappings += 1;
                released.resident_kib += m.rss_kib;
            }
        }
        Ok(released)
    }
    #[cfg(not(target_os = "linux"))]
    Ok(Released::default())
}

/// One mapping of `/proc/self/smaps` that [`release_code_pages`] may release.
#[derive(Debug, PartialEq, Eq)]
struct Mapping {
    start: usize,
    end: usize,
    rss_kib: u64,
}

/// The private, non-writable mappings of the file `exe` with resident pages and no anonymous
/// page.
fn read_only_file_mappings(smaps: &str, exe: &str) -> Vec<Mapping> {
    let mut out = Vec::new();
    // (start, end, eligible by its header line, Rss, Anonymous)
    let mut cur: Option<(usize, usize, bool, u64, Option<u64>)> = None;
    let mut flush = |cur: &mut Option<(usize, usize, bool, u64, Option<u64>)>| {
        if let Some((start, end, true, rss, Some(0))) = cur.take() {
            if rss > 0 {
                out.push(Mapping {
                    start,
                    end,
                    rss_kib: rss,
                });
            }
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                flush(&mut cur);
                let perms = fields.next().unwrap_or("");
                // offset, device, inode, then the path: a file, not [heap]/[stack]/anonymous.
                let inode = fields.nth(2).unwrap_or("0");
                let path = fields.next().unwrap_or("");
                let eligible = matches!(perms, "r--p" | "r-xp")
                    && inode != "0"
                    && path == exe
                    && !line.ends_with("(deleted)");
                cur = Some((start, end, eligible, 0, None));
                continue;
            }
        }
        if let Some(c) = cur.as_mut() {
            let kib = fields.next().and_then(|v| v.parse::<u64>().ok());
            match first {
                "Rss:" => c.3 = kib.unwrap_or(0),
                "Anonymous:" => c.4 = kib,
                _ => {}
            }
        }
    }
    flush(&mut cur);
    out
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn madvise_dontneed(start: usize, len: usize) -> std::io::Result<()> {
    // SAFETY: the range is a whole mapping of this process, read-only and file-backed with no
    // private page (checked by the caller from smaps): dropping its page-table entries loses
    // nothing, the next access maps the same file page again.
    let rc = unsafe { libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unwritten_read_only_file_mappings_are_chosen() {
        let smaps = "\
55e5d7ba6000-55e5d8c3f000 r--p 00000000 fd:01 1234 /opt/vs/vistterstream
Size:              17000 kB
Rss:                2632 kB
Anonymous:             0 kB
55e5d8c3f000-55e5d9e12000 r-xp 01098000 fd:01 1234 /opt/vs/vistterstream
Rss:               12488 kB
Anonymous:             0 kB
55e5d9e12000-55e5d9f8b000 r--p 0226a000 fd:01 1234 /opt/vs/vistterstream
Rss:                1488 kB
Anonymous:          1400 kB
55e5d9f8b000-55e5d9f93000 rw-p 023e2000 fd:01 1234 /opt/vs/vistterstream
Rss:                  32 kB
Anonymous:            32 kB
7fe9e1afe000-7fe9e1b06000 rw-s 00000000 fd:01 99 /data/vistterstream.db-shm
Rss:                  32 kB
Anonymous:             0 kB
7fe9e1b06000-7fe9e1b08000 r--p 00000000 00:00 0 
Rss:                   8 kB
Anonymous:             0 kB
7fe9e1b08000-7fe9e1b09000 r-xp 00000000 00:00 0 [vdso]
Rss:                   4 kB
Anonymous:             0 kB
7fe9e1c00000-7fe9e1d00000 r-xp 00028000 fd:01 77 /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1464 kB
Anonymous:             0 kB
7fe9e1d00000-7fe9e1d10000 r--p 00000000 fd:01 78 /usr/lib/x86_64-linux-gnu/libm.so.6
Rss:                   0 kB
Anonymous:             0 kB
";
        let chosen = read_only_file_mappings(smaps, "/opt/vs/vistterstream");
        assert_eq!(
            chosen,
            vec![
                Mapping {
                    start: 0x55e5d7ba6000,
                    end: 0x55e5d8c3f000,
                    rss_kib: 2632
                },
                Mapping {
                    start: 0x55e5d8c3f000,
                    end: 0x55e5d9e12000,
                    rss_kib: 12488
                },
            ],
            "the relocated read-only part, writable, shared, anonymous, vdso, libraries' and \
             empty mappings are left alone"
        );
    }

    /// In this very process: the code's pages go, the process keeps running (the code it
    /// runs next is mapped back), and the resident size falls.
    #[test]
    fn releasing_code_pages_lowers_rss_and_the_code_still_runs() {
        let rss = || {
            std::fs::read_to_string("/proc/self/status")
                .unwrap()
                .lines()
                .find_map(|l| l.strip_prefix("RssFile:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").parse::<u64>().ok())
                .unwrap()
        };
        let before = rss();
        let released = release_code_pages().expect("smaps readable");
        assert!(released.mappings >= 1, "{released:?}");
        assert!(released.resident_kib > 0, "{released:?}");
        let after = rss();
        assert!(after < before, "file RSS {before} -> {after} KiB");
        // Code and constants are still there: formatting, allocation, a thread.
        let s = std::thread::spawn(|| format!("{:?}", vec![1u8, 2, 3]))
            .join()
            .unwrap();
        assert_eq!(s, "[1, 2, 3]");
    }
}

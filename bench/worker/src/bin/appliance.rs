//! The appliance's side of the shared-memory design, as a measuring prototype: it owns the
//! shared memory file, starts the codec worker with it, and hands every decoded frame (a slot
//! number) back to the worker's encoder, as the program clock does when it picks the on-air
//! frame. With BLEND_ROWS > 0 it also blends a half-transparent band over the top BLEND_ROWS
//! rows of each frame in place (luma and chroma), as overlays are blended inside their
//! rectangles; 0 touches no pixel (nothing in between, like bench/split.sh's pipe).
//!
//! Usage: appliance WORKER CLIP SECONDS WIDTH HEIGHT FPS KBPS [BLEND_ROWS]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::ptr::null_mut;

const SLOTS: usize = 4;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (worker, clip, seconds) = (&a[1], &a[2], &a[3]);
    let (w, h): (usize, usize) = (a[4].parse().unwrap(), a[5].parse().unwrap());
    let blend_rows: usize = a.get(8).map(|s| s.parse().unwrap()).unwrap_or(0);
    let fsize = w * h * 3 / 2;
    // SAFETY: a new anonymous memory file, inherited by the worker (no CLOEXEC), sized here.
    let (fd, base) = unsafe {
        let fd = libc::memfd_create(c"frames".as_ptr(), 0);
        assert!(fd >= 0, "memfd_create");
        assert_eq!(libc::ftruncate(fd, (fsize * SLOTS) as libc::off_t), 0);
        let base = libc::mmap(
            null_mut(),
            fsize * SLOTS,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        assert_ne!(base, libc::MAP_FAILED);
        (fd, base as *mut u8)
    };
    let mut child = Command::new(worker)
        .args([
            clip,
            seconds,
            &a[4],
            &a[5],
            &a[6],
            &a[7],
            &SLOTS.to_string(),
            &fd.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the worker");
    let mut from = child.stdout.take().unwrap();
    let mut to = child.stdin.take().unwrap();
    let mut rec = [0u8; 16];
    let mut frames = 0u64;
    while from.read_exact(&mut rec).is_ok() {
        let slot = u64::from_le_bytes(rec[..8].try_into().unwrap()) as usize;
        if blend_rows > 0 {
            // SAFETY: the slot is the worker's to fill only before it sends it here and the
            // encoder's only after we send it back: between the two it is ours.
            let frame = unsafe { std::slice::from_raw_parts_mut(base.add(slot * fsize), fsize) };
            let (luma, chroma) = frame.split_at_mut(w * h);
            for px in &mut luma[..blend_rows * w] {
                *px = ((*px as u16 + 16) / 2) as u8;
            }
            let (u, v) = chroma.split_at_mut(w * h / 4);
            for px in u[..blend_rows / 2 * w / 2]
                .iter_mut()
                .chain(v[..blend_rows / 2 * w / 2].iter_mut())
            {
                *px = ((*px as u16 + 128) / 2) as u8;
            }
        }
        if to.write_all(&rec).is_err() {
            break;
        }
        frames += 1;
    }
    drop(to);
    let status = child.wait().expect("wait for the worker");
    assert!(status.success(), "the worker failed: {status}");
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: fills usage; the worker is our only child, so its peak is the children's peak.
    let usage = unsafe {
        assert_eq!(
            libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()),
            0
        );
        usage.assume_init()
    };
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = own
        .lines()
        .find(|l| l.starts_with("VmHWM"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap();
    eprintln!(
        "appliance: {frames} frames handed over; peak RSS: this process {:.1} MiB, the worker {:.1} MiB",
        hwm.parse::<f64>().unwrap() / 1024.0,
        usage.ru_maxrss as f64 / 1024.0
    );
}

//! The appliance's side of the shared-memory design, as a measuring prototype: it owns the
//! shared memory file, starts the codec worker with it, and hands every decoded frame (a slot
//! number) back to the worker's encoder, as the program clock does when it picks the on-air
//! frame. With BLEND_ROWS > 0 it also blends a half-transparent band over the top BLEND_ROWS
//! rows of each frame in place (luma and chroma), as overlays are blended inside their
//! rectangles; 0 touches no pixel (nothing in between, like bench/split.sh's pipe).
//!
//! With ENCODER_FFMPEG set, the worker only decodes (WORKER_DECODE_ONLY) and the encoder is
//! an FFmpeg child as today's program encoder: each slot is `vmsplice`d into its stdin (a 1 MiB
//! pipe; the pages are referenced, not copied) and goes back to the worker once the next frame
//! is in the pipe (by then the encoder has read all of it).
//!
//! Usage: appliance WORKER CLIP SECONDS WIDTH HEIGHT FPS KBPS [BLEND_ROWS]

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
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
    let ffmpeg_encoder = std::env::var_os("ENCODER_FFMPEG").is_some();
    let mut encoder = ffmpeg_encoder.then(|| {
        let (kbps, fps): (u32, u32) = (a[7].parse().unwrap(), a[6].parse().unwrap());
        let args = format!(
            "-hide_banner -loglevel error -nostdin -f rawvideo -pix_fmt yuv420p -s {w}x{h} -r {fps} \
             -i pipe:0 -pix_fmt yuv420p -c:v libx264 -preset veryfast -tune zerolatency \
             -sc_threshold 0 -b:v {kbps}k -maxrate {kbps}k -bufsize {}k -g {g} -keyint_min {g} \
             -bf 0 -f mpegts -y {out}",
            2 * kbps,
            g = 2 * fps,
            out = std::env::var("WORKER_OUT").unwrap_or_else(|_| "-".into())
        );
        Command::new("ffmpeg")
            .args(args.split_whitespace())
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start ffmpeg")
    });
    let mut enc_in = encoder.as_mut().map(|e| e.stdin.take().unwrap());
    if let Some(p) = &enc_in {
        // SAFETY: sets the size of our own pipe's buffer.
        assert!(unsafe { libc::fcntl(p.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) } >= 1 << 20);
    }
    let mut pending: Option<[u8; 16]> = None;
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
        .envs(ffmpeg_encoder.then_some(("WORKER_DECODE_ONLY", "1")))
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
        if let Some(pipe) = &enc_in {
            let mut off = 0;
            while off < fsize {
                let iov = libc::iovec {
                    // SAFETY: inside the mapping; the slot stays ours until we send it back.
                    iov_base: unsafe { base.add(slot * fsize + off) } as *mut libc::c_void,
                    iov_len: fsize - off,
                };
                // SAFETY: one iovec over mapped memory into our pipe; blocks while it is full.
                let n = unsafe { libc::vmsplice(pipe.as_raw_fd(), &iov, 1, 0) };
                assert!(n > 0, "vmsplice: {}", std::io::Error::last_os_error());
                off += n as usize;
            }
            // A whole frame (more than the pipe holds) went in after the previous one: the
            // encoder has read all of the previous one.
            if let Some(prev) = pending.replace(rec) {
                if to.write_all(&prev).is_err() {
                    break;
                }
            }
        } else if to.write_all(&rec).is_err() {
            break;
        }
        frames += 1;
    }
    if let Some(mut e) = encoder {
        drop(enc_in.take());
        assert!(
            e.wait().expect("wait for ffmpeg").success(),
            "ffmpeg failed"
        );
        if let Some(prev) = pending.take() {
            let _ = to.write_all(&prev);
        }
    }
    drop(to);
    let status = child.wait().expect("wait for the worker");
    assert!(status.success(), "the worker failed: {status}");
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: fills usage (the peak of the largest child: the worker, or FFmpeg's encoder).
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
        "appliance: {frames} frames handed over; peak RSS: this process {:.1} MiB, the largest child {:.1} MiB",
        hwm.parse::<f64>().unwrap() / 1024.0,
        usage.ru_maxrss as f64 / 1024.0
    );
}

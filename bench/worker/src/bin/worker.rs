//! The codec worker of the shared-memory design, as a measuring prototype.
//!
//! One process holds libav's H.264 decoder and libx264 (both through libavcodec, with the same
//! settings `bench/split.sh` gives the FFmpeg command lines). The decoder thread reads the clip at
//! its real-time rate (like `-re`), copies each decoded picture into a free slot of the shared
//! memory file it inherited, and tells the parent (the appliance's role) which slot on stdout.
//! The encoder thread reads the slots the parent sends back on stdin and encodes them straight
//! from the shared memory (the AVFrame's buffer is the slot: no copy before x264's own), to
//! MPEG-TS thrown away (or written to $WORKER_OUT, to look at). A slot is free again when
//! libavcodec lets go of its buffer.
//!
//! With WORKER_DECODE_ONLY set it only decodes: the parent encodes elsewhere and sends each
//! slot back on stdin when it no longer needs it.
//!
//! Usage: worker CLIP SECONDS WIDTH HEIGHT FPS KBPS SLOTS SHM_FD
//! Records on both pipes: 16 bytes, slot (u64 LE) and frame number (i64 LE).

use ffmpeg_sys_next as ff;
use std::ffi::{CStr, CString};
use std::io::{Read, Write};
use std::ptr::{null, null_mut};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

struct Slots {
    free: Mutex<Vec<usize>>,
    ready: Condvar,
}

impl Slots {
    fn take(&self) -> usize {
        let mut free = self.free.lock().unwrap();
        loop {
            if let Some(slot) = free.pop() {
                return slot;
            }
            free = self.ready.wait(free).unwrap();
        }
    }
    fn give(&self, slot: usize) {
        self.free.lock().unwrap().push(slot);
        self.ready.notify_one();
    }
}

/// The shared memory's base address, passed between threads.
#[derive(Clone, Copy)]
struct Base(*mut u8);
// SAFETY: the mapping lives for the whole process; which thread touches which slot is decided
// by the slot protocol (a slot is written only while it is off the free list and not yet sent).
unsafe impl Send for Base {}

fn check(what: &str, ret: i32) -> i32 {
    if ret < 0 && ret != ff::AVERROR(libc::EAGAIN) && ret != ff::AVERROR_EOF {
        let mut buf = [0 as libc::c_char; 256];
        // SAFETY: buf is large enough and NUL-terminated by av_strerror.
        let msg = unsafe {
            ff::av_strerror(ret, buf.as_mut_ptr(), buf.len());
            CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
        };
        eprintln!("worker: {what}: {msg}");
        std::process::exit(1);
    }
    ret
}

struct Release {
    slots: Arc<Slots>,
    slot: usize,
}

unsafe extern "C" fn release(opaque: *mut libc::c_void, _data: *mut u8) {
    // SAFETY: opaque is the Box<Release> made for this buffer, freed exactly once here.
    let r = unsafe { Box::from_raw(opaque as *mut Release) };
    r.slots.give(r.slot);
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let clip = CString::new(a[1].as_str()).unwrap();
    let seconds: f64 = a[2].parse().unwrap();
    let (w, h, fps, kbps): (usize, usize, i32, i64) = (
        a[3].parse().unwrap(),
        a[4].parse().unwrap(),
        a[5].parse().unwrap(),
        a[6].parse().unwrap(),
    );
    let nslots: usize = a[7].parse().unwrap();
    let fd: i32 = a[8].parse().unwrap();
    let fsize = w * h * 3 / 2;
    // As `-loglevel error` on the command lines it is compared with.
    // SAFETY: sets a global of libav's before any other thread uses it.
    unsafe { ff::av_log_set_level(ff::AV_LOG_ERROR) };
    // SAFETY: a shared mapping of the inherited memory file, sized by the parent.
    let base = unsafe {
        libc::mmap(
            null_mut(),
            fsize * nslots,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        )
    };
    assert_ne!(base, libc::MAP_FAILED);
    let base = Base(base as *mut u8);
    let slots = Arc::new(Slots {
        free: Mutex::new((0..nslots).rev().collect()),
        ready: Condvar::new(),
    });

    let enc_slots = slots.clone();
    let encoder = if std::env::var_os("WORKER_DECODE_ONLY").is_some() {
        // The parent encodes elsewhere and sends each slot back once it is done with it.
        std::thread::spawn(move || {
            let mut input = std::io::stdin().lock();
            let mut rec = [0u8; 16];
            let mut returned = 0;
            while input.read_exact(&mut rec).is_ok() {
                enc_slots.give(u64::from_le_bytes(rec[..8].try_into().unwrap()) as usize);
                returned += 1;
            }
            returned
        })
    } else {
        std::thread::spawn(move || encode(base, enc_slots, w, h, fps, kbps, fsize))
    };

    // SAFETY (the rest of main): libav's C API used as documented; every pointer comes from it.
    unsafe {
        let mut ic: *mut ff::AVFormatContext = null_mut();
        check(
            "open clip",
            ff::avformat_open_input(&mut ic, clip.as_ptr(), null(), null_mut()),
        );
        check("stream info", ff::avformat_find_stream_info(ic, null_mut()));
        let vi = check(
            "video stream",
            ff::av_find_best_stream(
                ic,
                ff::AVMediaType::AVMEDIA_TYPE_VIDEO,
                -1,
                -1,
                null_mut(),
                0,
            ),
        );
        let st = *(*ic).streams.add(vi as usize);
        let dec = ff::avcodec_find_decoder((*(*st).codecpar).codec_id);
        let dc = ff::avcodec_alloc_context3(dec);
        check(
            "decoder params",
            ff::avcodec_parameters_to_context(dc, (*st).codecpar),
        );
        // As the ffmpeg command line does for decoders: threads "auto".
        let mut opts: *mut ff::AVDictionary = null_mut();
        ff::av_dict_set(&mut opts, c"threads".as_ptr(), c"auto".as_ptr(), 0);
        check("open decoder", ff::avcodec_open2(dc, dec, &mut opts));
        ff::av_dict_free(&mut opts);
        let tb = (*st).time_base;
        let pkt = ff::av_packet_alloc();
        let frame = ff::av_frame_alloc();
        let start = Instant::now();
        let mut first_dts: Option<i64> = None;
        let mut n: i64 = 0;
        let mut out = std::io::stdout().lock();
        let mut done = false;
        while !done && ff::av_read_frame(ic, pkt) >= 0 {
            if (*pkt).stream_index != vi {
                ff::av_packet_unref(pkt);
                continue;
            }
            // -re: a packet is read no earlier than its dts says.
            let dts = if (*pkt).dts != ff::AV_NOPTS_VALUE {
                (*pkt).dts
            } else {
                (*pkt).pts
            };
            let t0 = *first_dts.get_or_insert(dts);
            let at = (dts - t0) as f64 * tb.num as f64 / tb.den as f64;
            if at >= seconds {
                ff::av_packet_unref(pkt);
                break;
            }
            let wait = Duration::from_secs_f64(at).saturating_sub(start.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
            check("send packet", ff::avcodec_send_packet(dc, pkt));
            ff::av_packet_unref(pkt);
            while ff::avcodec_receive_frame(dc, frame) >= 0 {
                if (*frame).width as usize != w || (*frame).height as usize != h {
                    eprintln!(
                        "worker: the clip is {}x{}, not {w}x{h}",
                        (*frame).width,
                        (*frame).height
                    );
                    std::process::exit(1);
                }
                let slot = slots.take();
                let dst = base.0.add(slot * fsize);
                // The one copy of this design: decoded picture -> shared slot (tight rows).
                let planes = [
                    (0usize, w, h, 0usize),
                    (1, w / 2, h / 2, w * h),
                    (2, w / 2, h / 2, w * h * 5 / 4),
                ];
                for (p, pw, ph, off) in planes {
                    let src = (*frame).data[p];
                    let ls = (*frame).linesize[p] as usize;
                    for row in 0..ph {
                        std::ptr::copy_nonoverlapping(
                            src.add(row * ls),
                            dst.add(off + row * pw),
                            pw,
                        );
                    }
                }
                ff::av_frame_unref(frame);
                let mut rec = [0u8; 16];
                rec[..8].copy_from_slice(&(slot as u64).to_le_bytes());
                rec[8..].copy_from_slice(&n.to_le_bytes());
                if out.write_all(&rec).and_then(|_| out.flush()).is_err() {
                    done = true;
                    break;
                }
                n += 1;
            }
        }
        drop(out);
        // SAFETY: closing our stdout tells the parent the decoder is done.
        libc::close(1);
        ff::av_frame_free(&mut (frame as *mut _));
        ff::av_packet_free(&mut (pkt as *mut _));
        ff::avcodec_free_context(&mut (dc as *mut _));
        ff::avformat_close_input(&mut ic);
    }
    let encoded = encoder.join().unwrap();
    eprintln!("worker: {encoded} frames encoded or returned");
}

fn encode(
    base: Base,
    slots: Arc<Slots>,
    w: usize,
    h: usize,
    fps: i32,
    kbps: i64,
    fsize: usize,
) -> i64 {
    // SAFETY: libav's C API used as documented; the frame's planes point into a slot that stays
    // off the free list until libavcodec drops the buffer (release()).
    let out =
        CString::new(std::env::var("WORKER_OUT").unwrap_or_else(|_| "/dev/null".into())).unwrap();
    unsafe {
        let codec = ff::avcodec_find_encoder_by_name(c"libx264".as_ptr());
        assert!(!codec.is_null(), "no libx264 in this libavcodec");
        let ec = ff::avcodec_alloc_context3(codec);
        (*ec).width = w as i32;
        (*ec).height = h as i32;
        (*ec).pix_fmt = ff::AVPixelFormat::AV_PIX_FMT_YUV420P;
        (*ec).time_base = ff::AVRational { num: 1, den: fps };
        (*ec).framerate = ff::AVRational { num: fps, den: 1 };
        (*ec).bit_rate = kbps * 1000;
        (*ec).rc_max_rate = kbps * 1000;
        (*ec).rc_buffer_size = (2 * kbps * 1000) as i32;
        (*ec).gop_size = 2 * fps;
        (*ec).keyint_min = 2 * fps;
        (*ec).max_b_frames = 0;
        let mut opts: *mut ff::AVDictionary = null_mut();
        for (k, v) in [
            (c"preset", c"veryfast"),
            (c"tune", c"zerolatency"),
            (c"sc_threshold", c"0"),
            (c"threads", c"auto"),
        ] {
            ff::av_dict_set(&mut opts, k.as_ptr(), v.as_ptr(), 0);
        }
        check("open encoder", ff::avcodec_open2(ec, codec, &mut opts));
        ff::av_dict_free(&mut opts);

        let mut oc: *mut ff::AVFormatContext = null_mut();
        check(
            "output",
            ff::avformat_alloc_output_context2(&mut oc, null(), c"mpegts".as_ptr(), out.as_ptr()),
        );
        let os = ff::avformat_new_stream(oc, null());
        check(
            "stream params",
            ff::avcodec_parameters_from_context((*os).codecpar, ec),
        );
        (*os).time_base = (*ec).time_base;
        check(
            "open output",
            ff::avio_open(&mut (*oc).pb, out.as_ptr(), ff::AVIO_FLAG_WRITE),
        );
        check("header", ff::avformat_write_header(oc, null_mut()));
        let pkt = ff::av_packet_alloc();

        let drain = |oc: *mut ff::AVFormatContext| {
            while ff::avcodec_receive_packet(ec, pkt) >= 0 {
                ff::av_packet_rescale_ts(pkt, (*ec).time_base, (*os).time_base);
                (*pkt).stream_index = 0;
                check("write", ff::av_interleaved_write_frame(oc, pkt));
            }
        };

        let mut input = std::io::stdin().lock();
        let mut rec = [0u8; 16];
        let mut count = 0;
        while input.read_exact(&mut rec).is_ok() {
            let slot = u64::from_le_bytes(rec[..8].try_into().unwrap()) as usize;
            let pts = i64::from_le_bytes(rec[8..].try_into().unwrap());
            let p = base.0.add(slot * fsize);
            let opaque = Box::into_raw(Box::new(Release {
                slots: slots.clone(),
                slot,
            }));
            let buf = ff::av_buffer_create(p, fsize, Some(release), opaque as *mut libc::c_void, 0);
            let mut f = ff::av_frame_alloc();
            (*f).buf[0] = buf;
            (*f).data[0] = p;
            (*f).data[1] = p.add(w * h);
            (*f).data[2] = p.add(w * h * 5 / 4);
            (*f).linesize[0] = w as i32;
            (*f).linesize[1] = (w / 2) as i32;
            (*f).linesize[2] = (w / 2) as i32;
            (*f).width = w as i32;
            (*f).height = h as i32;
            (*f).format = ff::AVPixelFormat::AV_PIX_FMT_YUV420P as i32;
            (*f).pts = pts;
            check("send frame", ff::avcodec_send_frame(ec, f));
            ff::av_frame_free(&mut f);
            drain(oc);
            count += 1;
        }
        check("flush", ff::avcodec_send_frame(ec, null()));
        drain(oc);
        ff::av_write_trailer(oc);
        ff::avio_closep(&mut (*oc).pb);
        ff::avformat_free_context(oc);
        ff::av_packet_free(&mut (pkt as *mut _));
        ff::avcodec_free_context(&mut (ec as *mut _));
        count
    }
}

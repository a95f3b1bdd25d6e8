//! `vistterstream-decoder`: one camera decoded for the program, into shared memory.
//!
//! It does what the program's decoder FFmpeg did (`vs_engine::hub::decoder_args`): MPEG-TS from
//! the camera's hub session on stdin, H.264 (or whatever the stream carries) decoded by
//! libavcodec with the same flags, scaled and padded to the program's size by the same
//! libavfilter filters, one picture out per picture in. The pictures do not go through a pipe:
//! each is copied into a free slot of a shared memory file, and only the slot's number goes to
//! the appliance. Frames through pipes cost a copy into the kernel and one out of it, for every
//! frame, on both sides; `bench/split.sh` measured the difference (docs/architecture.md).
//!
//! Protocol (all integers little-endian):
//! - stdout, first: the hello, 32 bytes: `b"VSDW0001"`, the memory file's descriptor number in
//!   this process (u32; the appliance opens `/proc/<pid>/fd/<n>`), the number of slots (u32),
//!   the bytes of one slot (u64: `width * height * 3 / 2` of `yuv420p`), width (u32), height
//!   (u32).
//! - stdout, then: one 16-byte record per picture: slot (u32), 0 (u32), picture number (u64,
//!   from 0). The slot is the appliance's from then on.
//! - file descriptor 4: the appliance gives slots back, 4 bytes each (u32). A picture waits
//!   for a free slot: a reader that keeps every slot stops the decoder, never loses a picture.
//! - stdin at its end: the last pictures are flushed and the process exits 0.
//!
//! Usage: vistterstream-decoder WIDTH HEIGHT [SLOTS]

// This crate is the appliance's one binding to libav, a C library: every call into it is
// `unsafe`. Each block says what makes it sound.
#![allow(unsafe_code)]

use ffmpeg_sys_next as ff;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::ExitCode;
use std::ptr::{null, null_mut};
use std::sync::{Arc, Condvar, Mutex};

/// Where the appliance gives slots back (`vs_engine::spawner::EXTRA_INPUT_FD`).
const RETURN_FD: i32 = 4;
const DEFAULT_SLOTS: u32 = 6;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vistterstream-decoder: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A libav error code as its message.
fn av_err(what: &str, code: i32) -> String {
    let mut buf = [0 as libc::c_char; 128];
    // SAFETY: av_strerror writes a NUL-terminated string of at most buf.len() bytes.
    let msg = unsafe {
        ff::av_strerror(code, buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    };
    format!("{what}: {msg}")
}

fn ok(what: &str, code: i32) -> Result<i32, String> {
    if code < 0 {
        Err(av_err(what, code))
    } else {
        Ok(code)
    }
}

/// The free slots; the decoder waits on it, the return thread fills it.
struct Slots {
    free: Mutex<(Vec<u32>, bool)>,
    changed: Condvar,
}

impl Slots {
    /// A free slot, or `None` once the appliance closed its end (it wants no more pictures).
    fn take(&self) -> Option<u32> {
        let mut g = self.free.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(s) = g.0.pop() {
                return Some(s);
            }
            if g.1 {
                return None;
            }
            g = self.changed.wait(g).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// The shared memory file and its mapping in this process.
struct Shared {
    fd: OwnedFd,
    base: *mut u8,
    len: usize,
}

impl Shared {
    fn new(len: usize) -> Result<Shared, String> {
        // SAFETY: memfd_create with a static NUL-terminated name; the descriptor is owned
        // from here on.
        let fd = unsafe { libc::memfd_create(c"vistterstream-frames".as_ptr(), libc::MFD_CLOEXEC) };
        if fd < 0 {
            return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
        }
        // SAFETY: fd was just created and is not owned by anything else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let file = File::from(fd);
        file.set_len(len as u64)
            .map_err(|e| format!("sizing the shared memory ({len} bytes): {e}"))?;
        let fd = OwnedFd::from(file);
        // SAFETY: a new shared mapping of the whole file; nothing else maps this range.
        let base = unsafe {
            libc::mmap(
                null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(format!("mmap: {}", std::io::Error::last_os_error()));
        }
        Ok(Shared {
            fd,
            base: base as *mut u8,
            len,
        })
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no slice into it outlives self.
        unsafe { libc::munmap(self.base as *mut libc::c_void, self.len) };
    }
}

fn arg(args: &[String], i: usize, name: &str) -> Result<u32, String> {
    args.get(i)
        .ok_or_else(|| {
            format!("missing {name}; usage: vistterstream-decoder WIDTH HEIGHT [SLOTS]")
        })?
        .parse()
        .map_err(|_| format!("{name} must be a positive integer"))
}

fn run() -> Result<(), String> {
    // The appliance stops this process with SIGINT (then SIGKILL after its stop timeout). An
    // ignored SIGINT is inherited across exec: a shell script's `vistterstream &`, or a test
    // run in the background, would make every stop wait out the timeout (5 s instead of a few
    // milliseconds). FFmpeg, which this replaces, installs its own handlers; here the default
    // action (terminate) is what is wanted, so it is put back.
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: sets a signal's disposition to its default before any other thread exists;
        // no handler of this program is replaced.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    let args: Vec<String> = std::env::args().collect();
    let width = arg(&args, 1, "WIDTH")?;
    let height = arg(&args, 2, "HEIGHT")?;
    let slots = if args.len() > 3 {
        arg(&args, 3, "SLOTS")?
    } else {
        DEFAULT_SLOTS
    };
    if width == 0 || height == 0 || width % 2 == 1 || height % 2 == 1 || !(2..=64).contains(&slots)
    {
        return Err("WIDTH and HEIGHT must be even and positive, SLOTS 2 to 64".into());
    }
    // SAFETY: F_GETFD only reads the descriptor's flags.
    if unsafe { libc::fcntl(RETURN_FD, libc::F_GETFD) } < 0 {
        return Err(format!(
            "descriptor {RETURN_FD} (where slots come back) is not open: the appliance starts \
             this program with it"
        ));
    }
    let (w, h) = (width as usize, height as usize);
    let slot_len = w * h * 3 / 2;
    // SAFETY: sets a global of libav's before any other thread uses it.
    unsafe { ff::av_log_set_level(ff::AV_LOG_ERROR) };
    let shared = Shared::new(slot_len * slots as usize)?;

    let mut out = std::io::stdout().lock();
    let mut hello = Vec::with_capacity(32);
    hello.extend_from_slice(b"VSDW0001");
    hello.extend_from_slice(&(shared.fd.as_raw_fd() as u32).to_le_bytes());
    hello.extend_from_slice(&slots.to_le_bytes());
    hello.extend_from_slice(&(slot_len as u64).to_le_bytes());
    hello.extend_from_slice(&width.to_le_bytes());
    hello.extend_from_slice(&height.to_le_bytes());
    out.write_all(&hello)
        .and_then(|_| out.flush())
        .map_err(|e| format!("writing the hello: {e}"))?;

    let free = Arc::new(Slots {
        free: Mutex::new(((0..slots).rev().collect(), false)),
        changed: Condvar::new(),
    });
    // SAFETY: descriptor 4 is the return pipe the appliance's spawner placed there; this
    // process owns it from here on (nothing else in it uses descriptor 4).
    let returns = unsafe { File::from_raw_fd(RETURN_FD) };
    let giver = free.clone();
    std::thread::spawn(move || take_returns(returns, &giver, slots));

    let mut decoder = Decoder::open(width, height)?;
    let mut n: u64 = 0;
    let mut emit = |frame: *const ff::AVFrame| -> Result<bool, String> {
        let Some(slot) = free.take() else {
            return Ok(false);
        };
        // SAFETY: the slot is off the free list: nobody else writes it until the appliance
        // gives it back, which it does only after this record.
        let dst = unsafe {
            std::slice::from_raw_parts_mut(shared.base.add(slot as usize * slot_len), slot_len)
        };
        copy_picture(frame, dst, w, h);
        let mut rec = [0u8; 16];
        rec[..4].copy_from_slice(&slot.to_le_bytes());
        rec[8..].copy_from_slice(&n.to_le_bytes());
        n += 1;
        Ok(out.write_all(&rec).and_then(|_| out.flush()).is_ok())
    };
    decoder.run(&mut emit)
}

/// Puts the slots the appliance gives back on the free list; marks the end when it closes.
fn take_returns(mut returns: File, free: &Slots, slots: u32) {
    let mut rec = [0u8; 4];
    while returns.read_exact(&mut rec).is_ok() {
        let slot = u32::from_le_bytes(rec);
        if slot < slots {
            let mut g = free.free.lock().unwrap_or_else(|p| p.into_inner());
            if !g.0.contains(&slot) {
                g.0.push(slot);
            }
            drop(g);
            free.changed.notify_one();
        }
    }
    free.free.lock().unwrap_or_else(|p| p.into_inner()).1 = true;
    free.changed.notify_all();
}

/// A `yuv420p` picture of `w`x`h` into `dst`, planes one after the other without padding.
fn copy_picture(frame: *const ff::AVFrame, dst: &mut [u8], w: usize, h: usize) {
    let (luma, chroma) = dst.split_at_mut(w * h);
    let (u, v) = chroma.split_at_mut(w * h / 4);
    for (plane, (out, pw, ph)) in [(luma, w, h), (u, w / 2, h / 2), (v, w / 2, h / 2)]
        .into_iter()
        .enumerate()
    {
        // SAFETY: the filter graph ends in a buffersink that only takes yuv420p at w x h,
        // so plane `plane` has `ph` rows of at least `pw` bytes, `linesize` apart.
        unsafe {
            let src = (*frame).data[plane];
            let stride = (*frame).linesize[plane] as isize;
            for row in 0..ph {
                let line = std::slice::from_raw_parts(src.offset(row as isize * stride), pw);
                out[row * pw..(row + 1) * pw].copy_from_slice(line);
            }
        }
    }
}

/// libav's demuxer, decoder and filter graph for one camera.
struct Decoder {
    ic: *mut ff::AVFormatContext,
    dc: *mut ff::AVCodecContext,
    stream: i32,
    graph: Option<Graph>,
    width: u32,
    height: u32,
    packet: *mut ff::AVPacket,
    frame: *mut ff::AVFrame,
    filtered: *mut ff::AVFrame,
}

struct Graph {
    graph: *mut ff::AVFilterGraph,
    src: *mut ff::AVFilterContext,
    sink: *mut ff::AVFilterContext,
    /// The input it was made for: (width, height, pixel format, sample aspect ratio).
    input: (i32, i32, i32, i32, i32),
}

impl Drop for Graph {
    fn drop(&mut self) {
        // SAFETY: frees the graph and its filters, made by avfilter_graph_alloc.
        unsafe { ff::avfilter_graph_free(&mut self.graph) };
    }
}

impl Decoder {
    fn open(width: u32, height: u32) -> Result<Decoder, String> {
        // SAFETY: libav's documented sequence; every pointer is checked before use and owned
        // by the returned Decoder (freed in Drop).
        unsafe {
            let mut opts: *mut ff::AVDictionary = null_mut();
            // As `-fflags noparse -probesize 32 -analyzeduration 0 -f mpegts -i pipe:0`: each PES
            // is one access unit (the hub's muxer writes them so), and the stream starts with
            // PAT, PMT and a keyframe with its SPS/PPS.
            for (k, v) in [
                (c"fflags", c"noparse"),
                (c"probesize", c"32"),
                (c"analyzeduration", c"0"),
            ] {
                ff::av_dict_set(&mut opts, k.as_ptr(), v.as_ptr(), 0);
            }
            let fmt = ff::av_find_input_format(c"mpegts".as_ptr());
            let mut ic: *mut ff::AVFormatContext = null_mut();
            let r = ff::avformat_open_input(&mut ic, c"pipe:0".as_ptr(), fmt, &mut opts);
            ff::av_dict_free(&mut opts);
            ok("reading MPEG-TS on stdin", r)?;
            let mut d = Decoder {
                ic,
                dc: null_mut(),
                stream: -1,
                graph: None,
                width,
                height,
                packet: ff::av_packet_alloc(),
                frame: ff::av_frame_alloc(),
                filtered: ff::av_frame_alloc(),
            };
            if d.packet.is_null() || d.frame.is_null() || d.filtered.is_null() {
                return Err("out of memory".into());
            }
            ok("stream info", ff::avformat_find_stream_info(ic, null_mut()))?;
            // The first video stream (`-map 0:v:0`).
            let streams = std::slice::from_raw_parts((*ic).streams, (*ic).nb_streams as usize);
            let (index, st) = streams
                .iter()
                .enumerate()
                .find(|(_, s)| (*(***s).codecpar).codec_type == ff::AVMediaType::AVMEDIA_TYPE_VIDEO)
                .ok_or("the stream has no video")?;
            d.stream = index as i32;
            let par = (**st).codecpar;
            let codec = ff::avcodec_find_decoder((*par).codec_id);
            if codec.is_null() {
                return Err(format!("no decoder for codec id {:?}", (*par).codec_id));
            }
            d.dc = ff::avcodec_alloc_context3(codec);
            if d.dc.is_null() {
                return Err("out of memory".into());
            }
            ok(
                "decoder parameters",
                ff::avcodec_parameters_to_context(d.dc, par),
            )?;
            (*d.dc).pkt_timebase = (**st).time_base;
            // `-flags low_delay`, and threads "auto" as FFmpeg's command line sets for decoders.
            for (k, v) in [(c"flags", c"low_delay"), (c"threads", c"auto")] {
                ff::av_dict_set(&mut opts, k.as_ptr(), v.as_ptr(), 0);
            }
            let r = ff::avcodec_open2(d.dc, codec, &mut opts);
            ff::av_dict_free(&mut opts);
            ok("opening the decoder", r)?;
            Ok(d)
        }
    }

    /// Decodes until stdin ends (or `emit` says stop), every picture through `emit`.
    fn run(
        &mut self,
        emit: &mut dyn FnMut(*const ff::AVFrame) -> Result<bool, String>,
    ) -> Result<(), String> {
        // SAFETY: the pointers are this Decoder's own, valid until Drop.
        unsafe {
            loop {
                let r = ff::av_read_frame(self.ic, self.packet);
                if r < 0 {
                    break; // the end of stdin (or a broken stream): flush what is in.
                }
                if (*self.packet).stream_index == self.stream {
                    // A damaged packet loses its picture, not the run (as FFmpeg's command
                    // line goes on).
                    let _ = ff::avcodec_send_packet(self.dc, self.packet);
                }
                ff::av_packet_unref(self.packet);
                if !self.drain(emit)? {
                    return Ok(());
                }
            }
            ff::avcodec_send_packet(self.dc, null());
            if !self.drain(emit)? {
                return Ok(());
            }
            if let Some(g) = &self.graph {
                ff::av_buffersrc_add_frame_flags(g.src, null_mut(), 0);
                self.pull(emit)?;
            }
            Ok(())
        }
    }

    /// Every picture the decoder has, through the filters to `emit`.
    fn drain(
        &mut self,
        emit: &mut dyn FnMut(*const ff::AVFrame) -> Result<bool, String>,
    ) -> Result<bool, String> {
        // SAFETY: the pointers are this Decoder's own; frames are unreferenced after use.
        unsafe {
            while ff::avcodec_receive_frame(self.dc, self.frame) >= 0 {
                let f = self.frame;
                let input = (
                    (*f).width,
                    (*f).height,
                    (*f).format,
                    (*f).sample_aspect_ratio.num,
                    (*f).sample_aspect_ratio.den,
                );
                if self.graph.as_ref().map(|g| g.input) != Some(input) {
                    // The first picture, or the camera changed its size or format: a graph for
                    // it (FFmpeg's command line reconfigures its filters the same way).
                    if let Some(g) = self.graph.take() {
                        ff::av_buffersrc_add_frame_flags(g.src, null_mut(), 0);
                        if !pull_from(&g, self.filtered, emit)? {
                            return Ok(false);
                        }
                    }
                    self.graph = Some(Graph::new(
                        input,
                        (*self.dc).pkt_timebase,
                        self.width,
                        self.height,
                    )?);
                }
                let g = self.graph.as_ref().expect("made above");
                let r = ff::av_buffersrc_add_frame_flags(g.src, f, 0);
                ff::av_frame_unref(f);
                ok("filtering", r)?;
                if !self.pull(emit)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }

    fn pull(
        &mut self,
        emit: &mut dyn FnMut(*const ff::AVFrame) -> Result<bool, String>,
    ) -> Result<bool, String> {
        match &self.graph {
            Some(g) => pull_from(g, self.filtered, emit),
            None => Ok(true),
        }
    }
}

/// The pictures the graph has ready, to `emit`.
fn pull_from(
    g: &Graph,
    filtered: *mut ff::AVFrame,
    emit: &mut dyn FnMut(*const ff::AVFrame) -> Result<bool, String>,
) -> Result<bool, String> {
    // SAFETY: g.sink is a buffersink of g's graph; filtered is a frame of ours.
    unsafe {
        while ff::av_buffersink_get_frame(g.sink, filtered) >= 0 {
            let go = emit(filtered);
            ff::av_frame_unref(filtered);
            if !go? {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

impl Graph {
    /// `scale=W:H:force_original_aspect_ratio=decrease,pad=W:H:(ow-iw)/2:(oh-ih)/2,setsar=1`
    /// and `yuv420p`, as `decoder_args`.
    fn new(
        input: (i32, i32, i32, i32, i32),
        time_base: ff::AVRational,
        width: u32,
        height: u32,
    ) -> Result<Graph, String> {
        let (iw, ih, format, sar_num, sar_den) = input;
        let tb = if time_base.num > 0 {
            time_base
        } else {
            ff::AVRational {
                num: 1,
                den: 90_000,
            }
        };
        let src_args = CString::new(format!(
            "video_size={iw}x{ih}:pix_fmt={format}:time_base={}/{}:pixel_aspect={}/{}",
            tb.num,
            tb.den,
            sar_num.max(0),
            sar_den.max(1)
        ))
        .expect("no NUL");
        let chain = CString::new(format!(
            "scale={width}:{height}:force_original_aspect_ratio=decrease,\
             pad={width}:{height}:(ow-iw)/2:(oh-ih)/2,setsar=1,format=yuv420p"
        ))
        .expect("no NUL");
        // SAFETY: libav's documented graph set-up; the graph owns every filter context and is
        // freed by Graph's Drop (also on the error paths, once `g` exists).
        unsafe {
            let mut g = Graph {
                graph: ff::avfilter_graph_alloc(),
                src: null_mut(),
                sink: null_mut(),
                input,
            };
            if g.graph.is_null() {
                return Err("out of memory".into());
            }
            // FFmpeg's command line scales with bicubic unless told otherwise.
            (*g.graph).scale_sws_opts = ff::av_strdup(c"flags=bicubic".as_ptr());
            ok(
                "buffer source",
                ff::avfilter_graph_create_filter(
                    &mut g.src,
                    ff::avfilter_get_by_name(c"buffer".as_ptr()),
                    c"in".as_ptr(),
                    src_args.as_ptr(),
                    null_mut(),
                    g.graph,
                ),
            )?;
            ok(
                "buffer sink",
                ff::avfilter_graph_create_filter(
                    &mut g.sink,
                    ff::avfilter_get_by_name(c"buffersink".as_ptr()),
                    c"out".as_ptr(),
                    null(),
                    null_mut(),
                    g.graph,
                ),
            )?;
            let mut outputs = ff::avfilter_inout_alloc();
            let mut inputs = ff::avfilter_inout_alloc();
            (*outputs).name = ff::av_strdup(c"in".as_ptr());
            (*outputs).filter_ctx = g.src;
            (*outputs).pad_idx = 0;
            (*outputs).next = null_mut();
            (*inputs).name = ff::av_strdup(c"out".as_ptr());
            (*inputs).filter_ctx = g.sink;
            (*inputs).pad_idx = 0;
            (*inputs).next = null_mut();
            let r = ff::avfilter_graph_parse_ptr(
                g.graph,
                chain.as_ptr(),
                &mut inputs,
                &mut outputs,
                null_mut(),
            );
            ff::avfilter_inout_free(&mut inputs);
            ff::avfilter_inout_free(&mut outputs);
            ok("filters", r)?;
            ok(
                "configuring the filters",
                ff::avfilter_graph_config(g.graph, null_mut()),
            )?;
            Ok(g)
        }
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        self.graph = None;
        // SAFETY: frees what `open` allocated; each free function accepts null.
        unsafe {
            ff::av_frame_free(&mut self.frame);
            ff::av_frame_free(&mut self.filtered);
            ff::av_packet_free(&mut self.packet);
            ff::avcodec_free_context(&mut self.dc);
            ff::avformat_close_input(&mut self.ic);
        }
    }
}

#!/usr/bin/python3
"""Fake IP camera for the VistterStream test rig: a real RTSP server on 127.0.0.1.

Serves an H.264 test pattern (optionally with AAC audio) through GStreamer's RTSP server,
with the camera's name, the wall clock and a running timecode (HH:MM:SS:FF, i.e. a frame
counter) burned into the picture, so a human looking at a program feed can tell which camera
is on air and whether it is live or frozen.

With --time-bars the picture is not a videotestsrc pattern but mid-grey frames made here in
Python (an appsrc, paced at --fps) carrying a machine-readable capture time: across the top
(the top 1/12 of the height, at least 16 px) a row of 40 equal-width blocks, each black
(Y=16) or white (Y=235), MSB first. Blocks 0..31 are the wall clock in milliseconds when the
frame was made, `int(time.time() * 1000) & 0xFFFFFFFF`; blocks 32..39 are a checksum, the sum
of that value's 4 bytes mod 256. Block i spans columns [i*W//40, (i+1)*W//40); read it at its
centre, at half the bar height. bench/preview_latency.mjs reads it back in a browser to
measure camera-to-picture latency. The text overlays move below the bars. --color paints the
picture below the bars (so a program test can tell cameras apart by colour), and --busy fills
the bottom third with fresh luma noise every frame (a scene that keeps the encoder at its
bitrate and the decoders busy, like a real camera looking at water or leaves).

With --replay SECONDS the camera encodes that much of its picture once, at start (as fast as
it can, same x264 settings, rounded up to whole GOPs), and then serves the clip in a loop,
paced at --fps, each client from its first key frame (the burned-in wall clock is left out;
the sound of --audio stays live, a cheap encode): about 2 % of a core per 1080p30 client where
live encoding takes more than half a core. The benchmarks use it, so that the fake cameras do
not load the machine whose CPU they measure (a real camera is a device of its own), and so does
the appliance's demo mode.

Every client gets its own pipeline. A shared pipeline (one encoder, like a real camera) was
tried first: with RTSP over TCP, GStreamer then delivered each frame to an existing client
once more for every other client that joined, so a recorder saw 3-4x the frames with
compressed timestamps while the health checks came and went. Real cameras do not do that.

Run it with /usr/bin/python3 (it needs Debian's python3-gi and gir1.2-gst-rtsp-server-1.0):

    /usr/bin/python3 testrig/fake_camera.py --port 8554 --path /cam --name "Dock" \
        --width 640 --height 360 --fps 15 --audio --user admin --password secret \
        --max-clients 1
    /usr/bin/python3 testrig/fake_camera.py --port 8554 --path /cam --time-bars \
        --width 1280 --height 720 --fps 30
    /usr/bin/python3 testrig/fake_camera.py --port 8554 --path /cam --replay 8 \
        --width 1920 --height 1080 --fps 30 --gop 60

When it is serving it prints one line on stdout:

    READY port=8554 url=rtsp://127.0.0.1:8554/cam

SIGTERM or SIGINT stops it at once (exit status 0). It also exits when its parent dies, so
a crashed test leaves no orphan camera behind.
"""

import argparse
import os
import signal
import sys
import threading
import time

try:
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer
except (ImportError, ValueError) as err:  # ValueError: typelib missing
    sys.stderr.write(
        f"fake_camera: cannot load GStreamer RTSP server bindings ({err}).\n"
        "Use /usr/bin/python3 (not a pyenv/venv python) and run scripts/install-deps.sh\n"
    )
    sys.exit(3)


def parse_args(argv):
    p = argparse.ArgumentParser(description="Fake RTSP camera (GStreamer RTSP server)")
    p.add_argument("--port", type=int, default=8554, help="TCP port; 0 picks a free one")
    p.add_argument("--address", default="127.0.0.1", help="listen address (loopback only)")
    p.add_argument("--path", default="/cam", help="mount path, e.g. /cam")
    p.add_argument("--name", default="Fake camera", help="name burned into the picture")
    p.add_argument("--width", type=int, default=640)
    p.add_argument("--height", type=int, default=360)
    p.add_argument("--fps", type=int, default=15)
    p.add_argument("--bitrate", type=int, default=0, help="kbit/s; 0 = derived from size")
    p.add_argument(
        "--gop", type=int, default=0, help="frames between key frames; 0 = one per second"
    )
    p.add_argument("--audio", action="store_true", help="add an AAC sine tone")
    p.add_argument(
        "--audio-freq",
        type=int,
        default=440,
        help="frequency of the sine tone in Hz (implies --audio when not 440)",
    )
    p.add_argument(
        "--audio-stop-after",
        type=float,
        default=0,
        help="with --audio: the audio stops (no more packets, the video goes on) this many "
        "seconds after a client starts playing; 0 = never",
    )
    p.add_argument(
        "--max-clients",
        type=int,
        default=0,
        help="at most N RTSP sessions at once (a further SETUP is refused with 503, as "
        "real cameras do); 0 = no limit",
    )
    p.add_argument("--user", default=None)
    p.add_argument("--password", default=None)
    p.add_argument(
        "--auth-method",
        choices=["basic", "digest"],
        default="digest",
        help="RTSP authentication scheme when --user is set",
    )
    p.add_argument("--pattern", default="smpte", help="videotestsrc pattern (smpte, ball, ...)")
    p.add_argument("--no-overlay", action="store_true", help="no burned-in text (less CPU)")
    p.add_argument(
        "--time-bars",
        action="store_true",
        help="grey picture with the capture time (ms) coded in 40 black/white blocks on top "
        "(replaces --pattern; for latency measurements)",
    )
    p.add_argument(
        "--color",
        choices=sorted(COLORS),
        default="grey",
        help="with --time-bars: the colour of the picture below the bars",
    )
    p.add_argument(
        "--busy",
        action="store_true",
        help="with --time-bars: fresh luma noise in the bottom third of every frame",
    )
    p.add_argument(
        "--replay",
        type=float,
        default=0,
        metavar="SECONDS",
        help="encode this many seconds of the picture once, at start, and serve that clip in a "
        "loop (rounded up to whole GOPs; every client starts on its first key frame): a camera "
        "that costs almost no CPU here, like a real one, which is a device of its own (the "
        "sound of --audio stays live); not with --time-bars",
    )
    args = p.parse_args(argv)
    if not args.path.startswith("/"):
        args.path = "/" + args.path
    if (args.user is None) != (args.password is None):
        p.error("--user and --password go together")
    if args.gop < 0:
        p.error("--gop must be 0 (one key frame per second) or more")
    if args.max_clients < 0:
        p.error("--max-clients must be 0 (no limit) or more")
    if not 20 <= args.audio_freq <= 20000:
        p.error("--audio-freq must be between 20 and 20000 Hz")
    if args.audio_freq != 440:
        args.audio = True
    if args.width <= 0 or args.height <= 0 or args.fps <= 0:
        p.error("--width, --height and --fps must be positive")
    if args.replay < 0:
        p.error("--replay must be 0 (encode live) or a number of seconds")
    if args.replay and args.time_bars:
        p.error("--replay cannot carry --time-bars' capture times (they are made live)")
    if args.address not in ("127.0.0.1", "::1", "localhost"):
        p.error("the test rig only listens on loopback")
    return args


def has_element(name):
    return Gst.ElementFactory.find(name) is not None


def gst_quote(text):
    # Quoted string inside a gst-launch description.
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --time-bars: the appsrc's name in the launch line, and the code's layout.
TIME_BARS_SRC = "timebars"
TIME_BARS_BLOCKS = 40
Y_BLACK, Y_WHITE = 16, 235
# --color: (Y, U, V), BT.601 limited range.
COLORS = {
    "grey": (128, 128, 128),
    "red": (81, 90, 240),
    "green": (145, 54, 34),
    "blue": (41, 240, 110),
    "yellow": (210, 16, 146),
}


def time_bars_height(height):
    return min(height, max(16, height // 12))


class TimeBars:
    """Makes I420 frames: mid-grey, with the capture time coded in blocks across the top.

    The chroma planes and the grey rows below the bars never change; per frame only one row
    of blocks is rebuilt (and repeated down the bar height).
    """

    def __init__(self, width, height, color="grey", busy=False):
        self.width, self.height = width, height
        self.bar_h = time_bars_height(height)
        y, u, v = COLORS[color]
        edges = [i * width // TIME_BARS_BLOCKS for i in range(TIME_BARS_BLOCKS + 1)]
        # blocks[i][bit]: the bytes of block i, black (0) or white (1), on one row.
        self.blocks = [
            (bytes([Y_BLACK]) * (b - a), bytes([Y_WHITE]) * (b - a))
            for a, b in zip(edges, edges[1:])
        ]
        cw, ch = (width + 1) // 2, (height + 1) // 2
        # The bars' chroma stays neutral: black and white blocks, whatever the colour.
        bar_c = min(ch, (self.bar_h + 1) // 2)
        chroma = bytes([128]) * (cw * bar_c) + bytes([u]) * (cw * (ch - bar_c))
        chroma += bytes([128]) * (cw * bar_c) + bytes([v]) * (cw * (ch - bar_c))
        below = height - self.bar_h
        self.noise_len = width * (below // 3) if busy else 0
        self.flat = bytes([y]) * (width * below - self.noise_len)
        self.chroma = chroma

    @staticmethod
    def code(ms):
        value = ms & 0xFFFFFFFF
        checksum = sum(value.to_bytes(4, "big")) & 0xFF
        return (value << 8) | checksum  # 40 bits, sent MSB first

    def frame(self):
        """The next frame's bytes, its capture time (wall clock, ms) sampled now."""
        code = self.code(int(time.time() * 1000))
        row = b"".join(
            blk[(code >> (TIME_BARS_BLOCKS - 1 - i)) & 1] for i, blk in enumerate(self.blocks)
        )
        noise = os.urandom(self.noise_len) if self.noise_len else b""
        return row * self.bar_h + self.flat + noise + self.chroma


def feed(appsrc, next_buffer, fps, stopped):
    """Pushes `next_buffer()` every 1/fps s until `stopped` is set (the media was torn down).

    Falling behind (a busy machine) skips frames instead of bursting (with --time-bars each
    frame carries the time it was made, and the appsrc keeps at most two, older ones dropped),
    so a stalled pipeline never sends a backlog of stale pictures.
    """
    period = 1.0 / fps
    duration = Gst.SECOND // fps
    due = time.monotonic()
    while not stopped.is_set():
        now = time.monotonic()
        if now < due:
            stopped.wait(due - now)
            continue
        if now - due > period:
            due = now
        buf = Gst.Buffer.new_wrapped(next_buffer())
        buf.duration = duration
        # FLUSHING before the media is prepared or while it changes state: keep pacing.
        appsrc.emit("push-buffer", buf)
        due += period


def start_feeders(factory, src_name, make_source, fps):
    """Feeds each client's pipeline (the factory is not shared) from its own thread;
    `make_source(media)` gives each client its own `next_buffer` function."""

    def configure(_factory, media):
        appsrc = media.get_element().get_by_name(src_name)
        # The server seeks the media at PLAY when every source says it can (audiotestsrc
        # does); an appsrc that refused it failed the PLAY (503) when the audio branch was
        # there. A live picture has nowhere to seek to: accepting is all there is to do.
        appsrc.connect("seek-data", lambda *_: True)
        stopped = threading.Event()
        media.connect("unprepared", lambda *_: stopped.set())
        media.weak_ref(stopped.set)
        threading.Thread(
            target=feed,
            args=(appsrc, make_source(media), fps, stopped),
            name=src_name,
            daemon=True,
        ).start()

    factory.connect("media-configure", configure)


def start_time_bars(factory, args):
    bars = TimeBars(args.width, args.height, args.color, args.busy)
    start_feeders(factory, TIME_BARS_SRC, lambda _media: bars.frame, args.fps)


# --replay: the appsrc's name in the launch line.
REPLAY_SRC = "replay"


def encode_clip(args):
    """Encodes --replay seconds (whole GOPs) of the live picture once, as fast as the machine
    can; returns the access units (Annex B), the first one a key frame."""
    gop = args.gop or args.fps
    frames = max(1, -(-int(args.replay * args.fps) // gop)) * gop
    chain = video_chain(args, f"videotestsrc num-buffers={frames} pattern={args.pattern}")
    chain += [
        "h264parse",
        "video/x-h264,stream-format=byte-stream,alignment=au",
        "appsink name=clip sync=false",
    ]
    pipe = Gst.parse_launch(" ! ".join(chain))
    sink = pipe.get_by_name("clip")
    pipe.set_state(Gst.State.PLAYING)
    units = []
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:  # end of stream, or an error (the bus says which)
            break
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        if ok:
            units.append(bytes(info.data))
            buf.unmap(info)
    msg = pipe.get_bus().pop_filtered(Gst.MessageType.ERROR)
    pipe.set_state(Gst.State.NULL)
    if msg is not None:
        err = msg.parse_error()[0].message
        raise SystemExit(f"fake_camera: encoding the replay clip failed: {err}")
    if len(units) != frames:
        raise SystemExit(
            f"fake_camera: the replay clip has {len(units)} frames, not {frames}"
        )
    return units


def start_replay(factory, args):
    units = encode_clip(args)

    def make_source(media):
        state = {"i": 0}

        # The feeder paces from the media's preparation (DESCRIBE) on, and what it pushes
        # before the client's PLAY is flushed: the clip starts over, from its key frame, when
        # the media starts playing.
        def on_state(_media, new_state):
            if new_state == Gst.State.PLAYING:
                state["i"] = 0

        media.connect("new-state", on_state)

        def next_unit():
            unit = units[state["i"]]
            state["i"] = (state["i"] + 1) % len(units)
            return unit

        return next_unit

    start_feeders(factory, REPLAY_SRC, make_source, args.fps)
    return len(units)


AUDIO_VALVE = "audiovalve"


def stop_audio_later(factory, seconds):
    """Closes each client's audio valve `seconds` after its media is configured: no more audio
    packets while the video goes on (a camera whose microphone died)."""

    def configure(_factory, media):
        valve = media.get_element().get_by_name(AUDIO_VALVE)

        def close():
            valve.set_property("drop", True)
            return False

        GLib.timeout_add(int(seconds * 1000), close)

    factory.connect("media-configure", configure)


def video_chain(args, source):
    """The picture from `source` (a videotestsrc or the --time-bars appsrc) to H.264: the
    burned-in texts, then x264 as an IP camera encodes."""
    bitrate = args.bitrate or max(300, args.width * args.height * args.fps // 10000)
    raw = f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1"
    video = [source, raw]
    # With --time-bars the text goes below the bars.
    top = f" ypad={time_bars_height(args.height) + 10}" if args.time_bars else ""
    if not args.no_overlay:
        if has_element("textoverlay"):
            font = max(10, args.height // 18)
            video.append(
                f"textoverlay text={gst_quote(args.name)} valignment=top halignment=left "
                f'font-desc="DejaVu Sans Bold {font}" shaded-background=true{top}'
            )
            # A replayed clip's wall clock would be the few seconds it was encoded in.
            if not args.replay:
                video.append(
                    'clockoverlay time-format="%H:%M:%S" valignment=top halignment=right '
                    f'font-desc="DejaVu Sans Mono {font}" shaded-background=true{top}'
                )
            if has_element("timecodestamper"):
                video.append("timecodestamper")
                mode = "time-code"
            else:
                mode = "running-time"
            video.append(
                f"timeoverlay time-mode={mode} valignment=bottom halignment=left "
                f'font-desc="DejaVu Sans Mono {font}" shaded-background=true'
            )
        else:
            sys.stderr.write(
                "fake_camera: warning: no textoverlay (gstreamer1.0-x); picture has no text\n"
            )
    video += [
        "videoconvert",
        "video/x-raw,format=I420",
        # Key frame every second (or --gop frames), no B-frames: what an IP camera sends.
        f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.gop or args.fps} "
        f"bframes=0 bitrate={bitrate} threads=1",
        "video/x-h264,profile=baseline",
    ]
    return video


def build_launch(args):
    src = "appsrc" if args.time_bars or args.replay else "videotestsrc"
    missing = [e for e in (src, "x264enc", "h264parse", "rtph264pay") if not has_element(e)]
    if missing:
        raise SystemExit(
            f"fake_camera: missing GStreamer elements {missing}; run scripts/install-deps.sh"
        )
    # Beside the audio branch the server seeks the media at PLAY (see start_feeders): the
    # appsrc must say it can.
    seekable = "stream-type=seekable " if args.audio else ""
    if args.replay:
        # The clip encoded at start (encode_clip), one access unit per buffer, paced at --fps.
        video = [
            f"appsrc name={REPLAY_SRC} is-live=true format=time do-timestamp=true "
            f"{seekable}"
            # Between DESCRIBE and PLAY the feeder goes on pushing while nothing flows: at
            # most a few units wait (the oldest dropped), not a backlog of stale pictures.
            "leaky-type=downstream max-buffers=4 max-bytes=0 "
            f'caps="video/x-h264,stream-format=byte-stream,alignment=au"',
            "h264parse",
        ]
    elif args.time_bars:
        raw = f"video/x-raw,width={args.width},height={args.height},framerate={args.fps}/1"
        video = video_chain(
            args,
            f"appsrc name={TIME_BARS_SRC} is-live=true format=time do-timestamp=true "
            f"{seekable}"
            "leaky-type=downstream max-buffers=2 max-bytes=0 "
            f'caps="{raw},format=I420,pixel-aspect-ratio=1/1,interlace-mode=progressive"',
        )
    else:
        video = video_chain(args, f"videotestsrc is-live=true pattern={args.pattern}")
    video.append("rtph264pay name=pay0 pt=96 config-interval=-1")
    parts = [" ! ".join(video)]
    if args.audio:
        enc = next((e for e in ("voaacenc", "avenc_aac") if has_element(e)), None)
        if enc is None:
            raise SystemExit("fake_camera: no AAC encoder (voaacenc/avenc_aac); run install-deps")
        parts.append(
            " ! ".join(
                [
                    f"audiotestsrc is-live=true wave=sine freq={args.audio_freq} volume=0.2",
                    f"valve name={AUDIO_VALVE} drop=false",
                    "audioconvert",
                    "audioresample",
                    "audio/x-raw,rate=48000,channels=2",
                    f"{enc} bitrate=96000",
                    "rtpmp4gpay name=pay1 pt=97",
                ]
            )
        )
    return "( " + "  ".join(parts) + " )"


def setup_auth(server, factory, args):
    auth = GstRtspServer.RTSPAuth()
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", "user")
    # GStreamer's RTSPAuthMethod is a bit set in C but a plain enum in Python (3 is refused),
    # so offer one scheme. Digest is what IP cameras use by default.
    if args.auth_method == "basic":
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    else:
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    server.set_auth(auth)

    perms = GstRtspServer.RTSPPermissions()
    perms.add_permission_for_role("user", "media.factory.access", True)
    perms.add_permission_for_role("user", "media.factory.construct", True)
    factory.set_permissions(perms)


def main(argv):
    args = parse_args(argv)
    Gst.init(None)

    launch = build_launch(args)
    # Fail now, with GStreamer's message, rather than on the first client's DESCRIBE.
    try:
        probe = Gst.parse_launch(launch.strip("() "))
        probe.set_state(Gst.State.NULL)
        del probe
    except GLib.Error as err:
        sys.stderr.write(f"fake_camera: bad pipeline: {err.message}\n{launch}\n")
        return 2

    loop = GLib.MainLoop()
    server = GstRtspServer.RTSPServer()
    server.set_address(args.address)
    server.set_service(str(args.port))

    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(launch)
    factory.set_shared(False)
    factory.set_latency(0)
    if args.time_bars:
        start_time_bars(factory, args)
    if args.replay:
        started = time.monotonic()
        frames = start_replay(factory, args)
        sys.stderr.write(
            f"fake_camera: replay clip of {frames} frames encoded in "
            f"{time.monotonic() - started:.1f} s\n"
        )
    if args.audio and args.audio_stop_after > 0:
        stop_audio_later(factory, args.audio_stop_after)
    if args.user is not None:
        setup_auth(server, factory, args)
    if args.max_clients:
        # GStreamer's session pool answers a SETUP beyond the limit with 503 Service
        # Unavailable; a session ends when its client's connection closes.
        server.get_session_pool().set_max_sessions(args.max_clients)
    server.get_mount_points().add_factory(args.path, factory)

    try:
        source_id = server.attach(None)
    except GLib.Error as err:
        source_id = 0
        sys.stderr.write(f"fake_camera: {err.message}\n")
    if source_id == 0:
        sys.stderr.write(f"fake_camera: cannot listen on {args.address}:{args.port}\n")
        return 1

    def stop(*_):
        # GStreamer's streaming threads may take their time to wind down; nothing here needs
        # a graceful teardown (clients see the connection close, like a camera losing power).
        sys.stdout.flush()
        os._exit(0)

    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGTERM, stop)
    GLib.unix_signal_add(GLib.PRIORITY_HIGH, signal.SIGINT, stop)

    parent = os.getppid()

    def watch_parent():
        if os.getppid() != parent:
            stop()
        return True

    GLib.timeout_add(500, watch_parent)

    port = server.get_bound_port()
    host = "[::1]" if ":" in args.address else args.address
    print(f"READY port={port} url=rtsp://{host}:{port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

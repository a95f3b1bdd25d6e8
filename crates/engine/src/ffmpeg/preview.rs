//! The program's live-preview remux: its encoded MPEG-TS fed on stdin, H.264 copied into
//! fragmented MP4 on stdout, which a browser plays through Media Source Extensions without a
//! re-encode; [`crate::fmp4`] splits the output into init segment and fragments. (Camera
//! previews are muxed in-process from the camera's hub session: `hub::Fmp4Preview`.)

/// Output options shared by every remux: video copied into fragmented MP4 on stdout,
/// fragments cut at every keyframe and at least every 200 ms so latency stays low.
fn fmp4_output(a: &mut Vec<String>) {
    a.extend(
        [
            "-map",
            "0:v:0",
            "-c:v",
            "copy",
            "-an",
            "-f",
            "mp4",
            "-movflags",
            "frag_keyframe+empty_moov+default_base_moof",
            "-frag_duration",
            "200000",
            "pipe:1",
        ]
        .map(String::from),
    );
}

/// The FFmpeg arguments of a program's preview remux: the program's MPEG-TS on stdin, which
/// the feeder starts at a keyframe (PAT, PMT, keyframe), so a short probe finds the
/// parameters; FFmpeg probes for the whole duration given, which the keyframe cache usually
/// has in store.
pub fn program_args() -> Vec<String> {
    let mut a: Vec<String> = [
        "-hide_banner",
        "-loglevel",
        "warning",
        "-fflags",
        "nobuffer",
        "-probesize",
        "1000000",
        "-analyzeduration",
        "500000",
        "-f",
        "mpegts",
        "-i",
        "pipe:0",
    ]
    .map(String::from)
    .to_vec();
    fmp4_output(&mut a);
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exact command lines the server's preview tests were written against.
    #[test]
    fn remux_args_are_unchanged() {
        let out = "-map 0:v:0 -c:v copy -an -f mp4 -movflags \
                   frag_keyframe+empty_moov+default_base_moof -frag_duration 200000 pipe:1";
        assert_eq!(
            program_args().join(" "),
            format!(
                "-hide_banner -loglevel warning -fflags nobuffer -probesize 1000000 \
                 -analyzeduration 500000 -f mpegts -i pipe:0 {out}"
            )
        );
    }
}

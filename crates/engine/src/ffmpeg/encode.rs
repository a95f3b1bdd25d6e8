//! What each H.264 encoder needs from FFmpeg: its device, the pixel format it takes, its
//! low-latency tuning, and the one-second test encode that tells whether it works here.

use crate::encoder::ProbeOptions;

/// The render node VAAPI encoders use.
pub const VAAPI_DEVICE: &str = "/dev/dri/renderD128";

fn is_vaapi(encoder: &str) -> bool {
    encoder.ends_with("_vaapi")
}

/// Global options opening the device of a hardware encoder (VAAPI only; the others find
/// theirs).
pub fn device_args(encoder: &str, vaapi_device: &str) -> Vec<String> {
    if is_vaapi(encoder) {
        vec!["-vaapi_device".into(), vaapi_device.into()]
    } else {
        Vec::new()
    }
}

/// How frames reach the encoder: VAAPI wants them in GPU memory; the others take
/// system-memory yuv420p.
pub fn frame_format_args(encoder: &str) -> Vec<String> {
    if is_vaapi(encoder) {
        vec!["-vf".into(), "format=nv12,hwupload".into()]
    } else {
        vec!["-pix_fmt".into(), "yuv420p".into()]
    }
}

/// The low-latency options specific to each encoder `probe_encoders` may select (libx264 at
/// its default preset).
pub fn tuning_args(encoder: &str) -> Vec<String> {
    tuning_args_for(encoder, crate::x264_preset::DEFAULT_X264_PRESET)
}

/// [`tuning_args`] with libx264 at `x264_preset`; the hardware encoders have no such choice
/// and ignore it.
pub fn tuning_args_for(encoder: &str, x264_preset: &str) -> Vec<String> {
    let v: &[&str] = match encoder {
        "libx264" => &[
            "-preset",
            x264_preset,
            "-tune",
            "zerolatency",
            "-sc_threshold",
            "0",
        ],
        "h264_nvenc" => &["-preset", "p3", "-tune", "ll", "-zerolatency", "1"],
        "h264_qsv" => &["-preset", "veryfast"],
        "h264_videotoolbox" => &["-realtime", "1"],
        _ => &[],
    };
    v.iter().map(|s| s.to_string()).collect()
}

/// The arguments of the test encode of `encoder`: a short synthetic clip encoded to nowhere.
pub fn test_encode_args(encoder: &str, opts: &ProbeOptions) -> Vec<String> {
    let mut args: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error"]
        .map(String::from)
        .to_vec();
    args.extend(device_args(encoder, &opts.vaapi_device));
    args.extend([
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!(
            "testsrc2=size={}x{}:rate={}",
            opts.width, opts.height, opts.fps
        ),
        "-t".into(),
        format!("{:.3}", opts.duration.as_secs_f64()),
    ]);
    args.extend(frame_format_args(encoder));
    args.extend(
        ["-c:v", encoder, "-b:v", "2M", "-f", "null", "-"]
            .iter()
            .map(|s| s.to_string()),
    );
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vaapi_gets_a_device_and_an_upload() {
        let args = test_encode_args("h264_vaapi", &ProbeOptions::default()).join(" ");
        assert!(args.contains("-vaapi_device /dev/dri/renderD128"));
        assert!(args.contains("-vf format=nv12,hwupload"));
        let args = test_encode_args("libx264", &ProbeOptions::default()).join(" ");
        assert!(args.contains("-pix_fmt yuv420p -c:v libx264"));
        assert!(args.ends_with("-f null -"));
    }

    #[test]
    fn test_encode_args_are_unchanged() {
        assert_eq!(
            test_encode_args("h264_vaapi", &ProbeOptions::default()).join(" "),
            "-hide_banner -nostdin -loglevel error -vaapi_device /dev/dri/renderD128 -f lavfi \
             -i testsrc2=size=1280x720:rate=30 -t 1.000 -vf format=nv12,hwupload \
             -c:v h264_vaapi -b:v 2M -f null -"
        );
    }
}

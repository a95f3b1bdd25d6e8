//! Live preview load and latency client for `bench/preview.sh`: opens N WebSocket viewers of
//! one camera, reads for a while and prints one JSON line with fragments and bytes per viewer
//! and the latency of viewer 0.
//!
//! Latency: a fragment's media end time `T` (from `tfdt` plus its sample durations) is when its
//! last frame was captured, counted from the first frame of the remux run. The first frame is
//! captured after the viewer connected (a cold remux opens its RTSP session only then), so
//! `arrival − connect − T` over-estimates camera→viewer latency by the session set-up time: an
//! upper bound, measured on every fragment. Run it against a camera nobody watches yet.
//!
//! Usage: preview_client <ws url> <bearer token> <viewers> <seconds>

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

fn children(mut p: &[u8]) -> impl Iterator<Item = ([u8; 4], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(p.get(0..4)?.try_into().ok()?) as usize;
        if size < 8 || size > p.len() {
            return None;
        }
        let kind = p[4..8].try_into().ok()?;
        let body = &p[8..size];
        p = &p[size..];
        Some((kind, body))
    })
}

fn child<'a>(p: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    children(p).find(|(k, _)| k == kind).map(|(_, b)| b)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The video timescale from the init segment (moov/trak/mdia/mdhd).
fn timescale(init: &[u8]) -> Option<u32> {
    let (_, moov) = children(init).find(|(k, _)| k == b"moov")?;
    let mdhd = child(child(child(moov, b"trak")?, b"mdia")?, b"mdhd")?;
    be32(mdhd, if mdhd[0] == 1 { 20 } else { 12 })
}

/// Media end time of a fragment in timescale units: tfdt + sample durations.
fn fragment_end(frag: &[u8]) -> Option<u64> {
    let (_, moof) = children(frag).find(|(k, _)| k == b"moof")?;
    let traf = child(moof, b"traf")?;
    let tfdt = child(traf, b"tfdt")?;
    let start = if tfdt[0] == 1 {
        u64::from_be_bytes(tfdt.get(4..12)?.try_into().ok()?)
    } else {
        be32(tfdt, 4)? as u64
    };
    let tfhd = child(traf, b"tfhd")?;
    let tf = be32(tfhd, 0)? & 0xFF_FFFF;
    let off = 8 + if tf & 1 != 0 { 8 } else { 0 } + if tf & 2 != 0 { 4 } else { 0 };
    let default_dur = (tf & 8 != 0).then(|| be32(tfhd, off)).flatten();
    let trun = child(traf, b"trun")?;
    let f = be32(trun, 0)? & 0xFF_FFFF;
    let count = be32(trun, 4)? as usize;
    let mut p = 8 + if f & 1 != 0 { 4 } else { 0 } + if f & 4 != 0 { 4 } else { 0 };
    let per = [0x100, 0x200, 0x400, 0x800]
        .iter()
        .filter(|b| f & **b != 0)
        .count()
        * 4;
    let mut dur = 0u64;
    if f & 0x100 != 0 {
        for _ in 0..count {
            dur += be32(trun, p)? as u64;
            p += per;
        }
    } else {
        dur = default_dur.unwrap_or(0) as u64 * count as u64;
    }
    Some(start + dur)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: preview_client <ws url> <token> <viewers> <seconds>");
        std::process::exit(2);
    }
    let (url, token) = (args[1].clone(), args[2].clone());
    let viewers: usize = args[3].parse().expect("viewers");
    let seconds: u64 = args[4].parse().expect("seconds");
    let mut tasks = Vec::new();
    for i in 0..viewers {
        let (url, token) = (url.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut req = url.into_client_request().unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let connected = Instant::now();
            let (mut ws, _) = tokio_tungstenite::connect_async(req)
                .await
                .expect("connect");
            let (mut frags, mut bytes, mut scale, mut lat) = (0u64, 0u64, None, Vec::new());
            let mut first_frag = None;
            let end = connected + Duration::from_secs(seconds);
            while let Ok(Some(Ok(m))) = tokio::time::timeout_at(end.into(), ws.next()).await {
                if let Message::Binary(b) = m {
                    bytes += b.len() as u64;
                    if scale.is_none() {
                        scale = timescale(&b);
                        continue;
                    }
                    frags += 1;
                    first_frag.get_or_insert_with(|| connected.elapsed());
                    if let (0, Some(s), Some(t)) = (i, scale, fragment_end(&b)) {
                        let media = t as f64 / s as f64;
                        lat.push((connected.elapsed().as_secs_f64() - media) * 1000.0);
                    }
                }
            }
            (frags, bytes, lat, first_frag)
        }));
    }
    let mut frags = Vec::new();
    let mut total_bytes = 0;
    let mut lat = Vec::new();
    let mut first = None;
    for (i, t) in tasks.into_iter().enumerate() {
        let (f, b, l, ff) = t.await.unwrap();
        frags.push(f);
        total_bytes += b;
        if i == 0 {
            lat = l;
            first = ff;
        }
    }
    lat.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |q: f64| lat.get(((lat.len() as f64 - 1.0) * q) as usize).copied();
    println!(
        "{}",
        serde_json::json!({
            "viewers": viewers,
            "seconds": seconds,
            "fragments_per_viewer": frags,
            "bytes_total": total_bytes,
            "first_fragment_ms": first.map(|d| d.as_millis()),
            "latency_upper_bound_ms": {
                "min": pct(0.0), "median": pct(0.5), "p90": pct(0.9), "max": pct(1.0),
                "samples": lat.len()
            }
        })
    );
}

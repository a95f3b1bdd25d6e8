//! Overlays whose image or text comes from a URL: one fetcher task per overlay, refreshed at
//! its interval, bounded in time and size; the last good value stays on a failure, and a value
//! survives an overlay being moved.

use std::time::Duration;

use bytes::Bytes;
use tokio::task::JoinHandle;
use tracing::{debug, warn};
use vs_base::stream_url::redact_text;

use super::image::decode_png;
use super::render::render;
use super::{text_style, Manager, Overlay, OverlayKind};
use crate::program::pixels::RgbaImage;

/// The longest a URL fetch may take.
pub(super) const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
pub(super) const MIN_REFRESH: Duration = Duration::from_secs(1);
/// A fetched body larger than this is refused (a PNG overlay is a few hundred KiB).
const MAX_BODY: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct FetchKey {
    pub id: i64,
    pub url: String,
    pub refresh: Duration,
    pub image: bool,
}

#[derive(Debug, Clone)]
pub(super) enum UrlValue {
    Image(RgbaImage),
    Text(String),
}

pub(super) struct Fetched {
    key: FetchKey,
    body: Bytes,
}

pub(super) struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Manager {
    pub(super) fn spawn_fetcher(&self, key: FetchKey) -> AbortOnDrop {
        let http = self.http.clone();
        let tx = self.fetched_tx.clone();
        AbortOnDrop(tokio::spawn(async move {
            loop {
                match fetch(&http, &key.url).await {
                    Ok(body) => {
                        let f = Fetched {
                            key: key.clone(),
                            body,
                        };
                        if tx.send(f).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(overlay = key.id, error = %e, "overlay fetch failed; keeping the last value")
                    }
                }
                tokio::time::sleep(key.refresh).await;
            }
        }))
    }

    pub(super) async fn on_fetched(&mut self, f: Fetched) {
        let Some(i) = self
            .entries
            .iter()
            .position(|e| e.fetcher.as_ref().is_some_and(|(k, _)| *k == f.key))
        else {
            return; // a fetch of an overlay that was replaced meanwhile
        };
        let value = if f.key.image {
            let body = f.body.clone();
            match tokio::task::spawn_blocking(move || decode_png(&body)).await {
                Ok(Ok(img)) => UrlValue::Image(img),
                Ok(Err(e)) => {
                    warn!(overlay = f.key.id, error = %e, "fetched overlay image is not a usable PNG; keeping the last one");
                    return;
                }
                Err(_) => return,
            }
        } else {
            UrlValue::Text(clean_text(&String::from_utf8_lossy(&f.body)))
        };
        let entry = &self.entries[i];
        let ctx = self.ctx_for(text_style(&entry.overlay.kind));
        let kind = entry.overlay.kind.clone();
        let v = value.clone();
        let rendered = tokio::task::spawn_blocking(move || render(&kind, &ctx, Some(&v))).await;
        match rendered {
            Ok(Ok(r)) => {
                let e = &mut self.entries[i];
                e.url_value = Some(value);
                e.prepared = r.image;
                debug!(overlay = f.key.id, "overlay value fetched");
                self.publish();
            }
            Ok(Err(e)) => warn!(overlay = f.key.id, error = %e, "cannot render fetched overlay"),
            Err(_) => {}
        }
    }
}

pub(super) fn fetch_key(o: &Overlay) -> Option<FetchKey> {
    match &o.kind {
        OverlayKind::UrlImage { url, refresh, .. } => Some(FetchKey {
            id: o.id,
            url: url.clone(),
            refresh: *refresh,
            image: true,
        }),
        OverlayKind::UrlText { url, refresh, .. } => Some(FetchKey {
            id: o.id,
            url: url.clone(),
            refresh: *refresh,
            image: false,
        }),
        _ => None,
    }
}

fn clean_text(body: &str) -> String {
    body.trim()
        .lines()
        .take(5)
        .map(|l| l.trim_end().chars().take(200).collect::<String>())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn fetch(http: &reqwest::Client, url: &str) -> std::result::Result<Bytes, String> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| redact_text(&e.to_string()))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status()));
    }
    if resp.content_length().is_some_and(|l| l as usize > MAX_BODY) {
        return Err("response too large".into());
    }
    let body = resp
        .bytes()
        .await
        .map_err(|e| redact_text(&e.to_string()))?;
    if body.len() > MAX_BODY {
        return Err("response too large".into());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_util::sync::CancellationToken;

    use super::super::{Overlays, TextStyle};
    use super::*;
    use crate::program::overlay::tests::font;

    /// A one-route HTTP server on 127.0.0.1 whose answer can be changed (or broken).
    async fn http_server(body: Arc<std::sync::Mutex<Option<Vec<u8>>>>) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let Ok((mut s, _)) = l.accept().await else {
                    return;
                };
                let body = body.clone();
                tokio::spawn(async move {
                    let mut buf = [0u8; 2048];
                    let _ = s.read(&mut buf).await;
                    let reply = match body.lock().unwrap().clone() {
                        Some(b) => {
                            let mut r = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", b.len()).into_bytes();
                            r.extend(b);
                            r
                        }
                        None => {
                            b"HTTP/1.1 500 Oops\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                                .to_vec()
                        }
                    };
                    let _ = s.write_all(&reply).await;
                });
            }
        });
        format!("http://{addr}/value")
    }

    #[tokio::test]
    async fn url_text_is_fetched_and_the_last_good_value_is_kept() {
        let body = Arc::new(std::sync::Mutex::new(Some(b"21.5 C".to_vec())));
        let url = http_server(body.clone()).await;
        let cancel = CancellationToken::new();
        let (ov, mut rx, task) = Overlays::spawn(320, 180, font(), cancel.clone());
        let o = Overlay {
            id: 7,
            visible: true,
            kind: OverlayKind::UrlText {
                url,
                refresh: Duration::from_secs(1),
                x: 4,
                y: 4,
                style: TextStyle::default(),
            },
        };
        ov.set(vec![o.clone()]).await.unwrap();
        assert!(
            rx.borrow_and_update().items.is_empty(),
            "nothing until fetched"
        );
        tokio::time::timeout(Duration::from_secs(5), rx.wait_for(|s| !s.items.is_empty()))
            .await
            .expect("fetched within 5 s")
            .unwrap();
        let first = rx.borrow_and_update().items[0].clone();
        // The server fails: the overlay stays as it was.
        *body.lock().unwrap() = None;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(rx.borrow().items.len(), 1);
        assert_eq!(*rx.borrow().items[0], *first);
        // It recovers with a new value: the overlay changes.
        *body.lock().unwrap() = Some(b"22.0 C".to_vec());
        tokio::time::timeout(
            Duration::from_secs(5),
            rx.wait_for(|s| s.items.len() == 1 && *s.items[0] != *first),
        )
        .await
        .expect("new value within 5 s")
        .unwrap();
        // Moving it keeps the value (no blank until the next fetch).
        let mut moved = o.clone();
        if let OverlayKind::UrlText { x, .. } = &mut moved.kind {
            *x = 40;
        }
        ov.set(vec![moved]).await.unwrap();
        assert_eq!(rx.borrow().items.len(), 1);
        cancel.cancel();
        task.await.unwrap();
    }
}

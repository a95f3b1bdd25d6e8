//! Migration 0007 (sealed credentials of a destination's publish address) on a real SQLite
//! file: a database at 0006 keeps every destination as it was, with no credentials yet.

use vs_db::Db;

#[tokio::test]
async fn a_database_at_0006_gains_the_column_and_keeps_its_destinations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v6.db");
    let db = Db::open_up_to(&path, 6).await.unwrap();
    assert_eq!(db.schema_version().await.unwrap(), 6);
    vs_db::sqlx::query(
        "INSERT INTO destinations (name, platform, url, stream_key_enc, enabled, created_at, updated_at)
         VALUES ('Old', 'custom', 'rtmp://127.0.0.1/live/KEY-IN-URL', NULL, 1, 't0', 't1'),
                ('YT', 'youtube', 'rtmps://a.rtmps.youtube.com:443/live2', 'v1:sealed', 0, 't0', 't1')",
    )
    .execute(db.pool())
    .await
    .unwrap();
    db.close().await;

    let db = Db::open(&path).await.unwrap();
    assert!(db.schema_version().await.unwrap() >= 7);
    let rows = db.list_destinations().await.unwrap();
    let shown: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.id,
                r.name.as_str(),
                r.platform.as_str(),
                r.url.as_str(),
                r.stream_key_enc.as_deref(),
                r.url_secrets_enc.as_deref(),
                r.enabled,
                r.created_at.as_str(),
                r.updated_at.as_str(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            (
                1,
                "Old",
                "custom",
                "rtmp://127.0.0.1/live/KEY-IN-URL",
                None,
                None,
                true,
                "t0",
                "t1"
            ),
            (
                2,
                "YT",
                "youtube",
                "rtmps://a.rtmps.youtube.com:443/live2",
                Some("v1:sealed"),
                None,
                false,
                "t0",
                "t1"
            ),
        ],
        "SQL cannot seal: the key found in a URL is moved by the appliance at boot"
    );
}

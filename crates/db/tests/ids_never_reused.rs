//! Migration 0006 (ids are never reused), on real SQLite files: deleted ids are not issued
//! again, and a database at 0005 full of rows migrates with every row, id, reference, index,
//! constraint and error message intact.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use vs_db::cameras::CameraWrite;
use vs_db::presets::PresetWrite;
use vs_db::programs::ProgramWrite;
use vs_db::sqlx::migrate::Migrator;
use vs_db::sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use vs_db::sqlx::{self, Row, SqlitePool};
use vs_db::streaming::{DestinationWrite, StreamWrite};
use vs_db::timelines::{AssetWrite, OverlayWrite};
use vs_db::Db;

/// The tables 0006 rebuilds with AUTOINCREMENT.
const REBUILT: [&str; 9] = [
    "users",
    "api_tokens",
    "cameras",
    "presets",
    "destinations",
    "streams",
    "assets",
    "overlays",
    "programs",
];

fn camera(name: &str) -> CameraWrite {
    CameraWrite {
        name: name.into(),
        kind: "PTZ".into(),
        protocol: "RTSP".into(),
        address: "rtsp://127.0.0.1:8554/cam".into(),
        username: Some("admin".into()),
        password_enc: Some("sealed".into()),
        onvif_host: None,
        onvif_port: Some(8899),
        enabled: true,
        credential_query: None,
    }
}

fn preset(name: &str) -> PresetWrite {
    PresetWrite {
        name: name.into(),
        pan: 0.25,
        tilt: -0.5,
        zoom: 0.0,
        onvif_token: Some("tok".into()),
        settle_ms: None,
    }
}

fn destination(name: &str) -> DestinationWrite {
    DestinationWrite {
        name: name.into(),
        platform: "custom".into(),
        url: "rtmp://127.0.0.1/live".into(),
        stream_key_enc: Some("sealed".into()),
        url_secrets_enc: None,
        enabled: true,
        tls_verify: true,
    }
}

fn program(name: &str) -> ProgramWrite {
    ProgramWrite {
        name: name.into(),
        width: 1280,
        height: 720,
        fps: 30,
        video_bitrate_kbps: 4000,
        adaptive_bitrate: false,
        encoder: "auto".into(),
        encoder_preset: "auto".into(),
        slate_text: "back soon".into(),
        overlays: "[]".into(),
        preroll: "instant".into(),
        destination_ids: vec![],
    }
}

fn asset(n: i64) -> AssetWrite {
    AssetWrite {
        name: format!("logo{n}.png"),
        kind: "image".into(),
        mime: "image/png".into(),
        sha256: format!("{n:064x}"),
        size: 10,
    }
}

fn overlay(name: &str) -> OverlayWrite {
    OverlayWrite {
        name: name.into(),
        kind: "text".into(),
        definition: "{}".into(),
        asset_id: None,
        studio_keys: "[]".into(),
    }
}

/// Creates 1..=6 with `create`, deletes 5 and 6 with `delete`, creates one more: it must get 7.
async fn check_no_reuse<C, D, FC, FD>(table: &str, mut create: C, mut delete: D)
where
    C: FnMut(i64) -> FC,
    D: FnMut(i64) -> FD,
    FC: std::future::Future<Output = i64>,
    FD: std::future::Future<Output = ()>,
{
    for n in 1..=6 {
        assert_eq!(
            create(n).await,
            n,
            "{table}: ids start at 1 and follow each other"
        );
    }
    delete(6).await;
    delete(5).await;
    assert_eq!(
        create(7).await,
        7,
        "{table}: the ids of deleted rows 5 and 6 are never issued again"
    );
}

#[tokio::test]
async fn deleted_ids_are_never_issued_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(&dir.path().join("t.db")).await.unwrap();

    // Cameras, each with a preset: deleting cameras 5 and 6 deletes presets 5 and 6 with them.
    check_no_reuse(
        "cameras",
        |n| {
            let db = db.clone();
            async move {
                let c = db.create_camera(&camera(&format!("cam{n}"))).await.unwrap();
                db.create_preset(c.id, &preset("home")).await.unwrap();
                c.id
            }
        },
        |id| {
            let db = db.clone();
            async move { db.delete_camera(id).await.unwrap() }
        },
    )
    .await;
    assert_eq!(db.create_preset(1, &preset("dock")).await.unwrap().id, 8);
    let p = db.create_preset(1, &preset("gone")).await.unwrap();
    db.delete_preset(p.id).await.unwrap();
    assert_eq!(db.create_preset(1, &preset("pier")).await.unwrap().id, 10);

    check_no_reuse(
        "destinations",
        |n| {
            let db = db.clone();
            async move {
                db.create_destination(&destination(&format!("dest{n}")))
                    .await
                    .unwrap()
                    .id
            }
        },
        |id| {
            let db = db.clone();
            async move { db.delete_destination(id).await.unwrap() }
        },
    )
    .await;

    check_no_reuse(
        "streams",
        |n| {
            let db = db.clone();
            async move {
                let w = StreamWrite {
                    name: format!("stream{n}"),
                    camera_id: 1,
                    preset_id: Some(1),
                    destination_ids: vec![1, 2],
                };
                db.save_stream(None, &w).await.unwrap().id
            }
        },
        |id| {
            let db = db.clone();
            async move { db.delete_stream(id).await.unwrap() }
        },
    )
    .await;

    check_no_reuse(
        "programs",
        |n| {
            let db = db.clone();
            async move {
                let mut w = program(&format!("program{n}"));
                w.destination_ids = vec![3];
                db.save_program(None, &w).await.unwrap().id
            }
        },
        |id| {
            let db = db.clone();
            async move { db.delete_program(id).await.unwrap() }
        },
    )
    .await;

    check_no_reuse(
        "assets",
        |n| {
            let db = db.clone();
            async move {
                let mut tx = db.catalog_tx().await.unwrap();
                let (row, new) = tx.insert_asset(&asset(n)).await.unwrap();
                tx.commit().await.unwrap();
                assert!(new);
                row.id
            }
        },
        |id| {
            let db = db.clone();
            async move {
                db.delete_asset(id).await.unwrap();
            }
        },
    )
    .await;

    check_no_reuse(
        "overlays",
        |n| {
            let db = db.clone();
            async move {
                let mut tx = db.catalog_tx().await.unwrap();
                let row = tx
                    .insert_overlay(&overlay(&format!("ov{n}")))
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                row.id
            }
        },
        |id| {
            let db = db.clone();
            async move { db.delete_overlay(id).await.unwrap() }
        },
    )
    .await;

    // Users (and their tokens) have no delete in the appliance yet; SQL stands in for it.
    check_no_reuse(
        "users",
        |n| {
            let db = db.clone();
            async move {
                let u = db.create_user(&format!("user{n}"), "hash").await.unwrap();
                let t = db
                    .create_api_token(u.id, "studio", &format!("hash{n}"), "vs_")
                    .await
                    .unwrap();
                assert_eq!(t.id, u.id);
                u.id
            }
        },
        |id| {
            let db = db.clone();
            async move {
                sqlx::query("DELETE FROM users WHERE id = ?")
                    .bind(id)
                    .execute(db.pool())
                    .await
                    .unwrap();
            }
        },
    )
    .await;
    assert_eq!(
        db.create_api_token(1, "script", "hash-x", "vs_")
            .await
            .unwrap()
            .id,
        8,
        "api_tokens 5 and 6 went with their users and 7 is taken"
    );

    // A restart keeps the sequences: they live in the file, not in the process.
    db.close().await;
    let db = Db::open(&dir.path().join("t.db")).await.unwrap();
    db.delete_camera(7).await.unwrap();
    assert_eq!(db.create_camera(&camera("again")).await.unwrap().id, 8);
}

// ---- A database at 0005, migrated --------------------------------------------------------------

/// The same options as `Db::open`, without running its migrations.
async fn raw_pool(path: &Path) -> SqlitePool {
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .unwrap()
        .create_if_missing(true)
        .journal_mode(vs_db::sqlx::sqlite::SqliteJournalMode::Wal)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(2)
        .connect_with(opts)
        .await
        .unwrap()
}

/// A database file migrated to 0005 exactly as an appliance of that version left it: the
/// migrator reads copies of the five files, so their checksums are the embedded ones.
async fn database_at_0005(dir: &Path) -> (PathBuf, SqlitePool) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let only = dir.join("migrations-0005");
    std::fs::create_dir(&only).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let version: i64 = name.split('_').next().unwrap().parse().unwrap();
        if version <= 5 {
            std::fs::copy(e.path(), only.join(&name)).unwrap();
        }
    }
    let m = Migrator::new(only.as_path()).await.unwrap();
    assert_eq!(m.iter().map(|m| m.version).max(), Some(5));
    let path = dir.join("v5.db");
    let pool = raw_pool(&path).await;
    m.run(&pool).await.unwrap();
    (path, pool)
}

/// Rows as an appliance at 0005 has them, with gaps in every id sequence (deleted rows) and
/// every kind of reference between tables.
async fn fill(pool: &SqlitePool) {
    let t = "2024-05-01T10:00:00.000Z";
    let mut sql = String::new();
    sql += &format!(
        "INSERT INTO users (username, password_hash, created_at, updated_at) VALUES
            ('admin', '$2b$04$hash', '{t}', '{t}'), ('gone', 'h', '{t}', '{t}'),
            ('operator', 'h2', '{t}', '{t}');
         INSERT INTO sessions (token_hash, user_id, created_at, expires_at, last_seen_at) VALUES
            ('s1', 1, '{t}', '{t}', '{t}'), ('s2', 3, '{t}', '{t}', '{t}');
         INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at, last_used_at,
                                 revoked_at) VALUES
            (1, 'studio', 'th1', 'vs_ab', '{t}', '{t}', NULL),
            (1, 'studio', 'th2', 'vs_cd', '{t}', NULL, '{t}'),
            (3, 'script', 'th3', 'vs_ef', '{t}', NULL, NULL);
         INSERT INTO audit_log (at, user_id, action, target, detail) VALUES
            ('{t}', 1, 'setup', 'admin', NULL), ('{t}', 2, 'login', NULL, 'x');
         DELETE FROM users WHERE id = 2;
         INSERT INTO settings (key, value) VALUES ('timezone', '\"Europe/Oslo\"');
        "
    );
    for n in 1..=9 {
        let (kind, port) = if n % 2 == 0 {
            ("STATIC", "NULL")
        } else {
            ("PTZ", "8899")
        };
        let cq = if n == 3 {
            "'{\"user\":\"user\",\"password\":\"password\"}'"
        } else {
            "NULL"
        };
        sql += &format!(
            "INSERT INTO cameras (name, type, protocol, address, username, password_enc,
                                  onvif_host, onvif_port, enabled, created_at, updated_at,
                                  credential_query)
             VALUES ('Camera {n}', '{kind}', 'RTSP', 'rtsp://127.0.0.1:8554/c{n}', 'admin',
                     'sealed{n}', NULL, {port}, {enabled}, '{t}', '{t}', {cq});
             INSERT INTO presets (camera_id, name, pan, tilt, zoom, onvif_token, settle_ms,
                                  created_at, updated_at)
             VALUES ({n}, 'Home', 0.125, -0.5, 0.0, 'tok{n}', NULL, '{t}', '{t}'),
                    ({n}, 'Dock', -1.0, 1.0, 0.75, NULL, 2500, '{t}', '{t}');
            ",
            enabled = (n != 4) as i32
        );
    }
    sql += &format!(
        "-- Gaps: cameras 5 and 9 deleted (with their presets), so 9 was the maximum once.
         DELETE FROM cameras WHERE id IN (5, 9);
         INSERT INTO destinations (name, platform, url, stream_key_enc, enabled, created_at,
                                   updated_at) VALUES
            ('YouTube', 'youtube', 'rtmp://a.rtmp.youtube.com/live2', 'k1', 1, '{t}', '{t}'),
            ('Old', 'twitch', 'rtmp://live.twitch.tv/app', 'k2', 0, '{t}', '{t}'),
            ('Local', 'custom', 'rtmp://127.0.0.1/live', NULL, 1, '{t}', '{t}');
         DELETE FROM destinations WHERE id = 2;
         INSERT INTO streams (name, camera_id, preset_id, desired_state, status, started_at,
                              last_error, created_at, updated_at) VALUES
            ('Harbour', 1, 1, 'running', 'running', '{t}', NULL, '{t}', '{t}'),
            ('Spare', 2, NULL, 'stopped', 'stopped', NULL, NULL, '{t}', '{t}'),
            ('Pier', 3, 6, 'stopped', 'failed', NULL, 'connection refused', '{t}', '{t}');
         DELETE FROM streams WHERE id = 2;
         INSERT INTO stream_destinations (stream_id, destination_id) VALUES
            (1, 1), (1, 3), (3, 3);
         INSERT INTO assets (name, kind, mime, sha256, size, created_at) VALUES
            ('logo.png', 'image', 'image/png', 'aa', 1234, '{t}'),
            ('old.png', 'image', 'image/png', 'bb', 5, '{t}'),
            ('tide.png', 'image', 'image/png', 'cc', 0, '{t}');
         DELETE FROM assets WHERE id = 2;
         INSERT INTO overlays (name, kind, definition, asset_id, studio_keys, created_at,
                               updated_at) VALUES
            ('Logo', 'image', '{{\"x\":10}}', 1, '[\"asset-1\"]', '{t}', '{t}'),
            ('Clock', 'clock', '{{}}', NULL, '[]', '{t}', '{t}'),
            ('Tide', 'url_image', '{{\"url\":\"http://127.0.0.1/t\"}}', 3, '[]', '{t}', '{t}');
         INSERT INTO timelines (id, name, model, playback, destination_ids, schedule,
                                api_keys_enc, created_at, updated_at) VALUES
            ('tl-main', 'Main', '{{\"tracks\":[]}}', 'loop', '[1,3]',
             '{{\"days\":[1,2],\"start\":\"08:00\",\"end\":\"18:00\",\"tz\":\"UTC\"}}', 'sealed',
             '{t}', '{t}'),
            ('studio-7', 'Studio', '{{}}', 'once', '[]', NULL, NULL, '{t}', '{t}');
         INSERT INTO timeline_cameras (timeline_id, camera_id) VALUES
            ('tl-main', 1), ('tl-main', 3), ('studio-7', 8);
         INSERT INTO timeline_overlays (timeline_id, overlay_id) VALUES
            ('tl-main', 1), ('studio-7', 3);
         INSERT INTO programs (name, width, height, fps, video_bitrate_kbps, encoder, slate_text,
                               overlays, desired_state, on_air_camera_id, created_at,
                               updated_at) VALUES
            ('Main', 1280, 720, 30, 4000, 'auto', 'Back soon', '[{{\"overlay_id\":1,\"visible\":true}}]',
             'running', 3, '{t}', '{t}'),
            ('Night', 640, 360, 15, 800, 'libx264', 'Closed', '[]', 'stopped', NULL, '{t}', '{t}');
         INSERT INTO program_destinations (program_id, destination_id) VALUES (1, 1), (1, 3), (2, 3);
         -- The newest program deleted: 3 was issued once.
         INSERT INTO programs (name, width, height, fps, video_bitrate_kbps, created_at,
                               updated_at) VALUES ('Temp', 320, 240, 10, 300, '{t}', '{t}');
         DELETE FROM programs WHERE id = 3;
        "
    );
    sqlx::raw_sql(&sql).execute(pool).await.unwrap();
}

/// Every row of every table (values quoted, so types show), sorted; the bookkeeping tables
/// (`sqlite_sequence`, `_sqlx_migrations`) are checked on their own.
async fn dump(pool: &SqlitePool) -> BTreeMap<String, Vec<String>> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
           AND name NOT IN ('sqlite_sequence', '_sqlx_migrations') ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let cols: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
                .bind(&t)
                .fetch_all(pool)
                .await
                .unwrap();
        let expr = cols
            .iter()
            .map(|c| format!("'{c}=' || quote(\"{c}\")"))
            .collect::<Vec<_>>()
            .join(" || ', ' || ");
        let mut rows: Vec<String> = sqlx::query_scalar(&format!("SELECT {expr} FROM \"{t}\""))
            .fetch_all(pool)
            .await
            .unwrap();
        rows.sort();
        out.insert(t, rows);
    }
    out
}

/// A CREATE statement without comments, layout, quotes around names and AUTOINCREMENT, so the
/// schema before and after 0006 can be compared as text.
fn normalize(sql: &str) -> String {
    let no_comments: String = sql
        .lines()
        .map(|l| match l.find("--") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut s = no_comments.split_whitespace().collect::<Vec<_>>().join(" ");
    for p in ["(", ")", ","] {
        s = s.replace(&format!(" {p}"), p).replace(&format!("{p} "), p);
    }
    s.replace('"', "").replace(" AUTOINCREMENT", "")
}

/// Everything SQLite knows about the schema: the normalized CREATE text of every table and
/// index, and the pragmas' view of columns, indexes (with their columns and collations) and
/// foreign keys.
async fn schema(pool: &SqlitePool) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let objects: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT type, name, tbl_name, sql FROM sqlite_master
          WHERE name NOT IN ('sqlite_sequence', '_sqlx_migrations')
            AND tbl_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (kind, name, table, sql) in &objects {
        let mut facts = vec![format!(
            "on {table}: {}",
            sql.as_deref().map(normalize).unwrap_or_default()
        )];
        if kind == "table" {
            let q = |p: &str| format!("SELECT * FROM pragma_{p}('{name}')");
            for p in ["table_xinfo", "foreign_key_list", "index_list"] {
                for r in sqlx::query(&q(p)).fetch_all(pool).await.unwrap() {
                    facts.push(format!("{p}: {}", row_text(&r)));
                }
            }
        } else {
            for r in sqlx::query(&format!("SELECT * FROM pragma_index_xinfo('{name}')"))
                .fetch_all(pool)
                .await
                .unwrap()
            {
                facts.push(format!("index_xinfo: {}", row_text(&r)));
            }
        }
        facts[1..].sort();
        out.insert(format!("{kind} {name}"), facts);
    }
    out
}

fn row_text(r: &vs_db::sqlx::sqlite::SqliteRow) -> String {
    use vs_db::sqlx::{Column, ValueRef};
    (0..r.len())
        .map(|i| {
            let raw = r.try_get_raw(i).unwrap();
            let v = if raw.is_null() {
                "NULL".to_string()
            } else if let Ok(n) = r.try_get::<i64, _>(i) {
                n.to_string()
            } else {
                r.try_get::<String, _>(i).unwrap()
            };
            format!("{}={v}", r.column(i).name())
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Statements that each break one constraint, and the error SQLite gives.
const REFUSED: [&str; 12] = [
    "INSERT INTO users (username, password_hash, created_at, updated_at) VALUES ('ADMIN', 'h', 't', 't')",
    "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (1, 'studio', 'new', 'p', 't')",
    "INSERT INTO api_tokens (user_id, name, token_hash, prefix, created_at) VALUES (99, 'x', 'new', 'p', 't')",
    "INSERT INTO cameras (name, type, protocol, address, created_at, updated_at) VALUES ('camera 1', 'PTZ', 'RTSP', 'a', 't', 't')",
    "INSERT INTO cameras (name, type, protocol, address, onvif_port, created_at, updated_at) VALUES ('new', 'PTZ', 'RTSP', 'a', 70000, 't', 't')",
    "INSERT INTO presets (camera_id, name, pan, tilt, zoom, created_at, updated_at) VALUES (1, 'HOME', 0, 0, 0, 't', 't')",
    "INSERT INTO destinations (name, platform, url, created_at, updated_at) VALUES ('x', 'myspace', 'u', 't', 't')",
    "INSERT INTO streams (name, camera_id, created_at, updated_at) VALUES ('harbour', 1, 't', 't')",
    "INSERT INTO assets (name, kind, mime, sha256, size, created_at) VALUES ('n', 'image', 'm', 'aa', 1, 't')",
    "INSERT INTO overlays (name, kind, created_at, updated_at) VALUES ('logo', 'text', 't', 't')",
    "INSERT INTO programs (name, width, height, fps, video_bitrate_kbps, created_at, updated_at) VALUES ('x', 161, 720, 30, 4000, 't', 't')",
    // RESTRICT: camera 1 is used by a stream, a timeline and a program.
    "DELETE FROM cameras WHERE id = 1",
];

async fn refusals(pool: &SqlitePool) -> Vec<String> {
    let mut out = Vec::new();
    for s in REFUSED {
        match sqlx::query(s).execute(pool).await {
            Ok(_) => panic!("accepted: {s}"),
            Err(sqlx::Error::Database(d)) => out.push(format!(
                "{} [{}]",
                d.message(),
                d.code().unwrap_or_default()
            )),
            Err(e) => panic!("{s}: {e}"),
        }
    }
    out
}

async fn sequences(pool: &SqlitePool) -> BTreeMap<String, i64> {
    sqlx::query_as::<_, (String, i64)>("SELECT name, seq FROM sqlite_sequence")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn fk_violations(pool: &SqlitePool) -> usize {
    sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(pool)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_database_at_0005_migrates_with_every_row_id_and_constraint_intact() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pool) = database_at_0005(dir.path()).await;
    fill(&pool).await;
    assert_eq!(fk_violations(&pool).await, 0);
    let rows = dump(&pool).await;
    let before = schema(&pool).await;
    let refused = refusals(&pool).await;
    let seq_table: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_sequence'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(seq_table, 0, "no AUTOINCREMENT before 0006");
    // Sanity of the fixture: the dump sees the gaps and the references.
    assert_eq!(rows["cameras"].len(), 7);
    assert_eq!(rows["presets"].len(), 14);
    assert_eq!(rows["timeline_cameras"].len(), 3);
    pool.close().await;

    // Up to 0006 only: the migrations landed after it (0007 adds a column) are not this test's.
    let db = Db::open_up_to(&path, 6).await.unwrap();
    assert_eq!(db.schema_version().await.unwrap(), 6);
    let pool = db.pool();

    // Every row, child row and id, unchanged.
    assert_eq!(dump(pool).await, rows);
    assert_eq!(fk_violations(pool).await, 0);

    // The same schema: only AUTOINCREMENT added, on exactly the rebuilt tables.
    let after = schema(pool).await;
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the same tables and indexes (autoindexes renamed back to their tables)"
    );
    for (k, v) in &before {
        assert_eq!(&after[k], v, "{k}");
    }
    let auto: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%AUTOINCREMENT%'
         ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut expected: Vec<String> = REBUILT.iter().map(|s| s.to_string()).collect();
    expected.sort();
    assert_eq!(auto, expected);

    // The same refusals, word for word (a duplicate name is still a unique violation on the
    // same column, so it still maps to the same 409).
    assert_eq!(refusals(pool).await, refused);
    let e = db.create_camera(&camera("CAMERA 3")).await.unwrap_err();
    assert_eq!(e.kind, vs_base::ErrorKind::Conflict);
    assert_eq!(e.field.as_deref(), Some("name"));

    // Each sequence starts at the table's current maximum.
    let seq = sequences(pool).await;
    for t in REBUILT {
        let max: i64 = sqlx::query_scalar(&format!("SELECT COALESCE(MAX(id), 0) FROM {t}"))
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(
            seq.get(t).copied().unwrap_or(0),
            max,
            "sqlite_sequence of {t}"
        );
    }
    // The repository writes today's columns (0012 added some to programs and destinations):
    // the later migrations run first; none of them rebuilds a table, so the sequences stay.
    db.close().await;
    let db = Db::open(&path).await.unwrap();
    let pool = db.pool();
    assert_eq!(sequences(pool).await, seq);
    // The newest program (3) was deleted before 0006, which nothing recorded: 3 is issued once
    // more. That is the limit the migration states.
    assert_eq!(db.save_program(None, &program("Next")).await.unwrap().id, 3);
    // From here on nothing is reused.
    db.delete_program(3).await.unwrap();
    assert_eq!(
        db.save_program(None, &program("Later")).await.unwrap().id,
        4
    );
    // Likewise camera 9; camera 5, below the maximum, is never issued again.
    let c = db.create_camera(&camera("New")).await.unwrap();
    assert_eq!(c.id, 9);

    // The foreign key actions still work on the rebuilt tables.
    db.delete_camera(c.id).await.unwrap();
    db.delete_camera(2).await.unwrap();
    let presets_of_2: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM presets WHERE camera_id = 2")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(presets_of_2, 0, "ON DELETE CASCADE");
    sqlx::query("DELETE FROM presets WHERE id = 6")
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(
        db.stream(3).await.unwrap().preset_id,
        None,
        "ON DELETE SET NULL"
    );
}

#[tokio::test]
async fn every_connection_of_the_pool_has_foreign_keys_on_after_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pool) = database_at_0005(dir.path()).await;
    fill(&pool).await;
    pool.close().await;
    let db = Db::open(&path).await.unwrap();
    // All of them at once, so the one that ran the migrations is among them.
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut c = db.pool().acquire().await.unwrap();
        let on: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(on, 1);
        held.push(c);
    }
    drop(held);
    let e = db.delete_camera(1).await.unwrap_err();
    assert_eq!(
        e.kind,
        vs_base::ErrorKind::Conflict,
        "RESTRICT still refuses"
    );
}

#[tokio::test]
async fn the_migration_refuses_to_run_with_foreign_keys_on_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pool) = database_at_0005(dir.path()).await;
    fill(&pool).await;
    let rows = dump(&pool).await;
    // A runner that forgot to turn foreign keys off: DROP TABLE would cascade, so 0006 refuses.
    let e = vs_db::MIGRATOR.run(&pool).await.unwrap_err().to_string();
    assert!(e.contains("must run with PRAGMA foreign_keys=OFF"), "{e}");
    assert_eq!(dump(&pool).await, rows);
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, 5);
    pool.close().await;
    // The appliance's own runner does it right.
    let db = Db::open_up_to(&path, 6).await.unwrap();
    assert_eq!(dump(db.pool()).await, rows);
}

#[tokio::test]
async fn a_dangling_reference_rolls_the_whole_migration_back() {
    let dir = tempfile::tempdir().unwrap();
    let (path, pool) = database_at_0005(dir.path()).await;
    fill(&pool).await;
    // A row that points nowhere (foreign keys were off when it was written).
    let mut c = pool.acquire().await.unwrap();
    sqlx::raw_sql(
        "PRAGMA foreign_keys = OFF;
         INSERT INTO presets (camera_id, name, pan, tilt, zoom, created_at, updated_at)
         VALUES (404, 'orphan', 0, 0, 0, 't', 't');
         PRAGMA foreign_keys = ON;",
    )
    .execute(&mut *c)
    .await
    .unwrap();
    drop(c);
    let rows = dump(&pool).await;
    let before = schema(&pool).await;
    pool.close().await;

    let e = Db::open(&path).await.unwrap_err();
    let detail = format!("{:#}", e.source.as_ref().unwrap());
    assert!(
        detail.contains("would leave foreign key violations"),
        "{detail}"
    );

    let pool = raw_pool(&path).await;
    assert_eq!(dump(&pool).await, rows);
    assert_eq!(schema(&pool).await, before, "no table half rebuilt");
    let version: i64 = sqlx::query_scalar("SELECT MAX(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, 5);
}

#[test]
fn normalize_ignores_layout_comments_quotes_and_autoincrement_only() {
    assert_eq!(
        normalize(
            "CREATE TABLE \"t\" (\n  id INTEGER PRIMARY KEY AUTOINCREMENT, -- why\n  x TEXT\n)"
        ),
        normalize("CREATE TABLE t (id   INTEGER PRIMARY KEY,\n x TEXT)")
    );
    assert_ne!(
        normalize("CREATE TABLE t (x TEXT NOT NULL)"),
        normalize("CREATE TABLE t (x TEXT)")
    );
    assert_ne!(
        normalize("CREATE TABLE t (x TEXT COLLATE NOCASE)"),
        normalize("CREATE TABLE t (x TEXT)")
    );
}

//! Local users with bcrypt passwords, browser sessions, API tokens for machine clients, and the
//! limit on failed logins (per username and client address, so one attacker cannot lock
//! everybody else out).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use vs_base::{Error, ErrorKind, Result};
use vs_db::Db;

use crate::config::Config;
use crate::services::events::Events;

/// A signed-in user as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct UserInfo {
    pub id: i64,
    pub username: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenInfo {
    pub id: i64,
    pub name: String,
    /// The first characters of the token, to tell tokens apart.
    pub prefix: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// The token itself: present only in the response that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// A new session: the cookie value to hand to the browser.
pub struct NewSession {
    pub user: UserInfo,
    pub cookie_value: String,
}

pub const TOKEN_PREFIX: &str = "vst_";
const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 128;

/// SHA-256 hex of a session cookie or token: what the database stores.
pub fn digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn check_username(value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() || v.len() > 64 {
        return Err(Error::invalid("username", "must be 1 to 64 characters"));
    }
    // Named precisely: the character set below refuses it too, but not saying which.
    super::validate::invisible("username", value, v)?;
    if !v
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
    {
        return Err(Error::invalid(
            "username",
            "may only contain letters, digits and . _ - @",
        ));
    }
    Ok(v.to_string())
}

pub fn check_password(field: &str, value: &str) -> Result<()> {
    let n = value.chars().count();
    if n < MIN_PASSWORD {
        return Err(Error::invalid(
            field,
            format!("must be at least {MIN_PASSWORD} characters"),
        ));
    }
    if n > MAX_PASSWORD {
        return Err(Error::invalid(
            field,
            format!("must be at most {MAX_PASSWORD} characters"),
        ));
    }
    Ok(())
}

async fn hash_password(password: &str, cost: u32) -> Result<String> {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

async fn verify_password(password: &str, hash: &str) -> Result<bool> {
    let (password, hash) = (password.to_string(), hash.to_string());
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .map_err(Error::internal)
}

/// A bcrypt hash of a random string at the configured cost, verified against when the
/// username is unknown so that a wrong username takes as long as a wrong password.
pub fn dummy_hash(cost: u32) -> String {
    bcrypt::hash(random_secret(), cost).expect("bcrypt of an in-memory string")
}

/// Users, sessions, API tokens and the login limiter.
pub struct AuthService {
    db: Db,
    config: Arc<Config>,
    pub login_limiter: LoginLimiter,
    auth_cache: AuthCache,
    /// Verified against when the username is unknown (see [`dummy_hash`]).
    dummy_hash: String,
    /// Logins go to the journal (`/api/events/recent`).
    events: Events,
}

impl AuthService {
    /// Computes a bcrypt hash at the configured cost: a fraction of a second at the default.
    pub fn new(db: Db, config: Arc<Config>) -> Self {
        AuthService {
            db,
            login_limiter: LoginLimiter::new(5, Duration::from_secs(300)),
            auth_cache: AuthCache::new(Duration::from_secs(10)),
            dummy_hash: dummy_hash(config.bcrypt_cost),
            config,
            events: Events::default(),
        }
    }

    /// Publishes logins to the appliance's journal instead of a private one.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    pub async fn setup_required(&self) -> Result<bool> {
        Ok(self.db.user_count().await? == 0)
    }

    /// First-run set-up: creates the admin and signs them in. Refused once any user exists.
    pub async fn setup(&self, c: &Credentials) -> Result<NewSession> {
        let username = check_username(&c.username)?;
        check_password("password", &c.password)?;
        if !self.setup_required().await? {
            return Err(Error::conflict(
                "the appliance is already set up; log in instead",
            ));
        }
        let hash = hash_password(&c.password, self.config.bcrypt_cost).await?;
        let user = self.db.create_first_user(&username, &hash).await?;
        self.db
            .audit(Some(user.id), "setup", Some(&username), None)
            .await?;
        tracing::info!(username = %username, "first-run set-up: admin created");
        self.new_session(UserInfo {
            id: user.id,
            username: user.username,
        })
        .await
    }

    pub async fn login(&self, c: &Credentials, client: IpAddr) -> Result<NewSession> {
        let key = (client, c.username.trim().to_lowercase());
        if let Some(wait) = self.login_limiter.blocked(&key) {
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!(
                    "too many failed logins; try again in {} seconds",
                    wait.as_secs().max(1)
                ),
            ));
        }
        let user = self.db.user_by_name(c.username.trim()).await?;
        let ok = match &user {
            Some(u) => verify_password(&c.password, &u.password_hash).await?,
            None => {
                verify_password(&c.password, &self.dummy_hash).await?;
                false
            }
        };
        let client_text = client.to_string();
        self.events.login(
            user.as_ref().map(|u| (u.id, u.username.as_str())),
            ok,
            &client_text,
        );
        match (ok, user) {
            (true, Some(u)) => {
                self.login_limiter.clear(&key);
                self.new_session(UserInfo {
                    id: u.id,
                    username: u.username,
                })
                .await
            }
            _ => {
                self.login_limiter.record_failure(key);
                tracing::warn!(client = %client, "failed login");
                Err(Error::unauthenticated("wrong username or password"))
            }
        }
    }

    async fn new_session(&self, user: UserInfo) -> Result<NewSession> {
        let cookie_value = random_secret();
        let expires = chrono::Utc::now()
            + chrono::Duration::from_std(self.config.session_ttl()).map_err(Error::internal)?;
        let expires = expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        self.db
            .create_session(&digest(&cookie_value), user.id, &expires)
            .await?;
        Ok(NewSession { user, cookie_value })
    }

    pub async fn logout(&self, cookie_value: &str) -> Result<()> {
        let key = digest(cookie_value);
        self.auth_cache.remove(&key);
        self.db.delete_session(&key).await
    }

    /// The user behind a session cookie, if it is live.
    pub async fn session_user(&self, cookie_value: &str) -> Result<Option<UserInfo>> {
        let key = digest(cookie_value);
        if let Some(u) = self.auth_cache.get(&key) {
            return Ok(Some(u));
        }
        let user = self.db.session_user(&key).await?.map(|u| UserInfo {
            id: u.id,
            username: u.username,
        });
        if let Some(u) = &user {
            self.auth_cache.insert(key, u.clone());
        }
        Ok(user)
    }

    /// The user behind a bearer token, if it is live. Its last use is recorded at most once
    /// per cache period, not on every request.
    pub async fn token_user(&self, token: &str) -> Result<Option<UserInfo>> {
        if !token.starts_with(TOKEN_PREFIX) {
            return Ok(None);
        }
        let key = digest(token);
        if let Some(u) = self.auth_cache.get(&key) {
            return Ok(Some(u));
        }
        let user = self.db.token_user(&key).await?.map(|u| UserInfo {
            id: u.id,
            username: u.username,
        });
        if let Some(u) = &user {
            self.auth_cache.insert(key, u.clone());
        }
        Ok(user)
    }

    pub async fn change_password(
        &self,
        user: &UserInfo,
        change: &PasswordChange,
        keep_cookie: Option<&str>,
    ) -> Result<()> {
        check_password("new_password", &change.new_password)?;
        let row = self
            .db
            .user_by_id(user.id)
            .await?
            .ok_or_else(|| Error::unauthenticated("your account no longer exists"))?;
        if !verify_password(&change.current_password, &row.password_hash).await? {
            return Err(Error::unauthenticated("the current password is wrong")
                .with_field("current_password"));
        }
        let hash = hash_password(&change.new_password, self.config.bcrypt_cost).await?;
        let keep = keep_cookie.map(digest);
        self.db
            .set_password(user.id, &hash, keep.as_deref())
            .await?;
        self.db
            .audit(Some(user.id), "password_change", Some(&user.username), None)
            .await?;
        Ok(())
    }

    /// Sets a user's password from the command line (`admin reset-password`), creating the user
    /// if needed; ends all their sessions.
    pub async fn reset_password(&self, username: &str, password: &str) -> Result<bool> {
        let username = check_username(username)?;
        check_password("password", password)?;
        let hash = hash_password(password, self.config.bcrypt_cost).await?;
        match self.db.user_by_name(&username).await? {
            Some(u) => {
                self.db.set_password(u.id, &hash, None).await?;
                self.auth_cache.clear();
                self.db
                    .audit(Some(u.id), "password_reset", Some(&username), Some("cli"))
                    .await?;
                Ok(false)
            }
            None => {
                let u = self.db.create_user(&username, &hash).await?;
                self.db
                    .audit(Some(u.id), "user_created", Some(&username), Some("cli"))
                    .await?;
                Ok(true)
            }
        }
    }

    pub async fn list_tokens(&self, user: &UserInfo) -> Result<Vec<TokenInfo>> {
        Ok(self
            .db
            .list_api_tokens(user.id)
            .await?
            .into_iter()
            .map(|t| TokenInfo {
                id: t.id,
                name: t.name,
                prefix: t.prefix,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
                token: None,
            })
            .collect())
    }

    pub async fn create_token(&self, user: &UserInfo, req: &NewToken) -> Result<TokenInfo> {
        let name = super::validate::name("name", &req.name, 64)?;
        let token = format!("{TOKEN_PREFIX}{}", random_secret());
        let prefix: String = token.chars().take(TOKEN_PREFIX.len() + 6).collect();
        let row = self
            .db
            .create_api_token(user.id, &name, &digest(&token), &prefix)
            .await?;
        self.db
            .audit(Some(user.id), "token_created", Some(&name), None)
            .await?;
        Ok(TokenInfo {
            id: row.id,
            name: row.name,
            prefix: row.prefix,
            created_at: row.created_at,
            last_used_at: row.last_used_at,
            token: Some(token),
        })
    }

    pub async fn revoke_token(&self, user: &UserInfo, id: i64) -> Result<()> {
        self.db.revoke_api_token(user.id, id).await?;
        self.auth_cache.clear();
        self.db
            .audit(Some(user.id), "token_revoked", Some(&id.to_string()), None)
            .await
    }
}

/// Recently verified sessions and tokens (by digest), so a busy dashboard does not cost a
/// database lookup per request. Entries live a few seconds; logout, revocation and password
/// changes clear them at once.
pub struct AuthCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (UserInfo, Instant)>>,
}

impl AuthCache {
    pub fn new(ttl: Duration) -> Self {
        AuthCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn get(&self, key: &str) -> Option<UserInfo> {
        let map = self.entries.lock().expect("auth cache lock");
        map.get(key)
            .filter(|(_, at)| at.elapsed() < self.ttl)
            .map(|(u, _)| u.clone())
    }

    fn insert(&self, key: String, user: UserInfo) {
        let mut map = self.entries.lock().expect("auth cache lock");
        if map.len() > 10_000 {
            let ttl = self.ttl;
            map.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        map.insert(key, (user, Instant::now()));
    }

    fn remove(&self, key: &str) {
        self.entries.lock().expect("auth cache lock").remove(key);
    }

    fn clear(&self) {
        self.entries.lock().expect("auth cache lock").clear();
    }
}

type LimiterKey = (IpAddr, String);

/// Counts failed logins per (client address, username) in a sliding window.
pub struct LoginLimiter {
    max_failures: usize,
    window: Duration,
    failures: Mutex<HashMap<LimiterKey, VecDeque<Instant>>>,
}

impl LoginLimiter {
    pub fn new(max_failures: usize, window: Duration) -> Self {
        LoginLimiter {
            max_failures,
            window,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long until the key may try again, if it is blocked now.
    pub fn blocked(&self, key: &LimiterKey) -> Option<Duration> {
        let mut map = self.failures.lock().expect("limiter lock");
        let now = Instant::now();
        let q = map.get_mut(key)?;
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.window)
        {
            q.pop_front();
        }
        if q.len() >= self.max_failures {
            q.front().map(|t| self.window - now.duration_since(*t))
        } else {
            None
        }
    }

    pub fn record_failure(&self, key: LimiterKey) {
        let mut map = self.failures.lock().expect("limiter lock");
        let now = Instant::now();
        // Bound memory against a flood of distinct usernames: forget stale entries.
        if map.len() > 10_000 {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < self.window)
            });
        }
        let q = map.entry(key).or_default();
        q.push_back(now);
        while q.len() > self.max_failures {
            q.pop_front();
        }
    }

    pub fn clear(&self, key: &LimiterKey) {
        self.failures.lock().expect("limiter lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_blocks_one_key_only() {
        let l = LoginLimiter::new(3, Duration::from_secs(60));
        let a = ("127.0.0.1".parse().unwrap(), "admin".to_string());
        let b = ("127.0.0.1".parse().unwrap(), "bob".to_string());
        for _ in 0..3 {
            assert!(l.blocked(&a).is_none());
            l.record_failure(a.clone());
        }
        assert!(l.blocked(&a).is_some());
        assert!(l.blocked(&b).is_none());
        l.clear(&a);
        assert!(l.blocked(&a).is_none());
    }

    #[test]
    fn dummy_hash_is_valid_bcrypt() {
        assert!(!bcrypt::verify("anything", &dummy_hash(4)).unwrap());
    }

    #[test]
    fn username_rules() {
        assert!(check_username("admin").is_ok());
        assert!(check_username("a b").is_err());
        assert!(check_username("adm\u{200B}in")
            .unwrap_err()
            .message
            .contains("U+200B ZERO WIDTH SPACE) at position 4"));
        assert!(check_username("").is_err());
        assert!(check_password("password", "short").is_err());
        assert!(check_password("password", "longenough").is_ok());
    }
}

//! API keys: generated once, shown once, stored as SHA-256 hashes.
//!
//! Keys are 32 random bytes (base64url) behind the prefix `sgw_`: with that much entropy a plain SHA-256 is the
//! right hash (a slow password hash buys nothing and would cost on every request).

use super::on_pool;
use super::{Store, StoreError, now_text};
use crate::secret::Secret;
use base64::Engine;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// A key as listed (never the key itself).
#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    /// Name given at creation (shown in the audit log as the actor).
    pub name: String,
    /// First characters of the key, to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_at: String,
    /// Revocation time, if revoked.
    pub revoked_at: Option<String>,
}

/// A fresh random key.
pub fn generate_key() -> Secret {
    let bytes: [u8; 32] = rand::random();
    Secret::new(format!(
        "sgw_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    ))
}

/// Hash under which a key is stored and looked up.
pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

fn prefix(key: &str) -> String {
    key.chars().take(10).collect()
}

impl Store {
    /// Creates a key named `name`; returns the key, which is not stored and cannot be shown again.
    pub async fn create_api_key(&self, name: &str) -> Result<Secret, StoreError> {
        let key = generate_key();
        let r = on_pool!(self, |p, sql| sqlx::query(sql(
            "INSERT INTO api_keys (name, prefix, hash, created_at) VALUES (?, ?, \
                 ?, ?)"
        ))
        .bind(name)
        .bind(prefix(key.expose()))
        .bind(hash_key(key.expose()))
        .bind(now_text())
        .execute(p)
        .await
        .map(|r| r.rows_affected()));
        match r {
            Ok(_) => Ok(key),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("an API key named {name:?} already exists"),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// The name of the active key with this hash.
    pub async fn api_key_name(&self, hash: &str) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, |p, sql| sqlx::query_scalar(sql(
            "SELECT name FROM api_keys WHERE hash = ? AND revoked_at IS NULL"
        ))
        .bind(hash)
        .fetch_optional(p)
        .await)?)
    }

    /// Every key, revoked ones included.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKeyInfo>, StoreError> {
        let rows: Vec<(String, String, String, Option<String>)> =
            on_pool!(self, |p, sql| sqlx::query_as(sql(
                "SELECT name, prefix, created_at, revoked_at FROM api_keys ORDER BY \
                 name"
            ))
            .fetch_all(p)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|(name, prefix, created_at, revoked_at)| ApiKeyInfo {
                name,
                prefix,
                created_at,
                revoked_at,
            })
            .collect())
    }

    /// Revokes the key named `name`.
    pub async fn revoke_api_key(&self, name: &str) -> Result<(), StoreError> {
        let r = on_pool!(self, |p, sql| sqlx::query(sql(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS \
                 NULL"
        ))
        .bind(now_text())
        .bind(name)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if r == 0 {
            return Err(StoreError::NotFound(format!(
                "active API key named {name:?}"
            )));
        }
        Ok(())
    }

    /// Number of active keys.
    pub async fn active_api_keys(&self) -> Result<i64, StoreError> {
        Ok(on_pool!(self, |p, sql| sqlx::query_scalar(sql(
            "SELECT COUNT(*) FROM api_keys WHERE revoked_at IS NULL"
        ))
        .fetch_one(p)
        .await)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn create_lookup_revoke() {
        for (_dir, s) in crate::store::tests::stores().await {
            let key = s.create_api_key("dui").await.unwrap();
            assert!(key.expose().starts_with("sgw_"));
            assert_eq!(
                s.api_key_name(&hash_key(key.expose()))
                    .await
                    .unwrap()
                    .as_deref(),
                Some("dui")
            );
            assert!(matches!(
                s.create_api_key("dui").await,
                Err(StoreError::Conflict(_))
            ));
            let listed = s.list_api_keys().await.unwrap();
            assert_eq!(listed.len(), 1);
            assert!(!format!("{listed:?}").contains(key.expose()));
            s.revoke_api_key("dui").await.unwrap();
            assert_eq!(s.api_key_name(&hash_key(key.expose())).await.unwrap(), None);
            assert!(matches!(
                s.revoke_api_key("dui").await,
                Err(StoreError::NotFound(_))
            ));
        }
    }
}

//! Persons: local strict traits, identity state, and the INS data INSi returned.
//!
//! Rows are read and written whole, as JSON columns for the typed parts (traits, state, INSi traits), with an
//! optimistic `version`: an update whose version moved in between is refused with [`StoreError::Conflict`], so
//! two concurrent changes of one identity never silently overwrite each other (identitovigilance).

use super::on_pool;
use super::{Store, StoreError, now_text};
use serde::{Deserialize, Serialize};

/// A stored person, as the store sees it (typed parts as JSON values the INS module (de)serialises).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PersonRow {
    /// Identifier (UUID).
    pub id: String,
    /// Creation time.
    pub created_at: String,
    /// Last update time.
    pub updated_at: String,
    /// Local strict traits (JSON).
    pub traits: serde_json::Value,
    /// Identity state (JSON).
    pub state: serde_json::Value,
    /// INS value (15 characters), once retrieved.
    pub ins_value: Option<String>,
    /// OID of the INS.
    pub ins_oid: Option<String>,
    /// Traits returned by INSi (JSON).
    pub insi_traits: Option<serde_json::Value>,
    /// Former INS (JSON).
    pub ins_history: Option<serde_json::Value>,
    /// Time of the last successful INSi call.
    pub insi_checked_at: Option<String>,
    /// Optimistic concurrency version.
    pub version: i64,
}

type Raw = (
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
);

fn json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("persons JSON column: {e}")))
}

fn from_raw(r: Raw) -> Result<PersonRow, StoreError> {
    Ok(PersonRow {
        id: r.0,
        created_at: r.1,
        updated_at: r.2,
        traits: json(&r.3)?,
        state: json(&r.4)?,
        ins_value: r.5,
        ins_oid: r.6,
        insi_traits: r.7.as_deref().map(json).transpose()?,
        ins_history: r.8.as_deref().map(json).transpose()?,
        insi_checked_at: r.9,
        version: r.10,
    })
}

impl Store {
    /// Inserts a new person (version 1).
    pub async fn insert_person(
        &self,
        id: &str,
        traits: &serde_json::Value,
        state: &serde_json::Value,
    ) -> Result<PersonRow, StoreError> {
        let now = now_text();
        on_pool!(self, |p, sql| {
            sqlx::query(sql(
                "INSERT INTO persons (id, created_at, updated_at, traits, state, \
                 version) VALUES (?, ?, ?, ?, ?, 1)",
            ))
            .bind(id)
            .bind(&now)
            .bind(&now)
            .bind(traits.to_string())
            .bind(state.to_string())
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        self.person(id).await
    }

    /// A person by id.
    pub async fn person(&self, id: &str) -> Result<PersonRow, StoreError> {
        let raw: Option<Raw> = on_pool!(self, |p, sql| {
            sqlx::query_as(sql(
                "SELECT id, created_at, updated_at, traits, state, ins_value, \
                 ins_oid, insi_traits, ins_history, insi_checked_at, version FROM \
                 persons WHERE id = ?",
            ))
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        from_raw(raw.ok_or_else(|| StoreError::NotFound(format!("person {id}")))?)
    }

    /// Writes `row` back if its version is still the stored one; returns the row with the new version.
    pub async fn update_person(&self, row: &PersonRow) -> Result<PersonRow, StoreError> {
        let opt = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string());
        let r = on_pool!(self, |p, sql| {
            sqlx::query(sql(
                "UPDATE persons SET updated_at = ?, traits = ?, state = ?, ins_value \
                 = ?, ins_oid = ?, insi_traits = ?, ins_history = ?, insi_checked_at \
                 = ?, version = version + 1 WHERE id = ? AND version = ?",
            ))
            .bind(now_text())
            .bind(row.traits.to_string())
            .bind(row.state.to_string())
            .bind(&row.ins_value)
            .bind(&row.ins_oid)
            .bind(opt(&row.insi_traits))
            .bind(opt(&row.ins_history))
            .bind(&row.insi_checked_at)
            .bind(&row.id)
            .bind(row.version)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        if r == 0 {
            // Either gone or changed by someone else.
            self.person(&row.id).await?;
            return Err(StoreError::Conflict(format!(
                "person {} was changed by another request; reload and retry",
                row.id
            )));
        }
        self.person(&row.id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn insert_update_and_version_conflict() {
        for (_dir, s) in crate::store::tests::stores().await {
            let p = s
                .insert_person("p1", &json!({"birth_name": "ADRUN"}), &json!({}))
                .await
                .unwrap();
            assert_eq!(p.version, 1);
            let mut changed = p.clone();
            changed.ins_value = Some("275126322074974".into());
            changed.ins_oid = Some("1.2.250.1.213.1.4.10".into());
            let v2 = s.update_person(&changed).await.unwrap();
            assert_eq!(v2.version, 2);
            assert_eq!(v2.ins_value.as_deref(), Some("275126322074974"));
            // A stale copy is refused.
            assert!(matches!(
                s.update_person(&changed).await,
                Err(StoreError::Conflict(_))
            ));
            assert!(matches!(
                s.person("nope").await,
                Err(StoreError::NotFound(_))
            ));
        }
    }
}

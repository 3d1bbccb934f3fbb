//! PPS documents and the documents the sandbox DMP simulator holds.

use super::on_pool;
use super::{Store, StoreError, now_text};
use serde::Serialize;

/// A stored PPS document version.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentRow {
    /// Identifier (UUID).
    pub id: String,
    /// The person.
    pub person_id: String,
    /// CDA `id` root.
    pub cda_id: String,
    /// CDA `setId` root.
    pub set_id: String,
    /// Version.
    pub version: i64,
    /// The document this version replaces.
    pub replaces: Option<String>,
    /// XDS entryUUID.
    pub entry_uuid: String,
    /// JSON `PpsDocument`.
    #[serde(skip)]
    pub plan: String,
    /// N1 PDF.
    #[serde(skip)]
    pub pdf: Option<Vec<u8>>,
    /// Build time (RFC 3339).
    pub built_at: String,
    /// The CDA.
    #[serde(skip)]
    pub xml: String,
}

/// A document received by the DMP simulator.
#[derive(Debug, Clone, Serialize)]
pub struct SimDocumentRow {
    /// XDS uniqueId.
    pub unique_id: String,
    /// entryUUID.
    pub entry_uuid: String,
    /// Patient, CX.
    pub patient: String,
    /// Sending structure.
    pub structure_id: String,
    /// entryUUID replaced.
    pub replaces: Option<String>,
    /// `approved` or `deprecated`.
    pub status: String,
    /// The metadata received.
    #[serde(skip)]
    pub metadata: String,
    /// The document bytes.
    #[serde(skip)]
    pub content: Vec<u8>,
}

type DocRaw = (
    String,
    String,
    String,
    String,
    i64,
    Option<String>,
    String,
    String,
    Option<Vec<u8>>,
    String,
    String,
);
type SimRaw = (
    String,
    String,
    String,
    String,
    Option<String>,
    String,
    String,
    Vec<u8>,
);

fn doc(r: DocRaw) -> DocumentRow {
    DocumentRow {
        id: r.0,
        person_id: r.1,
        cda_id: r.2,
        set_id: r.3,
        version: r.4,
        replaces: r.5,
        entry_uuid: r.6,
        plan: r.7,
        pdf: r.8,
        built_at: r.9,
        xml: r.10,
    }
}

fn sim(r: SimRaw) -> SimDocumentRow {
    SimDocumentRow {
        unique_id: r.0,
        entry_uuid: r.1,
        patient: r.2,
        structure_id: r.3,
        replaces: r.4,
        status: r.5,
        metadata: r.6,
        content: r.7,
    }
}

macro_rules! sim_cols {
    () => {
        "unique_id, entry_uuid, patient, structure_id, replaces, status, metadata, content"
    };
}

impl Store {
    /// Inserts a document version.
    pub async fn insert_document(&self, d: &DocumentRow) -> Result<(), StoreError> {
        on_pool!(self, |p, sql| {
            sqlx::query(sql(
                "INSERT INTO documents (id, person_id, cda_id, set_id, version, \
                 replaces, entry_uuid, plan, pdf, built_at, xml, created_at) VALUES \
                 (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ))
            .bind(&d.id)
            .bind(&d.person_id)
            .bind(&d.cda_id)
            .bind(&d.set_id)
            .bind(d.version)
            .bind(&d.replaces)
            .bind(&d.entry_uuid)
            .bind(&d.plan)
            .bind(&d.pdf)
            .bind(&d.built_at)
            .bind(&d.xml)
            .bind(now_text())
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// A document by id.
    pub async fn document(&self, id: &str) -> Result<DocumentRow, StoreError> {
        let raw: Option<DocRaw> = on_pool!(self, |p, sql| {
            sqlx::query_as(sql(
                "SELECT id, person_id, cda_id, set_id, version, replaces, entry_uuid, \
                 plan, pdf, built_at, xml FROM documents WHERE id = ?",
            ))
            .bind(id)
            .fetch_optional(p)
            .await
        })?;
        raw.map(doc)
            .ok_or_else(|| StoreError::NotFound(format!("document {id}")))
    }

    /// Whether a later version of the document's set exists.
    pub async fn document_superseded(&self, d: &DocumentRow) -> Result<bool, StoreError> {
        let n: i64 = on_pool!(self, |p, sql| sqlx::query_scalar(sql(
            "SELECT COUNT(*) FROM documents WHERE set_id = ? AND version > ?"
        ))
        .bind(&d.set_id)
        .bind(d.version)
        .fetch_one(p)
        .await)?;
        Ok(n > 0)
    }

    /// Stores a document received by the simulator; a replacement deprecates the replaced entry in the same
    /// transaction. `Conflict` when the uniqueId is already used.
    /// Not fsync'd on SQLite (`Store::relaxed_pools`): the simulator stands for the remote DMP.
    pub async fn sim_dmp_insert(&self, d: &SimDocumentRow) -> Result<(), StoreError> {
        on_pool!(relaxed self, |p, sql| {
            let mut tx = p.begin().await?;
            let r = sqlx::query(sql(concat!(
                "INSERT INTO sim_dmp_documents (",
                sim_cols!(),
                ", received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
            )))
            .bind(&d.unique_id)
            .bind(&d.entry_uuid)
            .bind(&d.patient)
            .bind(&d.structure_id)
            .bind(&d.replaces)
            .bind(&d.status)
            .bind(&d.metadata)
            .bind(&d.content)
            .bind(now_text())
            .execute(&mut *tx)
            .await;
            if let Err(sqlx::Error::Database(e)) = &r
                && e.is_unique_violation()
            {
                return Err(StoreError::Conflict(format!(
                    "uniqueId or entryUUID already used: {}",
                    d.unique_id
                )));
            }
            r?;
            if let Some(old) = &d.replaces {
                sqlx::query(sql(
                    "UPDATE sim_dmp_documents SET status = 'deprecated' WHERE entry_uuid \
                 = ?",
                ))
                .bind(old)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A simulator document by uniqueId.
    pub async fn sim_dmp_by_unique_id(
        &self,
        unique_id: &str,
    ) -> Result<Option<SimDocumentRow>, StoreError> {
        let raw: Option<SimRaw> = on_pool!(self, |p, sql| sqlx::query_as(sql(concat!(
            "SELECT ",
            sim_cols!(),
            " FROM sim_dmp_documents WHERE unique_id = ?"
        )))
        .bind(unique_id)
        .fetch_optional(p)
        .await)?;
        Ok(raw.map(sim))
    }

    /// A simulator document by entryUUID.
    pub async fn sim_dmp_by_entry(
        &self,
        entry_uuid: &str,
    ) -> Result<Option<SimDocumentRow>, StoreError> {
        let raw: Option<SimRaw> = on_pool!(self, |p, sql| sqlx::query_as(sql(concat!(
            "SELECT ",
            sim_cols!(),
            " FROM sim_dmp_documents WHERE entry_uuid = ?"
        )))
        .bind(entry_uuid)
        .fetch_optional(p)
        .await)?;
        Ok(raw.map(sim))
    }

    /// Every document the simulator holds for a patient (CX), oldest first.
    pub async fn sim_dmp_documents(
        &self,
        patient: &str,
    ) -> Result<Vec<SimDocumentRow>, StoreError> {
        let raw: Vec<SimRaw> = on_pool!(self, |p, sql| sqlx::query_as(sql(concat!(
            "SELECT ",
            sim_cols!(),
            " FROM sim_dmp_documents WHERE patient = ? ORDER BY received_at, rowid"
        )))
        .bind(patient)
        .fetch_all(p)
        .await)?;
        Ok(raw.into_iter().map(sim).collect())
    }
}

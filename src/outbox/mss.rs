//! The `mss_send` job: one MSSanté message built and stored by `POST /v1/mss/messages`, submitted by
//! [`crate::api::mss::attempt`].
//!
//! Outcomes: accepted → done (`{"reply","dsn_requested"}`); refused (5xx SMTP reply, TLS or authentication
//! refused) → failed at once; unreachable or 4xx → tried again with the outbox's backoff, the message staying
//! `queued`, and on the last attempt the message becomes `failed` too. Every attempt sends the stored bytes, so
//! the `Message-ID` never changes. A message that is no longer `queued` (sent by an earlier attempt whose outcome
//! was not recorded, or moved by reports) is done without sending. The API stores the message before the job.

use super::{JobHandler, Outcome};
use crate::api::mss::{Attempt, attempt};
use crate::ins::transport::BoxFuture;
use crate::mss::smtp::MailTransport;
use crate::store::outbox::JobRow;
use crate::store::{Store, StoreError};
use serde_json::json;
use std::sync::Arc;

/// Job kind.
pub const KIND: &str = "mss_send";

/// The `mss_send` handler.
#[derive(Clone)]
pub struct MssSend {
    /// The store (messages).
    pub store: Store,
    /// The submission transport; `None` when MSSanté is not configured.
    pub transport: Option<Arc<dyn MailTransport>>,
}

impl std::fmt::Debug for MssSend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MssSend")
            .field("configured", &self.transport.is_some())
            .finish()
    }
}

fn error(code: &str, message: impl Into<String>, transient: bool) -> serde_json::Value {
    json!({"error": {"code": code, "message": message.into(), "transient": transient}})
}

impl JobHandler for MssSend {
    fn service(&self) -> &'static str {
        "mss"
    }

    fn run<'a>(&'a self, job: &'a JobRow) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let Some(transport) = &self.transport else {
                return Outcome::Permanent(error(
                    "mss.not_configured",
                    "no MSSanté transport",
                    false,
                ));
            };
            let Some(id) = job.payload["message_id"].as_str() else {
                return Outcome::Permanent(error("internal", "payload without message_id", false));
            };
            let last = job.attempts >= job.max_attempts;
            match attempt(&self.store, transport.as_ref(), id, last).await {
                Ok(Attempt::Sent(v)) => Outcome::Done(v),
                Ok(Attempt::NotQueued(status)) => {
                    Outcome::Done(json!({"status": status, "already_sent": true}))
                }
                Ok(Attempt::Failed {
                    transient: true,
                    detail,
                }) => Outcome::Transient(json!({"error": detail})),
                Ok(Attempt::Failed { detail, .. }) => Outcome::Permanent(json!({"error": detail})),
                Err(StoreError::NotFound(_)) => {
                    Outcome::Transient(error("mss.message_not_stored_yet", id, true))
                }
                Err(e) => Outcome::Transient(error("internal", e.to_string(), true)),
            }
        })
    }
}

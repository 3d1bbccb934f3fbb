//! `segur mss xdm` and `segur mss message`: write what the gateway would send by MSSanté, for inspection.
//! `segur mss send` and `segur mss inbox`: the same calls as the DUI, against the running daemon's local API
//! (`api.listen` of the configuration, key from `SEGUR_API_KEY`).

use crate::mss::message::{DEFAULT_MAX_BYTES, Outgoing, Policy, Recipients, build_message};
use crate::mss::sample::sample_pps;
use crate::mss::xdm::{Sender, build_package};
use anyhow::Context as _;
use clap::Subcommand;
use std::path::PathBuf;
use std::process::ExitCode;

/// `segur mss …`
#[derive(Debug, Subcommand)]
pub enum MssCmd {
    /// Write the IHE XDM package (IHE_XDM.ZIP) of the sample PPS.
    Xdm {
        /// Use the sample plan for the test identity ADRUN ZOE (QUAL) (the only input for now).
        #[arg(long, required = true)]
        sample: bool,
        /// Output zip file.
        out: PathBuf,
    },
    /// Write the MIME message (.eml) of the sample PPS, asking for acknowledgements, without sending it.
    Message {
        /// Use the sample plan for the test identity ADRUN ZOE (QUAL) (the only input for now).
        #[arg(long, required = true)]
        sample: bool,
        /// Address it to the person's Mon espace santé mailbox instead of a professional.
        #[arg(long)]
        to_patient: bool,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
    },
    /// Send a stored PPS by MSSanté through the running daemon (POST /v1/mss/messages) and print the answer.
    Send {
        /// The stored document (`POST /v1/documents/pps`).
        #[arg(long)]
        document: String,
        /// Professional MSSanté address (repeat for several).
        #[arg(long, required_unless_present = "patient")]
        to: Vec<String>,
        /// Or: the person's id, to send to their Mon espace santé mailbox.
        #[arg(long, conflicts_with = "to")]
        patient: Option<String>,
        /// Text body.
        #[arg(long)]
        body: Option<String>,
        /// Do not ask for read and delivery receipts.
        #[arg(long)]
        no_ack: bool,
    },
    /// Show the status of a sent message (`--message ID`) or the received messages.
    Inbox {
        /// A sent message id: print its status and events instead.
        #[arg(long)]
        message: Option<String>,
    },
}

/// Sender address of the samples (a test application mailbox).
const SAMPLE_FROM: &str = "ehpad-les-tilleuls@ehpad.test.mssante.fr";

fn sender() -> Sender {
    Sender {
        software: format!("segur-gateway {}", env!("CARGO_PKG_VERSION")),
        contact: SAMPLE_FROM.into(),
    }
}

/// Calls the running daemon's local API.
fn call_api(
    config: Option<&std::path::Path>,
    method: reqwest::Method,
    path: &str,
    body: Option<serde_json::Value>,
) -> anyhow::Result<ExitCode> {
    let loaded = super::load_config(config)?;
    let key = std::env::var("SEGUR_API_KEY")
        .context("set SEGUR_API_KEY to an API key of the daemon (segur apikey create NAME)")?;
    let url = format!("http://{}{path}", loaded.config.api.listen);
    crate::pki::tls::install_default_provider();
    super::runtime()?.block_on(async move {
        let client = reqwest::Client::builder().no_proxy().build()?;
        let mut r = client.request(method, &url).bearer_auth(key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let answer = r
            .send()
            .await
            .with_context(|| format!("cannot reach the daemon at {url} (segur serve)"))?;
        let ok = answer.status().is_success();
        out!("{}", answer.text().await?);
        Ok(if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    })
}

/// Runs `segur mss …`.
pub fn run(cmd: MssCmd, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    match cmd {
        MssCmd::Send {
            document,
            to,
            patient,
            body,
            no_ack,
        } => {
            let mut b = serde_json::json!({"document_id": document, "ack": !no_ack});
            match patient {
                Some(p) => b["patient_person_id"] = p.into(),
                None => b["to"] = to.into(),
            }
            if let Some(text) = body {
                b["body"] = text.into();
            }
            return call_api(config, reqwest::Method::POST, "/v1/mss/messages", Some(b));
        }
        MssCmd::Inbox { message } => {
            let path = match message {
                Some(id) => format!("/v1/mss/messages/{id}"),
                None => "/v1/mss/inbox".to_owned(),
            };
            return call_api(config, reqwest::Method::GET, &path, None);
        }
        _ => {}
    }
    let s = sample_pps(Some(crate::cda::sample::SAMPLE_PDF))
        .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
    let (out, bytes) = match cmd {
        MssCmd::Xdm { out, .. } => {
            let zip = build_package(&s.submission, s.cda.xml().as_bytes(), &sender())?;
            (out, zip)
        }
        MssCmd::Message {
            to_patient, out, ..
        } => {
            let policy = Policy {
                nil: "SANDBOX".into(),
                allowed_domains: vec!["mssante.fr".into()],
                max_bytes: DEFAULT_MAX_BYTES,
                sender: sender(),
            };
            let to = if to_patient {
                Recipients::Patient
            } else {
                Recipients::Professionals(vec!["medecin.traitant@medecin.test.mssante.fr".into()])
            };
            let built = build_message(
                &Outgoing {
                    doc: &s.doc,
                    cda: &s.cda,
                    submission: &s.submission,
                    pdf: Some(crate::cda::sample::SAMPLE_PDF),
                    from: SAMPLE_FROM,
                    to,
                    body: "Bonjour,\r\n\r\nVeuillez trouver ci-joint le plan personnalisé de coordination en santé.\r\n",
                    ack: true,
                    id: uuid::Uuid::new_v4(),
                    date: time::OffsetDateTime::now_utc(),
                },
                &policy,
            )
            .map_err(|e| anyhow::anyhow!("{e} ({})", e.code()))?;
            (out, built.bytes)
        }
        MssCmd::Send { .. } | MssCmd::Inbox { .. } => anyhow::bail!("handled above"),
    };
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}

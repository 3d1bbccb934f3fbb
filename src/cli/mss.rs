//! `segur mss xdm` and `segur mss message`: write what the gateway would send by MSSanté, for inspection.

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
}

/// Sender address of the samples (a test application mailbox).
const SAMPLE_FROM: &str = "ehpad-les-tilleuls@ehpad.test.mssante.fr";

fn sender() -> Sender {
    Sender {
        software: format!("segur-gateway {}", env!("CARGO_PKG_VERSION")),
        contact: SAMPLE_FROM.into(),
    }
}

/// Runs `segur mss …`.
pub fn run(cmd: MssCmd) -> anyhow::Result<ExitCode> {
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
    };
    std::fs::write(&out, &bytes).with_context(|| format!("cannot write {}", out.display()))?;
    Ok(ExitCode::SUCCESS)
}

//! Embedding the library: qualify a person's identity (INS) with INSi, without the daemon.
//!
//! ```sh
//! cargo run --example qualify_ins              # sandbox: the INSi simulator runs inside this program
//! cargo run --example qualify_ins -- data/     # keep the person store in data/ instead of a temporary one
//! ```
//!
//! For a real site, load your configuration instead of `Config::default()`
//! (`segur_gateway::config::Config::load(Some(path), std::env::vars())`), take the certificates from it
//! (`Certificates::load`) and pass no simulators to `insi_client`: it then calls `ins.endpoint` with the AUTH_CLI
//! certificate (CN INSI-AUTO).

use segur_gateway::config::Config;
use segur_gateway::daemon::{Certificates, insi_client};
use segur_gateway::ins::person::{Actor, Persons};
use segur_gateway::ins::{DocumentKind, HighTrustDocument, StrictTraits};
use segur_gateway::sim::SimHost;
use segur_gateway::store::{Store, audit::AuditLog};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    segur_gateway::pki::tls::install_default_provider();

    // 1. The INSi client. Sandbox: the simulator on a free port and the embedded test certificates.
    let mut config = Config::default();
    for name in segur_gateway::sim::KNOWN {
        config.sandbox.ports.insert(name.to_string(), 0);
    }
    let sims = SimHost::start(&config.sandbox, Default::default()).await?;
    let certs = Certificates::sandbox();
    let insi = insi_client(&config, &certs, Some(&sims), true)?.expect("INSi is configured");

    // 2. Where persons live: the gateway's SQLite store and its audit log.
    let dir = match std::env::args().nth(1) {
        Some(d) => std::path::PathBuf::from(d),
        None => std::env::temp_dir().join(format!("segur-example-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir)?;
    let store = Store::open_sqlite(&dir.join("segur.db")).await?;
    let audit = AuditLog::start(store.clone());
    let persons = Persons::new(store.clone(), audit.clone());
    let actor = Actor {
        name: "example".into(),
        correlation_id: None,
    };

    // 3. The person as the DUI recorded her (a CNAM test identity): status PROV.
    let traits = StrictTraits {
        birth_name: "Adrun".into(),
        given_names: vec!["Zoé".into()],
        first_given_name: "Zoé".into(),
        sex: "F".parse()?,
        birth_date: "1975-12-31".parse()?,
        birth_place: Some("63220".parse()?),
    };
    let person = persons.create(traits, &actor).await?;
    println!("created {}: {:?}", person.id, person.status);

    // 4. INSi with her traits: INS retrieved when INSi's traits are identical (RECUP).
    let check = persons.check_insi(&person.id, &insi, &actor).await?;
    println!("INSi: {} → {:?}", check.search.outcome, check.person.status);
    if let Some(found) = &check.search.identity {
        // Never log a full INS: show it masked.
        println!("INS {}", found.ins.masked());
    }

    // 5. A high-trust ID document checked by the professional: qualified (QUAL).
    let document = HighTrustDocument {
        kind: DocumentKind::Passport,
        checked_at: time::OffsetDateTime::now_utc(),
    };
    let (person, _) = persons
        .document_checked(&person.id, document, &actor)
        .await?;
    println!("identity document checked → {:?}", person.status);

    audit.flush().await;
    store.close().await;
    sims.stop().await;
    Ok(())
}

//! `segur psc login`: a Pro Santé Connect login from the terminal. Prints the authorization URL to open in a
//! browser, receives the provider's redirect on a loopback port, prints the professional. In sandbox mode the
//! embedded provider is started in this process.

use clap::Subcommand;
use std::process::ExitCode;
use std::sync::Arc;

/// `segur psc …`
#[derive(Debug, Subcommand)]
pub enum PscCmd {
    /// Log in: prints the URL to open, waits for the callback on loopback, prints the professional as JSON.
    Login {
        /// Loopback port of the callback (`0` = any free port; a real realm needs the registered one).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Seconds to wait for the browser.
        #[arg(long, default_value_t = 300)]
        timeout: u64,
    },
}

/// Runs `segur psc …`.
pub fn run(cmd: PscCmd, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let PscCmd::Login { port, timeout } = cmd;
    let mut loaded = super::load_config(config)?;
    loaded.config.psc.redirect_uri = None;
    super::runtime()?.block_on(login(loaded, port, timeout))
}

async fn login(loaded: crate::config::Loaded, port: u16, timeout: u64) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    let c = &loaded.config;
    let sandbox = c.sandbox_enabled(loaded.path.is_some());
    let certs = crate::daemon::Certificates::load(c, sandbox)?;
    let sims = if sandbox && c.psc.issuer.is_none() {
        let (sim, _) = crate::sim::psc::start(
            std::net::SocketAddr::new(c.sandbox.bind, 0),
            crate::sim::faults::Faults::default(),
        )
        .await?;
        Some(crate::sim::SimHost {
            sims: vec![sim],
            ..Default::default()
        })
    } else {
        None
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    let psc = crate::daemon::psc_client(c, &certs, sims.as_ref(), true, addr)?
        .ok_or(crate::psc::PscError::NotConfigured)?;
    let psc = Arc::new(psc);
    let start = psc.start_login(&format!("http://{addr}/done")).await?;
    out!(
        "Open this URL in a browser to log in with Pro Santé Connect:\n{}",
        start.url
    );

    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, crate::psc::PscError>>(1);
    let binding = start.browser_binding.clone();
    let viewer = psc.clone();
    let app = axum::Router::new().route(
        "/v1/psc/callback",
        axum::routing::get(
            move |axum::extract::Query(q): axum::extract::Query<
                crate::psc::flow::CallbackParams,
            >| {
                let (psc, tx, binding) = (psc.clone(), tx.clone(), binding.clone());
                async move {
                    let r = psc.finish_login(&q, Some(&binding)).await;
                    let page = match &r {
                        Ok(_) => "Connexion réussie : vous pouvez fermer cet onglet.".to_string(),
                        Err(e) => format!("Échec de la connexion : {e}"),
                    };
                    let _ = tx.send(r.map(|done| done.handle)).await;
                    axum::response::Html(page)
                }
            },
        ),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut rx = rx;
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(timeout), rx.recv()).await;
    server.abort();
    let handle = match outcome {
        Ok(Some(r)) => r?,
        Ok(None) => anyhow::bail!("the callback server stopped"),
        Err(_) => anyhow::bail!("no login within {timeout} s"),
    };
    let view = viewer.session(&handle).await?;
    out!("{}", serde_json::to_string_pretty(&view)?);
    Ok(ExitCode::SUCCESS)
}

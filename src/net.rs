//! Serving an axum router over TLS (simulators, and the API when it listens beyond loopback).
//!
//! tokio-rustls does the handshake; hyper-util serves HTTP/1.1 on the stream. The peer's certificate, when the
//! server asked for one, reaches handlers as the [`ClientCert`] extension, so a simulator can check the CN rule the
//! way the real service does.

use crate::pki::CertInfo;
use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// The client certificate presented on this connection (leaf, parsed), if any.
#[derive(Debug, Clone)]
pub struct ClientCert(pub Option<Arc<CertInfo>>);

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Accepts TLS connections on `listener` until `shutdown` turns true.
pub async fn serve_tls(
    listener: TcpListener,
    config: Arc<ServerConfig>,
    app: Router,
    mut shutdown: watch::Receiver<bool>,
    name: &'static str,
) {
    let acceptor = TlsAcceptor::from(config);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(server = name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(server = name, %peer, error = %crate::pki::tls::describe(&e), "TLS handshake refused");
                    return;
                }
                Err(_) => {
                    tracing::debug!(server = name, %peer, "TLS handshake timed out");
                    return;
                }
            };
            let cert = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| CertInfo::from_der(c).ok())
                .map(Arc::new);
            let svc = app.layer(axum::Extension(ClientCert(cert)));
            let service = TowerToHyperService::new(svc);
            if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await
            {
                tracing::debug!(server = name, %peer, error = %e, "connection ended with an error");
            }
        });
    }
}

//! The committed test PKI (`certs/`), embedded in the binary for the sandbox and the tests.
//!
//! Embedding means the sandbox needs no file at run time (so no key-file permission problem after a `git clone`,
//! and `segur serve` works from any directory). Regenerate with `segur certs generate --dir certs/` and rebuild.

use super::{Identity, TrustRoots};
use std::sync::LazyLock;

macro_rules! embedded_identity {
    ($fn_name:ident, $stem:literal, $doc:literal) => {
        #[doc = $doc]
        pub fn $fn_name() -> &'static Identity {
            static ID: LazyLock<Identity> = LazyLock::new(|| {
                Identity::from_pem(
                    include_bytes!(concat!("../../certs/", $stem, ".pem")),
                    include_bytes!(concat!("../../certs/", $stem, ".key")),
                    concat!("embedded certs/", $stem, ".pem"),
                )
                .expect(concat!(
                    "embedded test certificate certs/",
                    $stem,
                    " is broken: run segur certs generate"
                ))
            });
            &ID
        }
    };
}

embedded_identity!(
    insi_auto,
    "insi-auto",
    "`AUTH_CLI` certificate with CN `INSI-AUTO`."
);
embedded_identity!(
    auth_cli,
    "auth-cli",
    "`AUTH_CLI` certificate with CN `AUTH_CLI` (DMP, MSSanté)."
);
embedded_identity!(sign, "sign", "`SIGN` certificate.");
embedded_identity!(
    server,
    "server",
    "Server certificate of the simulators (localhost, 127.0.0.1, ::1)."
);

/// PEM of the two test roots.
pub const ROOTS_PEM: &[u8] = include_bytes!("../../certs/test-roots.pem");

/// The two test roots (ELEMENTAIRE, STANDARD).
pub fn roots() -> &'static TrustRoots {
    static ROOTS: LazyLock<TrustRoots> = LazyLock::new(|| {
        TrustRoots::from_pem(ROOTS_PEM, "embedded certs/test-roots.pem")
            .expect("embedded test roots are broken: run segur certs generate")
    });
    &ROOTS
}

/// Files of `certs/` an integrator points other clients at, by role (for `GET /v1/sandbox`).
pub const FILES: &[(&str, &str)] = &[
    ("trust_roots", "certs/test-roots.pem"),
    ("client_certificate_pem", "certs/insi-auto.pem"),
    ("client_key_pem", "certs/insi-auto.key"),
    ("client_pkcs12", "certs/insi-auto.p12"),
    ("client_certificate_auth_cli_pem", "certs/auth-cli.pem"),
    ("client_key_auth_cli_pem", "certs/auth-cli.key"),
    ("signature_pkcs12", "certs/sign.p12"),
];

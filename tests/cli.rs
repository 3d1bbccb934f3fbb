//! The `segur` binary: help, config check, key-file permissions, loopback rule, test PKI generation, API keys.

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use segur_gateway::pki::identity::parse_pem_certs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

fn segur(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_segur"));
    cmd.args(args)
        .env_remove("SEGUR_CONFIG")
        .env_remove("RUST_LOG");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

#[test]
fn help_lists_the_foundation_commands() {
    let o = segur(&["--help"], &[]);
    assert!(o.status.success());
    let (out, _) = text(&o);
    for cmd in ["serve", "certs", "config", "apikey"] {
        assert!(out.contains(cmd), "{cmd} missing from --help:\n{out}");
    }
}

#[test]
fn config_check_names_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("segur.toml");
    std::fs::write(&f, "[api]\nlisten = \"127.0.0.1:8088\"\nlisen = 1\n").unwrap();
    let o = segur(&["config", "check", f.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(1));
    let (_, err) = text(&o);
    assert!(
        err.contains("segur.toml:3:") && err.contains("api.lisen"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");

    std::fs::write(&f, "[store]\npath = 12\n").unwrap();
    let (_, err) = text(&segur(&["config", "check", f.to_str().unwrap()], &[]));
    assert!(
        err.contains("segur.toml:2:") && err.contains("store.path"),
        "{err}"
    );

    std::fs::write(&f, "[store\n").unwrap();
    let (_, err) = text(&segur(&["config", "check", f.to_str().unwrap()], &[]));
    assert!(err.contains("segur.toml:1:"), "{err}");

    std::fs::write(&f, "[store]\npath = \"x.db\"\n").unwrap();
    let o = segur(
        &["config", "check", f.to_str().unwrap()],
        &[("SEGUR_API__BODY_LIMIT", "huge")],
    );
    let (_, err) = text(&o);
    assert!(
        err.contains("SEGUR_API__BODY_LIMIT") && err.contains("api.body_limit"),
        "{err}"
    );
}

#[test]
fn world_readable_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    let key = dir.path().join("auth.key");
    std::fs::copy(certs.join("insi-auto.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let f = dir.path().join("segur.toml");
    std::fs::write(
        &f,
        format!(
            "[pki]\ntrust_roots = [\"{roots}\"]\n[pki.auth_cli]\ncert = \"{cert}\"\nkey = \"{key}\"\n",
            roots = certs.join("test-roots.pem").display(),
            cert = certs.join("insi-auto.pem").display(),
            key = key.display()
        ),
    )
    .unwrap();
    let o = segur(&["config", "check", f.to_str().unwrap()], &[]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("readable by group or others") && err.contains("chmod 600"),
        "{err}"
    );

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = segur(&["config", "check", f.to_str().unwrap()], &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.contains("CN=INSI-AUTO"), "{out}");

    // Same rule for a PKCS#12 file, whose password comes from the environment.
    let p12 = dir.path().join("auth.p12");
    std::fs::copy(certs.join("insi-auto.p12"), &p12).unwrap();
    std::fs::set_permissions(&p12, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(
        &f,
        format!(
            "[pki]\ntrust_roots = [\"{}\"]\n[pki.auth_cli]\npkcs12 = \"{}\"\n",
            certs.join("test-roots.pem").display(),
            p12.display()
        ),
    )
    .unwrap();
    let (_, err) = text(&segur(&["config", "check", f.to_str().unwrap()], &[]));
    assert!(err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&p12, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = segur(
        &["config", "check", f.to_str().unwrap()],
        &[("SEGUR_PKI__AUTH_CLI__PASSWORD", "segur-test")],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    let o = segur(
        &["config", "check", f.to_str().unwrap()],
        &[("SEGUR_PKI__AUTH_CLI__PASSWORD", "nope")],
    );
    assert!(text(&o).1.contains("wrong password"), "{:?}", text(&o));
}

#[test]
fn non_loopback_listen_is_refused_without_the_explicit_setting() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let o = segur(
        &["serve"],
        &[
            ("SEGUR_API__LISTEN", "0.0.0.0:0"),
            ("SEGUR_STORE__PATH", db.to_str().unwrap()),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let (_, err) = text(&o);
    assert!(
        err.contains("api.listen") && err.contains("allow_remote"),
        "{err}"
    );
    assert!(!db.exists(), "refused before touching the store");
}

fn pem_file(dir: &Path, name: &str) -> Vec<CertificateDer<'static>> {
    parse_pem_certs(&std::fs::read(dir.join(name)).unwrap(), name).unwrap()
}

#[test]
fn generated_pki_chains_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("certs");
    let o = segur(&["certs", "generate", "--dir", out.to_str().unwrap()], &[]);
    assert!(o.status.success(), "{:?}", text(&o));

    let roots = segur_gateway::pki::TrustRoots::from_pem(
        &std::fs::read(out.join("test-roots.pem")).unwrap(),
        "roots",
    )
    .unwrap();
    assert_eq!(roots.certs.len(), 2);
    let store = Arc::new(roots.root_store().unwrap());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let now = UnixTime::now();

    // Server certificate: valid for localhost and 127.0.0.1 through the STANDARD ORGANISATIONS CA.
    let server = pem_file(&out, "server.pem");
    assert_eq!(server.len(), 2, "leaf + intermediate");
    let sv = WebPkiServerVerifier::builder_with_provider(store.clone(), provider.clone())
        .build()
        .unwrap();
    for name in ["localhost", "127.0.0.1"] {
        sv.verify_server_cert(
            &server[0],
            &server[1..],
            &ServerName::try_from(name).unwrap(),
            &[],
            now,
        )
        .unwrap_or_else(|e| panic!("server cert for {name}: {e}"));
    }
    assert!(
        sv.verify_server_cert(
            &server[0],
            &server[1..],
            &ServerName::try_from("example.org").unwrap(),
            &[],
            now
        )
        .is_err()
    );

    // Client certificates: valid for client auth through ELEMENTAIRE ORGANISATIONS.
    let cv = WebPkiClientVerifier::builder_with_provider(store.clone(), provider.clone())
        .build()
        .unwrap();
    for name in ["insi-auto.pem", "auth-cli.pem"] {
        let chain = pem_file(&out, name);
        cv.verify_client_cert(&chain[0], &chain[1..], now)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = segur_gateway::pki::CertInfo::from_der(&chain[0]).unwrap();
        assert_eq!(info.structure_id(), Some("1630790004"));
        assert!(
            info.issuer
                .contains("TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS"),
            "{}",
            info.issuer
        );
    }
    // The server certificate is not a client certificate, and a leaf without its intermediate does not chain.
    assert!(
        cv.verify_client_cert(&server[0], &server[1..], now)
            .is_err()
    );
    let insi = pem_file(&out, "insi-auto.pem");
    assert!(cv.verify_client_cert(&insi[0], &[], now).is_err());

    // Signature certificate: signed by the ORGANISATIONS CA.
    let sign = pem_file(&out, "sign.pem");
    let (_, leaf) = x509_parser::parse_x509_certificate(&sign[0]).unwrap();
    let (_, ca) = x509_parser::parse_x509_certificate(&sign[1]).unwrap();
    leaf.verify_signature(Some(ca.public_key()))
        .expect("SIGN certificate signed by its CA");
    assert_eq!(
        leaf.subject()
            .iter_common_name()
            .next()
            .unwrap()
            .as_str()
            .unwrap(),
        "SIGN"
    );

    // Keys and PKCS#12 are private; PKCS#12 opens with the documented password and matches the PEM.
    for f in ["insi-auto.key", "insi-auto.p12", "sign.key", "server.p12"] {
        let mode = std::fs::metadata(out.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{f}");
    }
    let p12 = segur_gateway::pki::Identity::from_pkcs12(
        &std::fs::read(out.join("insi-auto.p12")).unwrap(),
        "segur-test",
        "p12",
    )
    .unwrap();
    assert_eq!(p12.chain[0], insi[0]);
    let readme = std::fs::read_to_string(out.join("README.md")).unwrap();
    assert!(readme.contains("segur-test") && readme.contains("insi-auto.p12"));
}

#[test]
fn inspect_and_csr() {
    let certs = Path::new(env!("CARGO_MANIFEST_DIR")).join("certs");
    let o = segur(
        &[
            "certs",
            "inspect",
            certs.join("insi-auto.pem").to_str().unwrap(),
        ],
        &[],
    );
    let (out, _) = text(&o);
    assert!(o.status.success());
    assert!(
        out.contains("structure id:  1630790004") && out.contains("ClientAuth"),
        "{out}"
    );

    let o = segur(
        &["certs", "inspect", certs.join("sign.p12").to_str().unwrap()],
        &[("SEGUR_CERT_PASSWORD", "segur-test")],
    );
    assert!(text(&o).0.contains("CN=SIGN"), "{:?}", text(&o));

    let o = segur(&["certs", "inspect", "/nonexistent.pem"], &[]);
    assert_eq!(o.status.code(), Some(1));
    let (_, err) = text(&o);
    assert!(
        err.starts_with("error: ") && err.trim().lines().count() == 1,
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let (key, csr) = (dir.path().join("n.key"), dir.path().join("n.csr"));
    let o = segur(
        &[
            "certs",
            "csr",
            "--subject-from",
            certs.join("insi-auto.pem").to_str().unwrap(),
            "--key-out",
            key.to_str().unwrap(),
            "--csr-out",
            csr.to_str().unwrap(),
        ],
        &[],
    );
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let v = Command::new("openssl")
        .args(["req", "-in"])
        .arg(&csr)
        .args(["-noout", "-verify", "-subject", "-nameopt", "RFC2253"])
        .output()
        .unwrap();
    let (vo, ve) = text(&v);
    assert!(v.status.success(), "{vo}{ve}");
    assert!(
        vo.contains("CN=INSI-AUTO") && vo.contains("OU=1630790004"),
        "{vo}"
    );
    // Never overwrite a key.
    let o = segur(
        &[
            "certs",
            "csr",
            "--subject-from",
            certs.join("insi-auto.pem").to_str().unwrap(),
            "--key-out",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn apikey_create_list_revoke() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("k.db");
    let env = [("SEGUR_STORE__PATH", db.to_str().unwrap())];
    let o = segur(&["apikey", "create", "dui"], &env);
    assert!(o.status.success(), "{:?}", text(&o));
    let key = text(&o).0.trim().to_string();
    assert!(key.starts_with("sgw_") && key.len() > 40, "{key}");
    let (list, _) = text(&segur(&["apikey", "list"], &env));
    assert!(list.contains("dui") && !list.contains(&key), "{list}");
    assert!(segur(&["apikey", "revoke", "dui"], &env).status.success());
    assert!(
        text(&segur(&["apikey", "list"], &env))
            .0
            .contains("REVOKED")
    );
    assert_eq!(
        segur(&["apikey", "revoke", "dui"], &env).status.code(),
        Some(1)
    );
}

#[test]
fn ins_and_finess_validate_exit_codes() {
    let ok = segur(&["ins", "validate", "275126322074974"], &[]);
    assert!(ok.status.success(), "{:?}", text(&ok));
    let cx = segur(&["ins", "validate", "29702" /* 2A */], &[]);
    assert_eq!(cx.status.code(), Some(1));
    // LOISEAU (ANS presentation): key computes to 35, not 18.
    let bad = segur(&["ins", "validate", "280017505601618"], &[]);
    assert_eq!(bad.status.code(), Some(1));
    let (_, err) = text(&bad);
    assert!(
        err.contains("35") && err.contains("ins.invalid_key"),
        "{err}"
    );
    let cx = segur(
        &[
            "ins",
            "validate",
            "297022A02077878^^^&1.2.250.1.213.1.4.10&ISO^NH",
        ],
        &[],
    );
    assert!(cx.status.success(), "{:?}", text(&cx));
    assert!(text(&cx).0.contains("1.2.250.1.213.1.4.10"));

    for good in ["2A0000154", "2B0004246", "010000024", "1630790004"] {
        let o = segur(&["finess", "validate", good], &[]);
        assert!(o.status.success(), "{good}: {:?}", text(&o));
    }
    let o = segur(&["finess", "validate", "010000025"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("finess.invalid_key"));
}

#[test]
fn audit_verify_export_and_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("a.db");
    let env = [("SEGUR_STORE__PATH", db.to_str().unwrap())];
    for name in ["dui", "other"] {
        assert!(segur(&["apikey", "create", name], &env).status.success());
    }
    let o = segur(&["audit", "verify"], &env);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out} {err}");
    assert!(out.contains("intact: 2 rows"), "{out}");

    let (json, _) = text(&segur(&["audit", "export", "--since", "2000-01-01"], &env));
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{json}");
    assert_eq!(rows[1]["prev_hash"], rows[0]["hash"]);
    let (csv, _) = text(&segur(
        &[
            "audit",
            "export",
            "--since",
            "2000-01-01T00:00:00Z",
            "--format",
            "csv",
        ],
        &env,
    ));
    assert!(csv.starts_with("id,at,actor,action,"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let (none, _) = text(&segur(&["audit", "export", "--since", "2999-01-01"], &env));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&none).unwrap(),
        serde_json::json!([])
    );
    assert_eq!(
        segur(&["audit", "export", "--since", "yesterday"], &env)
            .status
            .code(),
        Some(1)
    );

    // Someone with write access to the file bypasses the triggers and edits a row.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use sqlx::ConnectOptions;
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&db)
            .connect()
            .await
            .unwrap();
        for sql in [
            "DROP TRIGGER audit_no_update",
            "UPDATE audit SET subject = 'someone-else' WHERE id = 1",
        ] {
            sqlx::query(sql).execute(&mut c).await.unwrap();
        }
    });
    let o = segur(&["audit", "verify"], &env);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out} {err}");
    assert!(err.contains("TAMPERED at row 1"), "{err}");
}

#[test]
fn audit_verify_on_postgres_catches_an_edit() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(cluster) = segur_gateway::store::testpg::shared() else {
        return;
    };
    let url = rt.block_on(cluster.fresh_database());
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("unused.db");
    let env = [
        ("SEGUR_STORE__PATH", db.to_str().unwrap()),
        ("SEGUR_STORE__URL", url.as_str()),
    ];
    for name in ["dui", "other"] {
        assert!(segur(&["apikey", "create", name], &env).status.success());
    }
    let o = segur(&["audit", "verify"], &env);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out} {err}");
    assert!(out.contains("intact: 2 rows"), "{out}");
    assert!(!db.exists(), "everything went to PostgreSQL");
    let (list, _) = text(&segur(&["apikey", "list"], &env));
    assert!(list.contains("other"), "{list}");

    rt.block_on(async {
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        for sql in [
            "ALTER TABLE audit DISABLE TRIGGER audit_no_update",
            "UPDATE audit SET subject = 'someone-else' WHERE id = 1",
        ] {
            sqlx::query(sql).execute(&pool).await.unwrap();
        }
    });
    let o = segur(&["audit", "verify"], &env);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out} {err}");
    assert!(err.contains("TAMPERED at row 1"), "{err}");
}

use super::*;
use std::io::Write;

fn write(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn load(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let f = write(text);
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    Config::load(Some(f.path()), vars).map(|l| l.config)
}

#[test]
fn empty_file_gives_defaults_and_no_sandbox() {
    let f = write("");
    let loaded = Config::load(Some(f.path()), []).unwrap();
    assert_eq!(loaded.config.api.listen.to_string(), "127.0.0.1:8088");
    assert!(!loaded.config.sandbox_enabled(true));
    assert!(Config::default().sandbox_enabled(false));
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = load("[api]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n", &[]).unwrap_err();
    let msg = err.to_string();
    match &err {
        ConfigError::Parse { line, key, .. } => {
            assert_eq!(*line, 3, "{msg}");
            assert_eq!(key, "api.lisen", "{msg}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(msg.contains(".toml:3:"), "{msg}");
    assert!(msg.contains("lisen"), "{msg}");
}

#[test]
fn wrong_type_names_key_and_line() {
    let err = load("[store]\n\n[api]\nbody_limit = \"big\"\n", &[]).unwrap_err();
    match &err {
        ConfigError::Parse { line, key, .. } => {
            assert_eq!(*line, 4, "{err}");
            assert_eq!(key, "api.body_limit", "{err}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn bad_toml_syntax_gives_line() {
    let err = load("[api\nlisten = 1\n", &[]).unwrap_err();
    match &err {
        ConfigError::Parse { line, .. } => assert_eq!(*line, 1, "{err}"),
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_section_is_refused() {
    let err = load("[mystery]\nx = 1\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("mystery"), "{err}");
}

#[test]
fn env_overrides_file_with_typed_and_string_values() {
    let c = load(
        "[api]\nbody_limit = 2048\n",
        &[
            ("SEGUR_API__BODY_LIMIT", "4096"),
            ("SEGUR_PSC__CLIENT_SECRET", "1234"),
            ("SEGUR_SANDBOX__ENABLED", "true"),
            ("SEGUR_PKI__AUTH_CLI__PKCS12", "/tmp/a.p12"),
            ("SEGUR_PKI__AUTH_CLI__PASSWORD", "p@ss word"),
            ("SEGUR_API_KEY", "not an override"),
            ("SEGUR_CONFIG", "ignored"),
        ],
    )
    .unwrap();
    assert_eq!(c.api.body_limit, 4096);
    assert_eq!(c.psc.client_secret.unwrap().expose(), "1234");
    assert_eq!(c.sandbox.enabled, Some(true));
    let auth = c.pki.auth_cli.unwrap();
    assert_eq!(auth.password.unwrap().expose(), "p@ss word");
}

#[test]
fn env_override_with_wrong_type_names_variable() {
    let err = load("", &[("SEGUR_API__BODY_LIMIT", "lots")]).unwrap_err();
    match &err {
        ConfigError::Env { var, key, .. } => {
            assert_eq!(var, "SEGUR_API__BODY_LIMIT");
            assert_eq!(key, "api.body_limit");
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = load("", &[("SEGUR_APY__LISTEN", "x")]).unwrap_err();
    assert!(matches!(err, ConfigError::Env { .. }), "{err}");
    let err = load("", &[("SEGUR_API__NOPE", "1")]).unwrap_err();
    assert!(err.to_string().contains("api.nope"), "{err}");
}

#[test]
fn remote_listen_needs_allow_and_tls() {
    let err = load("[api]\nlisten = \"0.0.0.0:8088\"\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("api.listen"));
    let err = load(
        "[api]\nlisten = \"0.0.0.0:8088\"\nallow_remote = true\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("api.tls_cert"));
    let ok = load(
        "[api]\nlisten = \"0.0.0.0:8088\"\nallow_remote = true\ntls_cert = \"a.pem\"\ntls_key = \"k.pem\"\n",
        &[],
    );
    assert!(ok.is_ok());
}

#[test]
fn cert_source_needs_exactly_one_form() {
    let err = load(
        "[pki.auth_cli]\npkcs12 = \"a.p12\"\ncert = \"c.pem\"\n",
        &[],
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("pki.auth_cli"));
    let err = load("[sandbox.ports]\nnope = 1\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("sandbox.ports.nope"));
}

#[test]
fn example_file_is_valid_and_covers_every_section() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("segur.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    for section in [
        "api", "store", "pki", "ins", "psc", "finess", "dmp", "mss", "outbox", "sandbox",
    ] {
        assert!(
            text.contains(&format!("[{section}]")),
            "segur.example.toml lacks [{section}]"
        );
    }
    Config::load(Some(&path), []).unwrap();
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("dist/segur.toml");
    let loaded = Config::load(Some(&dist), []).unwrap();
    assert_eq!(loaded.config.sandbox.enabled, Some(false));
}

#[test]
fn psc_section_is_checked_and_overridable() {
    let c = load(
        "[psc]\nissuer = \"https://auth.example/realms/w\"\nreturn_to_allow = [\"https://dui.example/\"]\n",
        &[
            ("SEGUR_PSC__CLIENT_AUTH", "post"),
            ("SEGUR_PSC__SESSION_IDLE_SECS", "60"),
        ],
    )
    .unwrap();
    assert_eq!(c.psc.client_auth, crate::psc::ClientAuth::Post);
    assert_eq!(c.psc.session_idle_secs, 60);
    assert_eq!(
        (c.psc.scope.as_str(), c.psc.acr.as_str()),
        ("scope_all", "eidas1")
    );
    let err = load("[psc]\nissuer = \"not a url\"\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("psc.issuer"), "{err}");
    let err = load("[psc]\nsession_max_secs = 0\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("psc.session_max_secs"), "{err}");
    let err = load("[psc]\nclient_auth = \"jwt\"\n", &[]).unwrap_err();
    assert_eq!(err.key(), Some("psc.client_auth"), "{err}");
}

#[test]
fn store_url_from_the_environment_is_a_masked_postgres_url() {
    let c = load(
        "",
        &[(
            "SEGUR_STORE__URL",
            "postgres://segur:pw@127.0.0.1:5432/segur",
        )],
    )
    .unwrap();
    c.validate().unwrap();
    let url = c.store.url.as_ref().unwrap();
    assert_eq!(url.expose(), "postgres://segur:pw@127.0.0.1:5432/segur");
    assert!(
        !format!("{c:?}").contains("pw@"),
        "the password stays out of Debug"
    );
    assert!(!toml::to_string(&c).unwrap().contains("pw@"));
    let bad = load("[store]\nurl = \"mysql://x\"\n", &[]).unwrap_err();
    assert_eq!(bad.key(), Some("store.url"));
    assert!(!toml::to_string(&Config::default()).unwrap().contains("url"));
}

#[test]
fn outbox_keys_can_come_from_the_environment() {
    let c = load("", &[("SEGUR_OUTBOX__WORKERS", "7")]).unwrap();
    assert_eq!(c.outbox.workers, 7);
}

//! The vendor examples run against a sandbox daemon: the Rust programs of `examples/` (built by `cargo test`)
//! and the curl scripts of `examples/curl/`.

mod common;

use common::{KEY, sandbox_config, start};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `target/<profile>/examples/<name>`, next to this test's `deps/` directory.
fn example(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let path = exe.parent()?.parent()?.join("examples").join(name);
    path.exists().then_some(path)
}

fn must_have(what: &str) {
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("SEGUR_REQUIRE_EXAMPLES").is_some();
    assert!(!required, "{what} is required in CI");
    eprintln!("SKIPPED: {what} (run the whole `cargo test` to build the examples)");
}

fn check(name: &str, out: &Output, expected: &[&str]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for e in expected {
        assert!(stdout.contains(e), "{name}: {e:?} not in\n{stdout}");
    }
    assert!(
        !stdout.contains("275126322074974"),
        "{name} printed a full INS"
    );
}

#[tokio::test]
async fn rust_examples_and_curl_scripts_run_against_the_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(sandbox_config(dir.path())).await;
    let api = format!("http://{}", d.api_addr);
    let run = |program: &Path, args: &[&str]| {
        let mut c = Command::new(program);
        c.args(args)
            .current_dir(repo())
            .env("SEGUR_API", &api)
            .env("SEGUR_API_KEY", KEY)
            .env_remove("SEGUR_CONFIG");
        let program = program.to_path_buf();
        tokio::task::spawn_blocking(move || {
            c.output()
                .unwrap_or_else(|e| panic!("{}: {e}", program.display()))
        })
    };

    let rust = [
        (
            "qualify_ins",
            &["found → Recup", "INS ***********4974", "→ Qual"][..],
        ),
        (
            "api_client",
            &["INSi search: \"found\"", "after the ID document: \"QUAL\""][..],
        ),
        (
            "push_pps",
            &["version 1", "DMP: \"exists\"", "push: \"done\""][..],
        ),
    ];
    for (name, expected) in rust {
        let Some(bin) = example(name) else {
            must_have(&format!("the example binary {name}"));
            continue;
        };
        let store = dir.path().join(name);
        let args: Vec<&str> = if name == "qualify_ins" {
            vec![store.to_str().unwrap()]
        } else {
            vec![]
        };
        let out = run(&bin, &args).await.unwrap();
        check(name, &out, expected);
    }

    let tools = ["bash", "curl", "jq"];
    if let Some(t) = tools
        .iter()
        .find(|t| Command::new(t).arg("--version").output().is_err())
    {
        must_have(&format!("{t} for examples/curl"));
    } else {
        let scripts = [
            (
                "ins_search.sh",
                &["INSi search: found", "after the ID document: QUAL"][..],
            ),
            ("push_pps.sh", &["DMP: exists", "push: done"][..]),
        ];
        for (name, expected) in scripts {
            let script = repo().join("examples/curl").join(name);
            let out = run(Path::new("bash"), &[script.to_str().unwrap()])
                .await
                .unwrap();
            check(name, &out, expected);
        }
    }
    d.shutdown().await;
}

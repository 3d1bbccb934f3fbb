//! `segur mss xdm|message`: the files integrators inspect.

use std::process::Command;

fn segur(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_segur"))
        .args(args)
        .env_remove("SEGUR_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

#[test]
fn xdm_and_message_of_the_sample() {
    let dir = tempfile::tempdir().unwrap();
    let zip = dir.path().join("IHE_XDM.ZIP");
    let o = segur(&["mss", "xdm", "--sample", zip.to_str().unwrap()]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let docs = segur_gateway::mss::read_package(&std::fs::read(&zip).unwrap(), &Default::default())
        .unwrap();
    assert_eq!(docs.len(), 1);
    assert!(String::from_utf8_lossy(&docs[0].bytes).contains("275126322074974"));

    let eml = dir.path().join("pps.eml");
    let o = segur(&[
        "mss",
        "message",
        "--sample",
        "--to-patient",
        "--out",
        eml.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&eml).unwrap();
    for h in [
        "To: 275126322074974@patient.mssante.fr",
        "X-MSS-MES: FIN",
        "X-MSS-NIL: SANDBOX",
        "X-MSS-INS: O",
        "Disposition-Notification-To: ",
        "Return-Receipt-To: ",
        "filename=\"IHE_XDM.ZIP\"",
    ] {
        assert!(text.contains(h), "{h} missing");
    }
    let o = segur(&["mss", "message", "--out", eml.to_str().unwrap()]);
    assert!(!o.status.success(), "--sample is required");
}

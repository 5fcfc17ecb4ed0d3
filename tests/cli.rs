//! The `ztpd` command line: subcommands and start-up errors.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn ztpd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ztpd"))
}

#[test]
fn check_config_accepts_lab_configuration() {
    let lab = Lab::new();
    let output = ztpd()
        .args(["check-config", "--config"])
        .arg(lab.write_config(""))
        .output()
        .expect("run");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("valid"));
}

#[test]
fn check_config_rejects_key_of_other_certificate() {
    let lab = Lab::new();
    let config = lab.write_config("");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("device.key", "server.key");
    std::fs::write(&config, text).expect("write");
    let output = ztpd()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.key"), "{stderr}");
    assert!(stderr.contains("does not belong"), "{stderr}");
}

#[test]
fn check_config_rejects_misspelt_key_and_level() {
    let lab = Lab::new();
    let config = lab.write_config("");
    let text = std::fs::read_to_string(&config).expect("config");

    std::fs::write(
        &config,
        text.replace("connect-timeout-secs", "connect-timout-secs"),
    )
    .expect("write");
    let output = ztpd()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("connect-timout-secs"));

    std::fs::write(
        &config,
        text.replace("level = \"info,ztpd=debug\"", "level = \"inf\""),
    )
    .expect("write");
    let output = ztpd()
        .args(["check-config", "--config"])
        .arg(&config)
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("\"inf\" is not a level"));
}

#[test]
fn hash_password_reads_one_line() {
    let hash = |input: &str| {
        let mut child = ztpd()
            .arg("hash-password")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .expect("write");
        child.wait_with_output().expect("output")
    };

    let output = hash("secret words\n");
    assert!(output.status.success());
    let phc = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let parsed = argon2::PasswordHash::new(&phc).expect("PHC string");
    use argon2::PasswordVerifier;
    assert!(
        argon2::Argon2::default()
            .verify_password(b"secret words", &parsed)
            .is_ok()
    );

    let output = hash("one\ntwo\n");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("more than one line"));
}

#[test]
fn bind_error_names_address_once() {
    let lab = Lab::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = taken.local_addr().expect("address");
    let config = lab.write_config("");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("127.0.0.1:0", &address.to_string());
    std::fs::write(&config, text).expect("write");
    let output = ztpd().arg("--config").arg(&config).output().expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.contains(&address.to_string()), "{last}");
    assert_eq!(last.matches("os error").count(), 1, "{last}");
}

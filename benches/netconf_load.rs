//! Load figures of the real daemon over NETCONF/SSH on loopback: session
//! set-up, request latency and throughput, commit latency, and the
//! daemon's memory. It also measures the framing decoder's throughput on
//! one large message in both framings.
//!
//! Run with `cargo bench --bench netconf_load`. The daemon is the release
//! build of `ztpd`, started by this tool with a lab configuration in a
//! temporary directory, listening on 127.0.0.1 only. The client is
//! russh in the same process, so client and daemon share the machine's
//! cores and every figure includes the client's cost. Latencies are of
//! one request at a time on one session unless the line's label names
//! more sessions.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use ztpd::netconf::framing::{Decoder, Framing, encode};

/// Sessions opened and closed one after another.
const SESSION_SETUPS: usize = 30;
/// Requests per latency run.
const REQUESTS: usize = 1000;
/// Commits per commit run.
const COMMITS: usize = 200;
/// Concurrent sessions in the throughput run, and requests per session.
const CONCURRENT_SESSIONS: usize = 8;
const REQUESTS_PER_SESSION: usize = 250;
/// Sessions held open at once for the memory reading: most of the
/// default `max-sessions` of 64, leaving room for sessions of the earlier
/// runs that are still closing.
const OPEN_SESSIONS: usize = 60;
/// Size of the message of the framing run.
const LARGE_MESSAGE: usize = 64 * 1024 * 1024;
/// Bytes handed to the decoder at a time, as one SSH channel read might.
const READ_SIZE: usize = 32 * 1024;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("ztpd load figures ({} cores)", cores());
    framing_throughput();
    runtime.block_on(daemon_load());
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Returns the median, 95th and 99th percentile and maximum of `samples`.
fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let at = |fraction: f64| {
        let index = ((samples.len() - 1) as f64 * fraction).round() as usize;
        samples[index]
    };
    format!(
        "p50 {:>8.3} ms  p95 {:>8.3} ms  p99 {:>8.3} ms  max {:>8.3} ms  (n = {})",
        millis(at(0.5)),
        millis(at(0.95)),
        millis(at(0.99)),
        millis(at(1.0)),
        samples.len()
    )
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Decodes one [`LARGE_MESSAGE`] fed in [`READ_SIZE`] pieces, in both
/// framings, and prints the rate.
fn framing_throughput() {
    let body = vec![b'x'; LARGE_MESSAGE];
    for framing in [Framing::EndOfMessage, Framing::Chunked] {
        let mut wire = Vec::with_capacity(LARGE_MESSAGE + 1024);
        encode(framing, &body, &mut wire);
        let started = Instant::now();
        let mut decoder = Decoder::new(framing, LARGE_MESSAGE + 1);
        let mut decoded = 0;
        for piece in wire.chunks(READ_SIZE) {
            decoder.feed(piece);
            while let Some(message) = decoder.next_message().expect("valid framing") {
                decoded += message.len();
            }
        }
        let elapsed = started.elapsed();
        assert_eq!(
            decoded, LARGE_MESSAGE,
            "{framing:?} decoded the whole message"
        );
        println!(
            "framing decode {framing:?}: {} MiB in {:.1} ms = {:.0} MiB/s",
            LARGE_MESSAGE / (1024 * 1024),
            millis(elapsed),
            (LARGE_MESSAGE as f64 / (1024.0 * 1024.0)) / elapsed.as_secs_f64()
        );
    }
}

/// Reads a field of `/proc/PID/status` (`VmRSS`, `VmHWM`) in KiB.
fn memory_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("memory field")
}

fn print_memory(label: &str, pid: u32) {
    println!(
        "memory {label}: VmRSS {} KiB, VmHWM {} KiB",
        memory_kib(pid, "VmRSS"),
        memory_kib(pid, "VmHWM")
    );
}

async fn daemon_load() {
    let lab = Lab::new();
    let config = lab.write_config("");
    // Debug logs would make the figures measure logging. At level info the
    // daemon logs only session starts and ends.
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace("level = \"info,ztpd=debug\"", "level = \"info\"");
    std::fs::write(&config, text).expect("write config");
    let daemon = Daemon::start(&config);
    let pid = daemon.pid();
    print_memory("after start", pid);

    let mut setups = Vec::with_capacity(SESSION_SETUPS);
    for _ in 0..SESSION_SETUPS {
        let started = Instant::now();
        let client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
        setups.push(started.elapsed());
        drop(client);
    }
    println!(
        "session set-up (TCP, SSH, ed25519 key, hellos): {}",
        summary(&mut setups)
    );

    // A full configuration: ten servers, the first of which installs the
    // certificate, so that no download runs during the measurements.
    let server = lab.start_bootstrap_server(None).await;
    let port = server.local_addr().port();
    let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;
    let mut entries = server_entry("127.0.0.1", port, "ztp_policy", None);
    for host in 2..=10 {
        entries.push_str(&server_entry(
            &format!("127.0.9.{host}"),
            1,
            "ztp_policy",
            None,
        ));
    }
    let full = format!("{}{}", policy_config("ztp_policy"), ztp_config(&entries));
    client.edit("candidate", &full).await;
    client.rpc_ok("<commit/>").await;
    client.wait_for_status(&["installed"]).await;
    print_memory("with ten servers and the certificate installed", pid);

    for (label, operation) in [
        (
            "get-config running",
            "<get-config><source><running/></source></get-config>",
        ),
        ("get (configuration and all state)", "<get/>"),
        (
            "get of certificate-remote-state",
            &format!(
                r#"<get><filter type="subtree"><ztp xmlns="{NS_ZTP}"><certificate-remote-state/></ztp></filter></get>"#
            ),
        ),
    ] {
        let mut latencies = Vec::with_capacity(REQUESTS);
        for _ in 0..REQUESTS {
            let started = Instant::now();
            let reply = client.rpc(operation).await;
            latencies.push(started.elapsed());
            assert!(rpc_errors(&reply).is_empty(), "{label}: {reply:?}");
        }
        println!("{label}: {}", summary(&mut latencies));
    }

    // Each commit writes running to disk with fsync. No server uses the
    // policy, so no download round starts.
    let mut commits = Vec::with_capacity(COMMITS);
    for round in 0..COMMITS {
        let edit = if round % 2 == 0 {
            policy_config("bench_policy")
        } else {
            format!(
                r#"<ssl xmlns="{NS_SSL}"><ssl-policies><ssl-policy xmlns:nc="{NS_BASE}" nc:operation="delete"><policy-name>bench_policy</policy-name></ssl-policy></ssl-policies></ssl>"#
            )
        };
        let started = Instant::now();
        let reply = client.edit("candidate", &edit).await;
        assert!(rpc_errors(&reply).is_empty(), "{reply:?}");
        client.rpc_ok("<commit/>").await;
        commits.push(started.elapsed());
    }
    println!(
        "edit-config candidate + commit (persisted): {}",
        summary(&mut commits)
    );

    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..CONCURRENT_SESSIONS {
        let address = daemon.address;
        let key = lab.client_key.clone();
        workers.push(tokio::spawn(async move {
            let mut session = Netconf::connect(address, Login::Key(&key), true).await;
            for _ in 0..REQUESTS_PER_SESSION {
                session
                    .rpc("<get-config><source><running/></source></get-config>")
                    .await;
            }
        }));
    }
    for worker in workers {
        worker.await.expect("worker");
    }
    let elapsed = started.elapsed();
    let total = CONCURRENT_SESSIONS * REQUESTS_PER_SESSION;
    println!(
        "get-config on {CONCURRENT_SESSIONS} sessions at once: {total} requests in {:.2} s = {:.0} requests/s (including set-up)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );

    drop(client);
    let mut open = Vec::with_capacity(OPEN_SESSIONS);
    for _ in 0..OPEN_SESSIONS {
        open.push(Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await);
    }
    // Sessions register asynchronously after their hello.
    tokio::time::sleep(Duration::from_millis(500)).await;
    print_memory(&format!("with {OPEN_SESSIONS} sessions open"), pid);
    drop(open);
    tokio::time::sleep(Duration::from_millis(500)).await;
    print_memory("after those sessions closed", pid);

    server.shutdown().await;
    assert!(daemon.stop().success(), "the daemon stopped cleanly");
}

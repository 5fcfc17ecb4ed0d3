//! Downloads through VPN instances: the real daemon binds the connection to
//! the Linux network device named by `vpn-instance` (`SO_BINDTODEVICE`), and
//! a VRF device makes that connection use the VRF's routing table.
//!
//! Each test that needs devices builds a network namespace of its own
//! (`ip netns add ztpd-test-<random>`) holding the devices and the address
//! 198.51.100.1, from a documentation range (RFC 5737), which exist only
//! there. A thread of the test enters the namespace with setns(2) and runs
//! the lab bootstrap server, the daemon and the NETCONF client in it: the
//! daemon, a child process, inherits the thread's network namespace. Where
//! the machine does not allow a setup (no `ip`, a missing capability, no
//! kernel support for a device type), the test prints what is missing and
//! skips. The namespace is deleted when the test ends, also on failure.

mod common;

use std::fs::File;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::AsRawFd as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use russh::keys::PrivateKey;
use russh::keys::ssh_key::private::Ed25519Keypair;
use ztpd::lab::pki::LabPki;
use ztpd::lab::server::{LabServer, LabServerHandle, LabServerSettings};
use ztpd::netconf::xml::Element;

/// Address of the lab server inside the namespace.
const DEVICE_ADDRESS: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
/// The device address with its prefix length, as `ip address add` takes it.
const DEVICE_PREFIX: &str = "198.51.100.1/24";

/// Name of the VRF device, which is the VPN instance name.
const VRF: &str = "ztp-blue";
/// Routing table of the VRF. The namespace is new, so any free number works.
const VRF_TABLE: &str = "100";
/// The veth device enslaved to the VRF, which carries [`DEVICE_ADDRESS`].
const VRF_PORT: &str = "blue-port";
/// The other end of [`VRF_PORT`].
const VRF_PORT_PEER: &str = "blue-peer";

/// The veth device that carries [`DEVICE_ADDRESS`] in the test without VRF.
const UP_DEVICE: &str = "ztp-up";
/// Its peer, left down, so that no route leaves through it.
const DOWN_DEVICE: &str = "ztp-down";

/// Linux capability numbers (`include/uapi/linux/capability.h`).
const CAP_NET_ADMIN: u32 = 12;
const CAP_SYS_ADMIN: u32 = 21;

/// A VPN instance through a VRF reaches the VRF's address, which the public
/// network does not.
#[test]
fn vrf_download_succeeds() {
    let namespace = match prepare_namespace() {
        Ok(namespace) => namespace,
        Err(reason) => return skip("vrf_download_succeeds", &reason),
    };
    if let Err(reason) = namespace.ip(&["link", "add", VRF, "type", "vrf", "table", VRF_TABLE]) {
        return skip(
            "vrf_download_succeeds",
            &format!("the kernel has no VRF device type (CONFIG_NET_VRF): {reason}"),
        );
    }
    if let Err(reason) = namespace.add_veth(VRF_PORT, VRF_PORT_PEER) {
        return skip("vrf_download_succeeds", &reason);
    }
    namespace.must_ip(&["link", "set", VRF_PORT, "master", VRF]);
    namespace.must_ip(&["address", "add", DEVICE_PREFIX, "dev", VRF_PORT]);
    for device in ["lo", VRF, VRF_PORT, VRF_PORT_PEER] {
        namespace.must_ip(&["link", "set", device, "up"]);
    }

    let outcome = namespace.run(async {
        let lab = device_lab();
        // The address is in the VRF's table only, so the server's socket
        // must be bound to the VRF to listen on it.
        let server = start_lab_server(&lab, Some(VRF)).await;
        let port = server.local_addr().port();
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let entries = format!(
            "{}{}",
            server_entry_in("_public_", port),
            server_entry_in(VRF, port)
        );
        let state = configure_and_wait(&mut client, &entries).await;
        assert_installed_from(&state, &lab, VRF);

        let servers = servers(&state);
        assert_eq!(servers.len(), 2, "{state:?}");
        assert_server(
            servers[0],
            "_public_",
            "failed",
            Some("connect-failed"),
            &[
                &format!("bootstrap server {DEVICE_ADDRESS}:{port}: connecting failed"),
                // Without the VRF no route leads to its address.
                "Network is unreachable",
            ],
        );
        assert_server(servers[1], VRF, "succeeded", None, &[]);

        drop(client);
        assert!(daemon.stop().success());
        server.shutdown().await;
    });
    if let Err(reason) = outcome {
        skip("vrf_download_succeeds", &reason);
    }
}

/// The VPN instance selects the device the connection leaves through: a
/// device that is down cannot reach the server, the device with the route
/// can. This needs no VRF support, so it runs where the test above skips.
#[test]
fn device_binding_selects_route() {
    let namespace = match prepare_namespace() {
        Ok(namespace) => namespace,
        Err(reason) => return skip("device_binding_selects_route", &reason),
    };
    if let Err(reason) = namespace.add_veth(UP_DEVICE, DOWN_DEVICE) {
        return skip("device_binding_selects_route", &reason);
    }
    namespace.must_ip(&["address", "add", DEVICE_PREFIX, "dev", UP_DEVICE]);
    for device in ["lo", UP_DEVICE] {
        namespace.must_ip(&["link", "set", device, "up"]);
    }

    let outcome = namespace.run(async {
        let lab = device_lab();
        let server = start_lab_server(&lab, None).await;
        let port = server.local_addr().port();
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let entries = format!(
            "{}{}",
            server_entry_in(DOWN_DEVICE, port),
            server_entry_in(UP_DEVICE, port)
        );
        let state = configure_and_wait(&mut client, &entries).await;
        assert_installed_from(&state, &lab, UP_DEVICE);

        let servers = servers(&state);
        assert_eq!(servers.len(), 2, "{state:?}");
        assert_server(
            servers[0],
            DOWN_DEVICE,
            "failed",
            Some("connect-failed"),
            &[
                &format!(
                    "bootstrap server {DEVICE_ADDRESS}:{port} in VPN instance {DOWN_DEVICE}: connecting failed"
                ),
                "Network is unreachable",
            ],
        );
        assert_server(servers[1], UP_DEVICE, "succeeded", None, &[]);

        drop(client);
        assert!(daemon.stop().success());
        server.shutdown().await;
    });
    if let Err(reason) = outcome {
        return skip("device_binding_selects_route", &reason);
    }

    let path = namespace.path();
    drop(namespace);
    assert!(!path.exists(), "{} is left behind", path.display());
}

/// A VPN instance without a network device fails before connecting, and
/// the next server is tried. This needs no namespace.
#[tokio::test]
async fn missing_device_is_vpn_instance_not_found() {
    with_timeout(async {
        let lab = Lab::new();
        let server = lab.start_bootstrap_server(None).await;
        let port = server.local_addr().port();
        let daemon = Daemon::start(&lab.write_config(""));
        let mut client = Netconf::connect(daemon.address, Login::Key(&lab.client_key), true).await;

        let missing = "ztpd-no-dev0";
        let entries = format!(
            "{}{}",
            vpn_server_entry("127.0.0.1", missing, port),
            vpn_server_entry("127.0.0.1", "_public_", port)
        );
        let state = configure_and_wait(&mut client, &entries).await;
        assert_eq!(
            text(&state, &["certificate-status"]).as_deref(),
            Some("installed"),
            "{state:?}"
        );
        let servers = servers(&state);
        assert_eq!(servers.len(), 2, "{state:?}");
        assert_server(
            servers[0],
            missing,
            "failed",
            Some("vpn-instance-not-found"),
            &[&format!(
                "bootstrap server 127.0.0.1:{port} in VPN instance {missing}: VPN instance \"{missing}\" has no network device of that name"
            )],
        );
        assert_server(servers[1], "_public_", "succeeded", None, &[]);

        drop(client);
        assert!(daemon.stop().success());
        server.shutdown().await;
    })
    .await;
}

fn skip(test: &str, reason: &str) {
    eprintln!("skipping {test}: {reason}");
}

/// A network namespace that this test created. Dropping it deletes it.
struct NetworkNamespace {
    name: String,
}

impl NetworkNamespace {
    fn create() -> Result<NetworkNamespace, String> {
        let name = format!("ztpd-test-{:08x}", rand::random::<u32>());
        run_ip(&["netns", "add", &name])
            .map_err(|err| format!("creating a network namespace failed: {err}"))?;
        Ok(NetworkNamespace { name })
    }

    /// Returns the file through which `ip netns` keeps the namespace alive.
    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `ip` with `args` inside the namespace.
    fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ip(&full)
    }

    fn must_ip(&self, args: &[&str]) {
        if let Err(err) = self.ip(args) {
            panic!("ip {} in {} failed: {err}", args.join(" "), self.name);
        }
    }

    fn add_veth(&self, name: &str, peer: &str) -> Result<(), String> {
        self.ip(&["link", "add", name, "type", "veth", "peer", "name", peer])
            .map_err(|err| format!("the kernel has no veth device type (CONFIG_VETH): {err}"))
    }

    /// Runs `test` on a thread that entered the namespace, with a tokio
    /// runtime of that thread. Returns the reason when the thread cannot
    /// enter the namespace, and panics when `test` panics.
    fn run<F>(&self, test: F) -> Result<(), String>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let path = self.path();
        let thread = std::thread::spawn(move || -> Result<(), String> {
            enter_namespace(&path)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            runtime.block_on(with_timeout(test));
            Ok(())
        });
        match thread.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for NetworkNamespace {
    fn drop(&mut self) {
        if let Err(err) = run_ip(&["netns", "delete", &self.name]) {
            eprintln!("deleting network namespace {} failed: {err}", self.name);
        }
    }
}

/// Checks what a namespace with devices needs and creates the namespace.
/// The error is the reason to skip.
fn prepare_namespace() -> Result<NetworkNamespace, String> {
    if let Err(err) = Command::new("ip").arg("-V").output() {
        return Err(format!(
            "iproute2 is missing: running `ip` failed: {err}; scripts/setup.sh installs it"
        ));
    }
    let effective = effective_capabilities()?;
    let needed = [
        (
            CAP_SYS_ADMIN,
            "CAP_SYS_ADMIN is missing: `ip netns add` needs it to mount the namespace, and setns(2) to enter it",
        ),
        (
            CAP_NET_ADMIN,
            "CAP_NET_ADMIN is missing: creating network devices needs it",
        ),
    ];
    for (bit, reason) in needed {
        if effective & (1 << bit) == 0 {
            return Err(reason.to_owned());
        }
    }
    NetworkNamespace::create()
}

/// Reads the effective capability set of this process.
fn effective_capabilities() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status")
        .map_err(|err| format!("cannot read /proc/self/status: {err}"))?;
    let hex = status
        .lines()
        .find_map(|line| line.strip_prefix("CapEff:"))
        .ok_or("/proc/self/status has no CapEff line")?;
    u64::from_str_radix(hex.trim(), 16).map_err(|err| format!("invalid CapEff {hex:?}: {err}"))
}

fn run_ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|err| format!("running ip failed: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` exited with {}: {}",
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// Moves the calling thread into the network namespace at `path`.
fn enter_namespace(path: &Path) -> Result<(), String> {
    let file = File::open(path).map_err(|err| format!("cannot open {}: {err}", path.display()))?;
    // SAFETY: setns(2) only reads the descriptor, which `file` keeps open
    // for the call, and changes the network namespace of this thread only.
    let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if result != 0 {
        return Err(format!(
            "setns(2) into {} failed: {}",
            path.display(),
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Creates a lab whose server certificate and store name [`DEVICE_ADDRESS`].
fn device_lab() -> Lab {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pki = LabPki::generate(ESN, &[IpAddr::V4(DEVICE_ADDRESS)]).expect("lab PKI");
    pki.write_to(&dir.path().join("pki"))
        .expect("write lab PKI");
    let keypair = Ed25519Keypair::from_seed(&rand::random::<[u8; 32]>());
    let client_key = PrivateKey::new(keypair.into(), "vrf test").expect("client key");
    Lab {
        dir,
        pki,
        client_key,
    }
}

/// Starts the lab server on [`DEVICE_ADDRESS`], bound to `device` if given.
async fn start_lab_server(lab: &Lab, device: Option<&str>) -> LabServerHandle {
    let pki = lab.pki_dir();
    let read = |name: &str| std::fs::read_to_string(pki.join(name)).expect("lab PKI file");
    let settings = LabServerSettings {
        listen: SocketAddr::new(IpAddr::V4(DEVICE_ADDRESS), 0),
        cert_pem: read("server.pem"),
        key_pem: read("server.key"),
        client_ca_pem: Some(read("vendor-ca.pem")),
        store_dir: pki.join("store"),
        fault: None,
    };
    let bound = match device {
        Some(device) => LabServer::bind_to_device(settings, device).await,
        None => LabServer::bind(settings).await,
    };
    bound.expect("bind the lab server").spawn()
}

/// Returns a `certificate-remote` entry for the lab server at
/// [`DEVICE_ADDRESS`].
fn server_entry_in(vpn_instance: &str, port: u16) -> String {
    vpn_server_entry(&DEVICE_ADDRESS.to_string(), vpn_instance, port)
}

fn vpn_server_entry(address: &str, vpn_instance: &str, port: u16) -> String {
    format!(
        "<certificate-remote><address>{address}</address><vpn-instance>{vpn_instance}</vpn-instance><port>{port}</port><ssl-policy>ztp_policy</ssl-policy></certificate-remote>"
    )
}

/// Commits the lab SSL policy and `entries` to running and waits for the
/// download to end. Returns `certificate-remote-state`.
async fn configure_and_wait(client: &mut Netconf, entries: &str) -> Element {
    let config = format!("{}{}", policy_config("ztp_policy"), ztp_config(entries));
    let reply = client.edit("running", &config).await;
    assert!(rpc_errors(&reply).is_empty(), "{reply:?}");
    client.wait_for_status(&["installed", "failed"]).await
}

fn servers(state: &Element) -> Vec<&Element> {
    state
        .children
        .iter()
        .filter(|child| child.name == "server")
        .collect()
}

/// Asserts that the lab NCE CA is installed from [`DEVICE_ADDRESS`] in
/// `vpn_instance`.
fn assert_installed_from(state: &Element, lab: &Lab, vpn_instance: &str) {
    assert_eq!(
        text(state, &["certificate-status"]).as_deref(),
        Some("installed"),
        "{state:?}"
    );
    assert_eq!(
        text(state, &["certificate", "fingerprint-sha256"]),
        Some(lab.nce_fingerprint())
    );
    assert_eq!(
        text(state, &["certificate", "source-address"]),
        Some(DEVICE_ADDRESS.to_string())
    );
    assert_eq!(
        text(state, &["certificate", "source-vpn-instance"]).as_deref(),
        Some(vpn_instance)
    );
}

/// Asserts one `server` entry: its VPN instance, status, `last-error` and
/// texts of `last-error-message`.
fn assert_server(
    server: &Element,
    vpn_instance: &str,
    status: &str,
    last_error: Option<&str>,
    message_parts: &[&str],
) {
    assert_eq!(
        text(server, &["vpn-instance"]).as_deref(),
        Some(vpn_instance),
        "{server:?}"
    );
    assert_eq!(
        text(server, &["status"]).as_deref(),
        Some(status),
        "{server:?}"
    );
    assert_eq!(
        text(server, &["attempts"]).as_deref(),
        Some("1"),
        "{server:?}"
    );
    assert_eq!(
        text(server, &["last-error"]).as_deref(),
        last_error,
        "{server:?}"
    );
    let message = text(server, &["last-error-message"]).unwrap_or_default();
    for part in message_parts {
        assert!(
            message.contains(part),
            "the message does not contain {part:?}: {message}"
        );
    }
}

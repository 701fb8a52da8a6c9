//! `check-config` on large files: the memory it takes stays proportional to
//! the file, under ten times its size, whatever shape the file has (one
//! instance with a million addresses, thousands of instances, the shortest
//! address lines). The peak resident size is the child's own, from `wait4`.
//! No network, no root needed.

use std::fmt::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use tests::agent_bin;

/// What `check-config` printed and its peak resident size.
struct Checked {
    status: std::process::ExitStatus,
    stderr: String,
    max_rss_bytes: u64,
}

// The child is reaped by wait4, which also gives its resource usage.
#[allow(clippy::zombie_processes)]
fn check_config(path: &Path) -> Checked {
    let stderr_path = path.with_extension("stderr");
    let stderr_file = std::fs::File::create(&stderr_path).expect("stderr file");
    let child = Command::new(agent_bin())
        .args(["check-config", "--config"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr_file)
        .spawn()
        .expect("starting vip-agent check-config");
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (Child::wait is never
    // called); `status` and `usage` are valid for writes.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    let stderr = std::fs::read_to_string(&stderr_path).expect("reading stderr");
    Checked {
        status: std::process::ExitStatus::from_raw(status),
        stderr,
        // ru_maxrss is in KiB on Linux.
        max_rss_bytes: usage.ru_maxrss as u64 * 1024,
    }
}

/// Writes `text` to a fresh file in a directory removed when dropped.
struct ConfigFile {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
    size: u64,
}

impl ConfigFile {
    fn new(name: &str, text: &str) -> Self {
        let dir =
            std::env::temp_dir().join(format!("vip-config-memory-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, text).expect("writing the configuration");
        ConfigFile {
            dir,
            size: text.len() as u64,
            path,
        }
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ipv4(index: u32) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(0x0a00_0000 + index)
}

/// Asserts the file is accepted and its peak memory is under ten times its
/// size; prints the ratio for the log.
fn assert_proportional(file: &ConfigFile, expect_in_stderr: &str) {
    let checked = check_config(&file.path);
    assert!(
        checked.status.success(),
        "check-config failed: {}",
        checked
            .stderr
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        checked.stderr.contains(expect_in_stderr),
        "expected {expect_in_stderr:?} in: {}",
        checked
            .stderr
            .lines()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let ratio = checked.max_rss_bytes as f64 / file.size as f64;
    println!(
        "{}: {} bytes, peak RSS {} bytes, {ratio:.1}x",
        file.path.display(),
        file.size,
        checked.max_rss_bytes
    );
    assert!(
        checked.max_rss_bytes < 10 * file.size,
        "check-config of a {} byte file peaked at {} bytes ({ratio:.1}x its size)",
        file.size,
        checked.max_rss_bytes
    );
}

#[test]
fn one_instance_with_a_million_addresses() {
    let mut text = String::from(
        "vrrp_instance VI_1 {\n  state MASTER\n  interface eth0\n  virtual_router_id 51\n  \
         priority 100\n  virtual_ipaddress {\n",
    );
    for index in 0..1_000_000 {
        let _ = writeln!(text, "    {}/32", ipv4(index));
    }
    text.push_str("  }\n}\n");
    let file = ConfigFile::new("one-instance", &text);
    // Past 255 the addresses are moved to the excluded ones, as keepalived does.
    assert_proportional(
        &file,
        "999745 from here on are moved to virtual_ipaddress_excluded",
    );
}

#[test]
fn thousands_of_instances() {
    let mut text = String::new();
    for instance in 0..12_000u32 {
        let _ = write!(
            text,
            "vrrp_instance VI_{instance} {{\n  state BACKUP\n  interface eth{}\n  \
             virtual_router_id {}\n  priority 100\n  virtual_ipaddress {{\n",
            instance / 255,
            instance % 255 + 1
        );
        for address in 0..80 {
            let _ = writeln!(text, "    {}/32", ipv4(instance * 80 + address));
        }
        text.push_str("  }\n}\n");
    }
    let file = ConfigFile::new("instances", &text);
    assert_proportional(&file, "");
}

#[test]
fn the_shortest_address_lines() {
    let mut text =
        String::from("vrrp_instance A {\ninterface e\nvirtual_router_id 1\nvirtual_ipaddress {\n");
    for index in 0..1_500_000 {
        // 1.0.0.0 and up: seven to eleven bytes a line, no prefix, no indent.
        let _ = writeln!(text, "{}", std::net::Ipv4Addr::from(0x0100_0000 + index));
    }
    text.push_str("}\n}\n");
    let file = ConfigFile::new("short-lines", &text);
    assert_proportional(&file, "moved to virtual_ipaddress_excluded");
}

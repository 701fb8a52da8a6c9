//! One network namespace and the commands that act inside it.

use std::{
    ffi::OsStr,
    fs,
    os::fd::AsFd,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use crate::{ip, run, Error, Result, NETNS_DIR};

/// A network namespace a [`crate::Lab`] created (and deletes).
#[derive(Debug)]
pub struct Netns {
    pub name: String,
}

impl Netns {
    /// `ip netns add NAME` with its loopback up.
    pub(crate) fn create(name: String) -> Result<Self> {
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    pub fn path(&self) -> PathBuf {
        Path::new(NETNS_DIR).join(&self.name)
    }

    /// `ip -n NS ARGS`
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// A command that runs inside this network namespace only (`nsenter
    /// --net`): the mount namespace stays the host's, so the bpffs pins a
    /// process makes are visible to `bpftool` and to the caller.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg(format!("--net={}", self.path().display()))
            .arg("--")
            .arg(program);
        cmd
    }

    /// Runs `program args` in the namespace, failing on a non-zero exit.
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        run(self.command(program).args(args))
    }

    /// Runs `f` on a thread that has entered this namespace (sockets it
    /// opens live there) and returns what it returned.
    pub fn in_thread<T, E>(&self, f: impl FnOnce() -> Result<T, E> + Send + 'static) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<Error> + Send + 'static,
    {
        let path = self.path();
        let file = fs::File::open(&path).map_err(|source| Error::Io {
            what: format!("opening {}", path.display()),
            source,
        })?;
        let name = self.name.clone();
        let thread_name = name.clone();
        std::thread::spawn(move || {
            nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).map_err(
                |source| Error::Setns {
                    namespace: thread_name,
                    source,
                },
            )?;
            f()
        })
        .join()
        .map_err(|_| Error::ThreadPanicked(name))?
    }

    /// `sysctl -w KEY=VALUE` in this namespace (net.* keys are per namespace).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")])?;
        Ok(())
    }

    /// `ip -j link show dev INTERFACE`, the one link it lists.
    fn link(&self, interface: &str) -> Result<serde_json::Value> {
        let out = self.ip(&["-j", "link", "show", "dev", interface])?;
        let json: serde_json::Value =
            serde_json::from_slice(&out.stdout).map_err(|error| self.unexpected(error))?;
        Ok(json[0].clone())
    }

    fn unexpected(&self, detail: impl std::fmt::Display) -> Error {
        Error::Output {
            command: format!("ip -n {} -j link", self.name),
            detail: detail.to_string(),
        }
    }

    pub fn ifindex(&self, interface: &str) -> Result<u32> {
        self.link(interface)?["ifindex"]
            .as_u64()
            .map(|i| i as u32)
            .ok_or_else(|| self.unexpected(format!("no ifindex for {interface}")))
    }

    pub fn mac(&self, interface: &str) -> Result<[u8; 6]> {
        let link = self.link(interface)?;
        let text = link["address"]
            .as_str()
            .ok_or_else(|| self.unexpected(format!("no address for {interface}")))?;
        let mut mac = [0u8; 6];
        let mut parts = text.split(':');
        for byte in &mut mac {
            *byte = parts
                .next()
                .and_then(|part| u8::from_str_radix(part, 16).ok())
                .ok_or_else(|| self.unexpected(format!("MAC {text}")))?;
        }
        Ok(mac)
    }

    /// Every process in this namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.name])
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|pid| pid.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

//! One agent per pid file, per bpffs directory and per (interface, VRID,
//! family): each is claimed before the run touches anything, so a second
//! `vip-agent run` that would share one with a live agent refuses in one
//! line and leaves the live agent and its files exactly as they were. The
//! kernel drops every claim when its process dies, so a crashed agent's
//! successor finds them free.

use std::{
    collections::BTreeMap,
    fs::File,
    io::Write,
    os::{
        linux::net::SocketAddrExt,
        unix::net::{SocketAddr, UnixListener},
    },
    path::{Path, PathBuf},
};

use nix::fcntl::{Flock, FlockArg};
use thiserror::Error;

use crate::config::{AddressFamily, Config};

#[derive(Debug, Error)]
pub enum OwnershipError {
    #[error("another agent (pid {pid}) runs with pid file {path}: not starting", pid = pid.as_deref().unwrap_or("?"))]
    PidFileHeld { path: PathBuf, pid: Option<String> },
    #[error("another agent runs with bpffs directory {0}: not starting (give each agent its own --bpffs-dir)")]
    PinDirHeld(PathBuf),
    #[error("another agent in this network namespace runs VRID {vrid} ({family}) on {interface}: {context}")]
    InstanceHeld {
        interface: String,
        vrid: u8,
        family: AddressFamily,
        context: &'static str,
    },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

fn io<'a>(
    what: &'static str,
    path: &'a Path,
) -> impl FnOnce(std::io::Error) -> OwnershipError + 'a {
    move |source| OwnershipError::Io {
        what,
        path: path.to_path_buf(),
        source,
    }
}

/// Takes an exclusive lock on `file` without waiting; `None` when another
/// process holds it.
fn try_lock(file: File) -> Result<Option<Flock<File>>, std::io::Error> {
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => Ok(Some(locked)),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, errno)) => Err(errno.into()),
    }
}

/// The pid file, locked for as long as the agent runs and removed after.
pub struct PidFile {
    path: PathBuf,
    _file: Flock<File>,
}

impl PidFile {
    /// Locks `path` (created if missing, its content kept until the lock is
    /// ours) and writes this process's pid into it.
    pub fn claim(path: &Path) -> Result<Self, OwnershipError> {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io("opening pid file", path))?;
        let Some(mut file) = try_lock(file).map_err(io("locking pid file", path))? else {
            let pid = std::fs::read_to_string(path)
                .ok()
                .map(|text| text.trim().to_string())
                .filter(|pid| !pid.is_empty());
            return Err(OwnershipError::PidFileHeld {
                path: path.to_path_buf(),
                pid,
            });
        };
        file.set_len(0).map_err(io("writing pid file", path))?;
        writeln!(*file, "{}", std::process::id()).map_err(io("writing pid file", path))?;
        Ok(Self {
            path: path.to_path_buf(),
            _file: file,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Removed while still locked: a new agent that opens the path after
        // this creates a fresh file.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The bpffs directory, locked for as long as the agent runs.
pub struct PinDirLock {
    _dir: Flock<File>,
    /// The directory, when this claim created it.
    created: Option<PathBuf>,
}

impl PinDirLock {
    /// Creates `dir` if missing and locks it. A directory this call created
    /// is removed again when the lock is refused.
    pub fn claim(dir: &Path) -> Result<Self, OwnershipError> {
        let created = !dir.exists();
        std::fs::create_dir_all(dir).map_err(io("creating bpffs directory", dir))?;
        let locked = File::open(dir)
            .and_then(try_lock)
            .map_err(io("locking bpffs directory", dir));
        match locked {
            Ok(Some(locked)) => Ok(Self {
                _dir: locked,
                created: created.then(|| dir.to_path_buf()),
            }),
            refused => {
                if created {
                    let _ = std::fs::remove_dir(dir);
                }
                Err(refused
                    .err()
                    .unwrap_or_else(|| OwnershipError::PinDirHeld(dir.to_path_buf())))
            }
        }
    }

    /// The run did not start: a directory it created goes again (if empty).
    pub fn abandon(self) {
        if let Some(dir) = &self.created {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// What one instance claims: its VRRP router on one interface.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct RouterKey {
    pub interface: String,
    pub vrid: u8,
    pub family: AddressFamily,
}

impl RouterKey {
    /// The abstract socket name standing for the claim. Abstract names live
    /// in the network namespace, which is exactly an interface name's scope.
    fn socket_name(&self) -> String {
        format!(
            "vip-agent/router/{}/{}/{}",
            self.interface, self.vrid, self.family
        )
    }
}

/// Every router key of `config`.
pub fn router_keys(config: &Config) -> Vec<RouterKey> {
    let mut keys: Vec<RouterKey> = config
        .instances
        .iter()
        .map(|i| RouterKey {
            interface: i.interface.clone(),
            vrid: i.virtual_router_id,
            family: i.family,
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The routers this agent runs, each held by an abstract Unix socket bound
/// in this network namespace.
#[derive(Default)]
pub struct RouterClaims {
    held: BTreeMap<RouterKey, UnixListener>,
}

impl RouterClaims {
    fn bind(key: &RouterKey) -> std::io::Result<UnixListener> {
        let address = SocketAddr::from_abstract_name(key.socket_name())?;
        UnixListener::bind_addr(&address)
    }

    /// Claims exactly `keys`: new ones are bound, ones no longer wanted are
    /// released. Nothing changes when any new key is held elsewhere.
    pub fn set(&mut self, keys: &[RouterKey], context: &'static str) -> Result<(), OwnershipError> {
        let mut fresh = BTreeMap::new();
        for key in keys.iter().filter(|k| !self.held.contains_key(*k)) {
            match Self::bind(key) {
                Ok(listener) => {
                    fresh.insert(key.clone(), listener);
                }
                Err(err) if err.kind() == std::io::ErrorKind::AddrInUse => {
                    return Err(OwnershipError::InstanceHeld {
                        interface: key.interface.clone(),
                        vrid: key.vrid,
                        family: key.family,
                        context,
                    })
                }
                Err(source) => {
                    return Err(OwnershipError::Io {
                        what: "claiming VRRP router",
                        path: PathBuf::from(key.socket_name()),
                        source,
                    })
                }
            }
        }
        self.held.retain(|key, _| keys.contains(key));
        self.held.extend(fresh);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(interface: &str, vrid: u8) -> RouterKey {
        RouterKey {
            interface: interface.to_string(),
            vrid,
            family: AddressFamily::Ipv4,
        }
    }

    /// A name no other test or agent uses: these run in the test's own
    /// network namespace, where only abstract names are touched.
    fn unique(interface: &str) -> String {
        format!("{interface}-{}", std::process::id())
    }

    #[test]
    fn a_router_claimed_once_cannot_be_claimed_again_until_released() {
        let eth = unique("claims-a");
        let mut first = RouterClaims::default();
        let mut second = RouterClaims::default();
        first.set(&[key(&eth, 1), key(&eth, 2)], "test").unwrap();
        let err = second
            .set(&[key(&eth, 3), key(&eth, 2)], "test")
            .unwrap_err();
        assert!(
            err.to_string().contains(&format!("VRID 2 (IPv4) on {eth}")),
            "{err}"
        );
        // The failed call claimed nothing, not even the free VRID 3.
        assert!(second.held.is_empty());
        first.set(&[key(&eth, 1)], "test").unwrap();
        second.set(&[key(&eth, 3), key(&eth, 2)], "test").unwrap();
    }

    #[test]
    fn a_pid_file_is_held_by_one_claim_and_removed_after_it() {
        let dir = std::env::temp_dir().join(unique("vip-agent-pidfile"));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("agent.pid");
        let held = PidFile::claim(&path).unwrap();
        let err = PidFile::claim(&path).err().expect("second claim refused");
        assert!(
            err.to_string()
                .contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(held);
        assert!(!path.exists());
        std::fs::remove_dir(&dir).unwrap();
    }

    #[test]
    fn a_directory_is_held_by_one_claim() {
        let dir = std::env::temp_dir().join(unique("vip-agent-pindir"));
        std::fs::create_dir_all(&dir).unwrap();
        let held = PinDirLock::claim(&dir).unwrap();
        assert!(matches!(
            PinDirLock::claim(&dir),
            Err(OwnershipError::PinDirHeld(_))
        ));
        drop(held);
        PinDirLock::claim(&dir).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}

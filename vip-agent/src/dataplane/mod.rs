//! The XDP fast path seen from userspace: load the embedded object, attach it
//! to the agent's interfaces, pin its maps under the agent's bpffs directory
//! (so `bpftool map dump pinned ...` works), read its counters, and take it
//! all down again.

mod xdp_mode;

use std::{
    collections::BTreeMap,
    fs,
    path::{Path, PathBuf},
};

use aya::{
    maps::{MapData, PerCpuHashMap},
    programs::{Xdp, XdpMode},
    Ebpf,
};
use thiserror::Error;
use vip_common::{VrrpKey, VrrpStats, MAP_VRRP_STATS, PROGRAM_NAME};

pub use xdp_mode::{resolve_xdp_mode, XdpModeChoice};

/// The XDP object built for this binary (see build.rs).
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(env!("VIP_AGENT_EBPF_OBJECT"));

/// Every map the program defines; each is pinned under the bpffs directory
/// with this name.
pub const PINNED_MAPS: &[&str] = &[MAP_VRRP_STATS];

#[derive(Debug, Error)]
pub enum DataplaneError {
    #[error("loading the XDP object: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("the XDP object has no program `{0}`")]
    MissingProgram(&'static str),
    #[error("the XDP object has no map `{0}`")]
    MissingMap(&'static str),
    #[error("XDP program: {0}")]
    Program(#[from] aya::programs::ProgramError),
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        source: aya::maps::MapError,
    },
    #[error("pinning {path}: {source}")]
    Pin {
        path: PathBuf,
        source: aya::pin::PinError,
    },
    #[error("bpffs directory {path}: {source}")]
    PinDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{0} is not on a bpf filesystem: mount one (`mount -t bpf bpf /sys/fs/bpf`); \
         note that `ip netns exec` hides the host's /sys/fs/bpf, use \
         `nsenter --net=/run/netns/NAME` to enter only the network namespace"
    )]
    NotBpffs(PathBuf),
    #[error("interface {0} does not exist")]
    UnknownInterface(String),
    #[error("attaching XDP to {interface} in {mode:?} mode: {source}")]
    Attach {
        interface: String,
        mode: XdpModeChoice,
        source: aya::programs::ProgramError,
    },
}

/// One attachment of the program.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub interface: String,
    pub ifindex: u32,
    pub mode: XdpModeChoice,
}

/// The loaded program, its pinned maps and its attachments. Dropping it
/// detaches the program (the kernel links die with their file descriptors);
/// [`Dataplane::shutdown`] also removes the pins.
pub struct Dataplane {
    ebpf: Ebpf,
    pin_dir: PathBuf,
    vrrp_stats: PerCpuHashMap<MapData, VrrpKey, VrrpStats>,
    attachments: Vec<(Attachment, aya::programs::xdp::XdpLinkId)>,
}

/// Removes the pins a previous run left behind (a crashed agent cannot unpin).
pub fn remove_stale_pins(pin_dir: &Path) -> Result<Vec<PathBuf>, DataplaneError> {
    let mut removed = Vec::new();
    for name in PINNED_MAPS {
        let path = pin_dir.join(name);
        if path.exists() {
            fs::remove_file(&path).map_err(|source| DataplaneError::PinDir {
                path: path.clone(),
                source,
            })?;
            removed.push(path);
        }
    }
    Ok(removed)
}

/// Pins only work on bpffs; say so before the kernel answers with a bare
/// EPERM/EINVAL. Checks the nearest existing ancestor of `pin_dir`.
fn ensure_on_bpffs(pin_dir: &Path) -> Result<(), DataplaneError> {
    const BPF_FS_MAGIC: nix::sys::statfs::FsType = nix::sys::statfs::FsType(0xCAFE_4A11);
    let existing = pin_dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    let on_bpffs = nix::sys::statfs::statfs(existing)
        .map(|fs| fs.filesystem_type() == BPF_FS_MAGIC)
        .unwrap_or(false);
    if on_bpffs {
        Ok(())
    } else {
        Err(DataplaneError::NotBpffs(pin_dir.to_path_buf()))
    }
}

impl Dataplane {
    /// Loads the program into the kernel and pins its maps under `pin_dir`
    /// (created if missing; stale pins of a crashed run are replaced).
    pub fn load(pin_dir: &Path) -> Result<Self, DataplaneError> {
        ensure_on_bpffs(pin_dir)?;
        fs::create_dir_all(pin_dir).map_err(|source| DataplaneError::PinDir {
            path: pin_dir.to_path_buf(),
            source,
        })?;
        for stale in remove_stale_pins(pin_dir)? {
            tracing::warn!(pin = %stale.display(), "removed a pin left by an earlier run");
        }
        let mut ebpf = Ebpf::load(EBPF_OBJECT)?;
        let program: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()?;
        program.load()?;

        let map = ebpf
            .take_map(MAP_VRRP_STATS)
            .ok_or(DataplaneError::MissingMap(MAP_VRRP_STATS))?;
        let path = pin_dir.join(MAP_VRRP_STATS);
        map.pin(&path)
            .map_err(|source| DataplaneError::Pin { path, source })?;
        let vrrp_stats = PerCpuHashMap::try_from(map).map_err(|source| DataplaneError::Map {
            name: MAP_VRRP_STATS,
            source,
        })?;

        Ok(Self {
            ebpf,
            pin_dir: pin_dir.to_path_buf(),
            vrrp_stats,
            attachments: Vec::new(),
        })
    }

    /// Attaches the program to `interface` in the mode `choice` resolves to.
    pub fn attach(
        &mut self,
        interface: &str,
        choice: XdpModeChoice,
    ) -> Result<&Attachment, DataplaneError> {
        let ifindex = nix::net::if_::if_nametoindex(interface)
            .map_err(|_| DataplaneError::UnknownInterface(interface.to_string()))?;
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()?;
        let resolved = resolve_xdp_mode(interface, choice);
        if let Some(why) = &resolved.note {
            tracing::warn!(interface, mode = ?resolved.mode, "{why}");
        }
        let mut attempt = |mode: XdpModeChoice| {
            let flags = match mode {
                XdpModeChoice::Native => XdpMode::Driver,
                XdpModeChoice::Skb => XdpMode::Skb,
                XdpModeChoice::Auto | XdpModeChoice::Off => XdpMode::Default,
            };
            program.attach_to_if_index(ifindex, flags)
        };
        let (mode, link) = match attempt(resolved.mode) {
            Ok(link) => (resolved.mode, link),
            // auto: a driver without native XDP support falls back to skb.
            Err(err) if choice == XdpModeChoice::Auto && resolved.mode == XdpModeChoice::Native => {
                tracing::warn!(
                    interface,
                    error = %err,
                    "native XDP is not available here; using skb (generic) mode"
                );
                let link =
                    attempt(XdpModeChoice::Skb).map_err(|source| DataplaneError::Attach {
                        interface: interface.to_string(),
                        mode: XdpModeChoice::Skb,
                        source,
                    })?;
                (XdpModeChoice::Skb, link)
            }
            Err(source) => {
                return Err(DataplaneError::Attach {
                    interface: interface.to_string(),
                    mode: resolved.mode,
                    source,
                })
            }
        };
        let attachment = Attachment {
            interface: interface.to_string(),
            ifindex,
            mode,
        };
        tracing::info!(interface, ifindex, ?mode, "XDP program attached");
        self.attachments.push((attachment, link));
        Ok(&self.attachments.last().expect("just pushed").0)
    }

    pub fn attachments(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments.iter().map(|(a, _)| a)
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// VRRP counters summed over CPUs, per (ifindex, vrid, family).
    pub fn vrrp_stats(&self) -> Result<BTreeMap<(u32, u8, u8), VrrpStats>, DataplaneError> {
        let mut totals = BTreeMap::new();
        for entry in self.vrrp_stats.iter() {
            let (key, per_cpu) = entry.map_err(|source| DataplaneError::Map {
                name: MAP_VRRP_STATS,
                source,
            })?;
            let total: &mut VrrpStats = totals
                .entry((key.ifindex, key.vrid, key.family))
                .or_default();
            for cpu in per_cpu.iter() {
                total.frames += cpu.frames;
            }
        }
        Ok(totals)
    }

    /// Detaches from every interface, unloads and removes the pins.
    pub fn shutdown(mut self) -> Result<(), DataplaneError> {
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()?;
        for (attachment, link) in self.attachments.drain(..) {
            program.detach(link)?;
            tracing::info!(interface = %attachment.interface, "XDP program detached");
        }
        remove_stale_pins(&self.pin_dir)?;
        // An empty per-agent directory is ours to remove; anything else in it is not.
        let _ = fs::remove_dir(&self.pin_dir);
        Ok(())
    }
}

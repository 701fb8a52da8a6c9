//! The XDP fast path seen from userspace: load the embedded object, attach it
//! to the agent's interfaces, pin its maps under the agent's bpffs directory
//! (so `bpftool map dump pinned ...` works), read its counters, and take it
//! all down again.

mod attach;
mod bpffs;
mod counters;
mod inherit;
mod xdp_mode;

use std::{
    collections::BTreeMap,
    fs,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    time::Duration,
};

use aya::{
    maps::{Array, HashMap, Map, MapData, PerCpuHashMap},
    programs::{
        links::{FdLink, PinnedLink},
        xdp::{XdpLink, XdpLinkId},
        Xdp, XdpMode,
    },
    Ebpf,
};
use serde::Serialize;
use thiserror::Error;
use vip_common::{
    ownership_flags, IfKey, L2Stats, Liveness, Ownership, OwnershipKey, VrrpKey,
    VrrpPolicy as PolicyValue, VrrpStats, AUTH_NONE, AUTH_PASS, FAMILY_V4, FAMILY_V6, MAP_L2_STATS,
    MAP_LIVENESS, MAP_NAMES, MAP_OWNERSHIP, MAP_VRRP_POLICY, MAP_VRRP_STATS, MAX_PEERS,
    OWNERSHIP_FLAG_MASTER, PEER_TTL_ANY, PROGRAM_NAME,
};

use attach::{link_pin, AttachedLink, LINK_PIN_PREFIX};
pub use bpffs::{ensure_bpffs, Bpffs};
pub use counters::{Counters, L2Counters, VrrpCounters};
pub use inherit::{bridge_heartbeat, inherit, Inherited, OwnedVip};
pub use xdp_mode::{resolve_xdp_mode, XdpModeChoice};

/// The XDP object built for this binary (see build.rs).
static EBPF_OBJECT: &[u8] = aya::include_bytes_aligned!(env!("VIP_AGENT_EBPF_OBJECT"));

/// Every map the program defines; each is pinned under the bpffs directory
/// with this name.
pub const PINNED_MAPS: &[&str] = &MAP_NAMES;

/// Fencing bound until [`Dataplane::set_fence_bound`] says otherwise.
pub const DEFAULT_FENCE_BOUND: Duration = Duration::from_secs(3);

/// Address family of a VIP or of the IP header carrying VRRP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Self {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The `family` byte of the map keys (4 or 6).
    pub fn key(self) -> u8 {
        match self {
            Family::V4 => FAMILY_V4,
            Family::V6 => FAMILY_V6,
        }
    }

    fn from_key(byte: u8) -> Self {
        if byte == FAMILY_V6 {
            Family::V6
        } else {
            Family::V4
        }
    }
}

/// How the program validates adverts of one (interface, VRID, family).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VrrpPolicy {
    /// 2 or 3; 0 accepts either (2 only ever over IPv4: the program drops
    /// VRRPv2 over IPv6 as a bad version).
    pub version: u8,
    /// VRRPv2 simple-text password (`authentication { auth_type PASS }`).
    pub auth_pass: Option<[u8; 8]>,
    /// Unicast peers; empty (multicast) accepts any source, with TTL / hop
    /// limit 255. At most 8.
    pub peers: Vec<IpAddr>,
    /// For `peers[i]`, the TTL / hop limit range `[min, max]` (inclusive,
    /// empty when `min > max`) its adverts must arrive with: keepalived's
    /// `unicast_peer { ADDR min_ttl N max_ttl M }`. Entries without a peer
    /// are not read. [`Default`] fills every entry with [`PEER_TTL_ANY`].
    pub peer_ttl: [[u8; 2]; MAX_PEERS],
}

impl Default for VrrpPolicy {
    fn default() -> Self {
        Self {
            version: 0,
            auth_pass: None,
            peers: Vec::new(),
            peer_ttl: [PEER_TTL_ANY; MAX_PEERS],
        }
    }
}

/// An address in the maps' 16-byte form (IPv4 in the first four bytes).
pub fn addr_key(addr: &IpAddr) -> [u8; 16] {
    match addr {
        IpAddr::V4(v4) => {
            let mut out = [0u8; 16];
            out[..4].copy_from_slice(&v4.octets());
            out
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn addr_from_key(family: Family, bytes: [u8; 16]) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        Family::V6 => IpAddr::V6(Ipv6Addr::from(bytes)),
    }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns()`.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec to write into.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

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
    #[error("{0} is not on a bpf filesystem: mount one (`mount -t bpf bpf /sys/fs/bpf`)")]
    NotBpffs(PathBuf),
    #[error(
        "no bpf filesystem for the pins, and mounting one on {mount_point} failed: {errno} \
         (mounting needs CAP_SYS_ADMIN; or mount it first: `mount -t bpf bpf /sys/fs/bpf`)"
    )]
    MountBpffs {
        mount_point: PathBuf,
        errno: nix::errno::Errno,
    },
    #[error("interface {0} does not exist")]
    UnknownInterface(String),
    #[error(
        "{interface} already has an XDP program that is not ours: refusing to replace it \
         (use --force to replace it)"
    )]
    XdpInUse { interface: String },
    #[error("removing the XDP program already on {interface}: {message}")]
    ForceDetach { interface: String, message: String },
    #[error("the kernel attached XDP through netlink, which cannot outlive the process")]
    NotPinnable,
    #[error("taking over the attachment pinned at {path}: {message}")]
    TakeOver { path: PathBuf, message: String },
    #[error("VRRP policy: {0}")]
    Policy(String),
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

/// The loaded program, its pinned maps and its attachments. Dropping a
/// [`Dataplane::load`]ed one detaches the program (the kernel links die with
/// their file descriptors); a [`Dataplane::load_pinned`] one stays attached
/// (its links are pinned) until [`Dataplane::shutdown`], which also removes
/// every pin.
pub struct Dataplane {
    ebpf: Ebpf,
    pin_dir: PathBuf,
    ownership: HashMap<MapData, OwnershipKey, Ownership>,
    vrrp_policy: HashMap<MapData, VrrpKey, PolicyValue>,
    vrrp_stats: PerCpuHashMap<MapData, VrrpKey, VrrpStats>,
    l2_stats: PerCpuHashMap<MapData, IfKey, L2Stats>,
    liveness: Array<MapData, Liveness>,
    fence_bound: Duration,
    attachments: Vec<(Attachment, AttachedLink)>,
    /// Attachments are pinned under `pin_dir` and outlive the process.
    pin_links: bool,
    /// A crashed run's pinned attachments, by interface, its program still
    /// running on them.
    inherited: BTreeMap<String, PathBuf>,
    /// Inherited attachments to take over once the maps are written.
    adopted: Vec<PathBuf>,
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

/// A key that was not there is as removed as one that was: the kernel
/// says so with ENOENT from `bpf_map_delete_elem`, which aya passes on as a
/// syscall error.
fn absent_is_removed(result: Result<(), aya::maps::MapError>) -> Result<(), aya::maps::MapError> {
    match result {
        Err(aya::maps::MapError::KeyNotFound) => Ok(()),
        Err(aya::maps::MapError::SyscallError(aya::sys::SyscallError { io_error, .. }))
            if io_error.raw_os_error() == Some(libc::ENOENT) =>
        {
            Ok(())
        }
        other => other,
    }
}

fn map_err(name: &'static str) -> impl Fn(aya::maps::MapError) -> DataplaneError {
    move |source| DataplaneError::Map { name, source }
}

/// Takes map `name` out of the object and pins it under `pin_dir`.
fn take_pinned(ebpf: &mut Ebpf, pin_dir: &Path, name: &'static str) -> Result<Map, DataplaneError> {
    let map = ebpf
        .take_map(name)
        .ok_or(DataplaneError::MissingMap(name))?;
    let path = pin_dir.join(name);
    map.pin(&path)
        .map_err(|source| DataplaneError::Pin { path, source })?;
    Ok(map)
}

impl Dataplane {
    /// Loads the program into the kernel and pins its maps under `pin_dir`
    /// (created if missing; stale pins of a crashed run are replaced). The
    /// program answers no ARP/NS until the first [`Dataplane::heartbeat`].
    pub fn load(pin_dir: &Path) -> Result<Self, DataplaneError> {
        Self::load_with(pin_dir, false)
    }

    /// Like [`Dataplane::load`], with attachments pinned under `pin_dir`:
    /// they outlive the process, so a crashed agent's stale heartbeat fences
    /// its VIPs. The attachments a crashed run pinned there are inherited:
    /// the old program goes on running on them until [`Dataplane::adopt`]
    /// and [`Dataplane::take_over_adopted`] replace it atomically, once this
    /// program's maps hold the policies and ownership (the interface never
    /// runs without XDP, nor with a program that knows no policy).
    /// [`Dataplane::shutdown`] unpins them.
    pub fn load_pinned(pin_dir: &Path) -> Result<Self, DataplaneError> {
        let mut dataplane = Self::load_with(pin_dir, true)?;
        let pins: Vec<PathBuf> = fs::read_dir(pin_dir)
            .map_err(|source| DataplaneError::PinDir {
                path: pin_dir.to_path_buf(),
                source,
            })?
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(LINK_PIN_PREFIX))
            })
            .collect();
        dataplane.inherited = pins
            .into_iter()
            .filter_map(|pin| {
                let interface = pin
                    .file_name()?
                    .to_str()?
                    .strip_prefix(LINK_PIN_PREFIX)?
                    .to_string();
                Some((interface, pin))
            })
            .collect();
        Ok(dataplane)
    }

    fn load_with(pin_dir: &Path, pin_links: bool) -> Result<Self, DataplaneError> {
        bpffs::check_on_bpffs(pin_dir)?;
        let created = !pin_dir.exists();
        fs::create_dir_all(pin_dir).map_err(|source| DataplaneError::PinDir {
            path: pin_dir.to_path_buf(),
            source,
        })?;
        let loaded = Self::load_into(pin_dir, pin_links);
        if loaded.is_err() && created {
            // A start that failed leaves nothing: the pins made so far go
            // with the directory this call created.
            let _ = remove_stale_pins(pin_dir);
            let _ = fs::remove_dir(pin_dir);
        }
        loaded
    }

    fn load_into(pin_dir: &Path, pin_links: bool) -> Result<Self, DataplaneError> {
        for stale in remove_stale_pins(pin_dir)? {
            tracing::warn!(pin = %stale.display(), "removed a pin left by an earlier run");
        }
        let mut ebpf = Ebpf::load(EBPF_OBJECT)?;
        let program: &mut Xdp = ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()?;
        program.load()?;

        let ownership = HashMap::try_from(take_pinned(&mut ebpf, pin_dir, MAP_OWNERSHIP)?)
            .map_err(map_err(MAP_OWNERSHIP))?;
        let vrrp_policy = HashMap::try_from(take_pinned(&mut ebpf, pin_dir, MAP_VRRP_POLICY)?)
            .map_err(map_err(MAP_VRRP_POLICY))?;
        let vrrp_stats = PerCpuHashMap::try_from(take_pinned(&mut ebpf, pin_dir, MAP_VRRP_STATS)?)
            .map_err(map_err(MAP_VRRP_STATS))?;
        let l2_stats = PerCpuHashMap::try_from(take_pinned(&mut ebpf, pin_dir, MAP_L2_STATS)?)
            .map_err(map_err(MAP_L2_STATS))?;
        let liveness = Array::try_from(take_pinned(&mut ebpf, pin_dir, MAP_LIVENESS)?)
            .map_err(map_err(MAP_LIVENESS))?;

        let mut dataplane = Self {
            ebpf,
            pin_dir: pin_dir.to_path_buf(),
            ownership,
            vrrp_policy,
            vrrp_stats,
            l2_stats,
            liveness,
            fence_bound: DEFAULT_FENCE_BOUND,
            attachments: Vec::new(),
            pin_links,
            inherited: BTreeMap::new(),
            adopted: Vec::new(),
        };
        dataplane.write_liveness(0)?;
        Ok(dataplane)
    }

    /// The loaded XDP program (e.g. for `BPF_PROG_TEST_RUN`).
    pub fn program(&mut self) -> Result<&mut Xdp, DataplaneError> {
        Ok(self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(DataplaneError::MissingProgram(PROGRAM_NAME))?
            .try_into()?)
    }

    pub fn attachments(&self) -> impl Iterator<Item = &Attachment> {
        self.attachments.iter().map(|(a, _)| a)
    }

    pub fn pin_dir(&self) -> &Path {
        &self.pin_dir
    }

    /// Validate adverts of (ifindex, vrid, family) with `policy` from now on.
    pub fn set_vrrp_policy(
        &mut self,
        ifindex: u32,
        vrid: u8,
        family: Family,
        policy: &VrrpPolicy,
    ) -> Result<(), DataplaneError> {
        if policy.peers.len() > MAX_PEERS {
            return Err(DataplaneError::Policy(format!(
                "{} unicast peers, the fast path checks at most {MAX_PEERS}",
                policy.peers.len()
            )));
        }
        if let Some(peer) = policy.peers.iter().find(|p| Family::of(p) != family) {
            return Err(DataplaneError::Policy(format!(
                "peer {peer} is not an {family:?} address"
            )));
        }
        if !matches!(policy.version, 0 | 2 | 3) {
            return Err(DataplaneError::Policy(format!(
                "VRRP version {} (expected 2 or 3)",
                policy.version
            )));
        }
        let mut value = PolicyValue {
            version: policy.version,
            auth_type: if policy.auth_pass.is_some() {
                AUTH_PASS
            } else {
                AUTH_NONE
            },
            peer_count: policy.peers.len() as u8,
            auth_pass: policy.auth_pass.unwrap_or_default(),
            peer_ttl: policy.peer_ttl,
            ..PolicyValue::default()
        };
        for (slot, peer) in value.peers.iter_mut().zip(&policy.peers) {
            *slot = addr_key(peer);
        }
        self.vrrp_policy
            .insert(VrrpKey::new(ifindex, vrid, family.key()), value, 0)
            .map_err(map_err(MAP_VRRP_POLICY))
    }

    /// Stop validating adverts of (ifindex, vrid, family): they pass, counted
    /// as `unconfigured`.
    pub fn remove_vrrp_policy(
        &mut self,
        ifindex: u32,
        vrid: u8,
        family: Family,
    ) -> Result<(), DataplaneError> {
        let removed = self
            .vrrp_policy
            .remove(&VrrpKey::new(ifindex, vrid, family.key()));
        absent_is_removed(removed).map_err(map_err(MAP_VRRP_POLICY))
    }

    /// This node is master for `vip` on `ifindex`: the program answers ARP
    /// (IPv4) or NS (IPv6) for it with `owner_mac` while the heartbeat is fresh.
    /// Without `accept` it drops the other packets addressed to `vip`; the
    /// policy is in the same map entry, written in one update.
    pub fn set_owned(
        &mut self,
        ifindex: u32,
        vip: IpAddr,
        owner_mac: [u8; 6],
        vrid: u8,
        accept: bool,
    ) -> Result<(), DataplaneError> {
        let key = OwnershipKey::new(ifindex, Family::of(&vip).key(), addr_key(&vip));
        let value = Ownership {
            mac: owner_mac,
            vrid,
            flags: ownership_flags(accept),
        };
        self.ownership
            .insert(key, value, 0)
            .map_err(map_err(MAP_OWNERSHIP))
    }

    /// This node no longer holds `vip`: the kernel (or the new master) answers.
    pub fn clear_owned(&mut self, ifindex: u32, vip: IpAddr) -> Result<(), DataplaneError> {
        let key = OwnershipKey::new(ifindex, Family::of(&vip).key(), addr_key(&vip));
        absent_is_removed(self.ownership.remove(&key)).map_err(map_err(MAP_OWNERSHIP))
    }

    /// The program stops answering ARP/NS when the last heartbeat is older
    /// than `bound` (fencing a hung agent).
    pub fn set_fence_bound(&mut self, bound: Duration) -> Result<(), DataplaneError> {
        self.fence_bound = bound;
        let heartbeat = self.read_liveness()?.heartbeat_ns;
        self.write_liveness(heartbeat)
    }

    /// Records that the agent is alive now (CLOCK_MONOTONIC).
    pub fn heartbeat(&mut self) -> Result<(), DataplaneError> {
        self.write_liveness(monotonic_ns())
    }

    /// The heartbeat and fencing bound the program reads.
    pub fn liveness(&self) -> Result<Liveness, DataplaneError> {
        self.read_liveness()
    }

    fn read_liveness(&self) -> Result<Liveness, DataplaneError> {
        self.liveness.get(&0, 0).map_err(map_err(MAP_LIVENESS))
    }

    fn write_liveness(&mut self, heartbeat_ns: u64) -> Result<(), DataplaneError> {
        let value = Liveness {
            heartbeat_ns,
            bound_ns: u64::try_from(self.fence_bound.as_nanos()).unwrap_or(u64::MAX),
        };
        self.liveness
            .set(0, value, 0)
            .map_err(map_err(MAP_LIVENESS))
    }

    /// Detaches from every interface, unloads and removes the pins.
    pub fn shutdown(mut self) -> Result<(), DataplaneError> {
        let links: Vec<_> = self.attachments.drain(..).collect();
        let pin_dir = self.pin_dir.clone();
        let program = self.program()?;
        for (attachment, link) in links {
            match link {
                AttachedLink::Process(id) => program.detach(id)?,
                // Unpinned, the link ends with its last file descriptor.
                AttachedLink::Pinned(pinned) => {
                    drop(pinned.unpin().map_err(|source| DataplaneError::PinDir {
                        path: link_pin(&pin_dir, &attachment.interface),
                        source,
                    })?)
                }
            }
            tracing::info!(interface = %attachment.interface, "XDP program detached");
        }
        // An earlier run's attachments this run never took over go too.
        let leftovers = std::mem::take(&mut self.inherited).into_values();
        for pin in leftovers.chain(std::mem::take(&mut self.adopted)) {
            let _ = fs::remove_file(&pin);
        }
        remove_stale_pins(&self.pin_dir)?;
        // An empty per-agent directory is ours to remove; anything else in it is not.
        let _ = fs::remove_dir(&self.pin_dir);
        Ok(())
    }
}

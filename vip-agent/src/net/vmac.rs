//! VMAC interfaces (`use_vmac`) made as keepalived 2.2.7 makes them
//! (`netlink_link_add_vmac`, `set_interface_parameters`): a private-mode
//! macvlan on the instance's interface with the virtual router MAC, the
//! sysctls that make a macvlan without its own IPv4 address work for VRRP,
//! and, for IPv6, the base interface's link-local address so that adverts
//! leave from the same source address as without a VMAC.

use std::{
    collections::{BTreeSet, HashMap},
    fs, io,
    net::{IpAddr, Ipv6Addr},
    path::PathBuf,
};

use thiserror::Error;

use super::netlink::{Link, Netlink, NetlinkError};

/// One VMAC an instance needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmacSpec {
    pub name: String,
    pub base: String,
    pub base_ifindex: u32,
    pub mac: [u8; 6],
    /// The instance is IPv4: the IPv4 sysctls of keepalived apply.
    pub ipv4: bool,
    /// IPv6 stays enabled on the VMAC (an IPv6 instance, or IPv6 VIPs on it).
    pub ipv6: bool,
    /// Added to the VMAC (an IPv6 instance that sends from it): the base's
    /// link-local address, the adverts' source.
    pub link_local: Option<Ipv6Addr>,
}

#[derive(Debug, Error)]
pub enum VmacError {
    #[error(transparent)]
    Netlink(#[from] NetlinkError),
    #[error("sysctl {path}: {source}")]
    Sysctl { path: PathBuf, source: io::Error },
}

/// The base interface's sysctls while it has VMACs. keepalived sets the
/// first two. `arp_announce` 2 is this agent's own: without it the base
/// resolves a neighbour for a reply sent from a VIP with the VIP as the ARP
/// sender and the base's MAC, and every client that hears it replaces the
/// VMAC in its cache by that MAC (keepalived's VMAC routers do that).
const BASE_SYSCTLS: [(&str, &str); 3] = [
    ("arp_ignore", "1"),
    ("arp_filter", "1"),
    ("arp_announce", "2"),
];

/// What the agent changed on a base interface for its VMACs.
#[derive(Debug)]
struct BaseSettings {
    /// [`BASE_SYSCTLS`] as they were before the first VMAC.
    saved: Vec<(&'static str, String)>,
    vmacs: BTreeSet<String>,
}

/// What keepalived's `clear_rp_filter` changed, to put back when the last
/// VMAC goes. A VMAC's `rp_filter` 0 means nothing while `all.rp_filter`
/// is set (the kernel uses the larger of the two), and a strict `all` drops
/// every packet sent to the VMAC, whose replies route out of the base.
/// So `all` goes to 0 after `default` and every interface are raised to
/// it: no other interface filters less than before.
#[derive(Debug)]
struct RpFilterCleared {
    all: u32,
    /// `default`'s value before, when it was raised.
    default: Option<u32>,
    /// The interfaces raised, with their values before.
    raised: Vec<(String, u32)>,
}

/// The VMACs this agent made, and what it changed on their bases.
#[derive(Debug, Default)]
pub struct Vmacs {
    bases: HashMap<String, BaseSettings>,
    rp_filter: Option<RpFilterCleared>,
}

fn sysctl_path(family: &str, interface: &str, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/{family}/conf/{interface}/{name}"))
}

fn read_sysctl(family: &str, interface: &str, name: &str) -> Option<String> {
    fs::read_to_string(sysctl_path(family, interface, name))
        .ok()
        .map(|v| v.trim().to_string())
}

fn read_rp_filter(interface: &str) -> Option<u32> {
    read_sysctl("ipv4", interface, "rp_filter")?.parse().ok()
}

fn write_rp_filter(interface: &str, value: u32) -> Result<(), VmacError> {
    write_sysctl("ipv4", interface, "rp_filter", &value.to_string())
}

fn write_sysctl(family: &str, interface: &str, name: &str, value: &str) -> Result<(), VmacError> {
    let path = sysctl_path(family, interface, name);
    fs::write(&path, value).map_err(|source| VmacError::Sysctl { path, source })
}

impl Vmacs {
    /// Creates the VMAC, or takes over one with the same settings, and
    /// brings it up configured. Returns the link as it is now.
    pub async fn ensure(&mut self, netlink: &Netlink, spec: &VmacSpec) -> Result<Link, VmacError> {
        let link = netlink
            .ensure_macvlan(&spec.name, spec.base_ifindex, spec.mac)
            .await?;
        if spec.ipv4 {
            self.clear_all_rp_filter()?;
            // Replies for the VIPs come from the VMAC only; adverts from
            // the other routers (the same MAC) are heard on it.
            for (name, value) in [
                ("arp_ignore", "1"),
                ("accept_local", "1"),
                ("rp_filter", "0"),
                ("promote_secondaries", "1"),
            ] {
                write_sysctl("ipv4", &spec.name, name, value)?;
            }
            self.claim_base(spec)?;
        }
        // No automatic link-local address (RFC 5798 section 7.4): the
        // VMAC's MAC is the same on every router.
        write_sysctl("ipv6", &spec.name, "addr_gen_mode", "1")?;
        write_sysctl(
            "ipv6",
            &spec.name,
            "disable_ipv6",
            if spec.ipv6 { "0" } else { "1" },
        )?;
        if spec.ipv6 {
            // The VMAC takes no router advertisements (no default route
            // through it) and sends no router solicitations: a Backup's
            // frame from the VMAC would draw the switch's forwarding of
            // the VMAC away from the Master.
            write_sysctl("ipv6", &spec.name, "accept_ra", "0")?;
        }
        netlink.set_link_up(link.ifindex).await?;
        if let Some(link_local) = spec.link_local {
            netlink
                .add_static_address(link.ifindex, IpAddr::V6(link_local), 64, None)
                .await?;
        }
        Ok(netlink.link_by_name(&spec.name).await?.unwrap_or(link))
    }

    /// The base answers no ARP for the VIPs on its VMACs, nor for its own
    /// addresses through them, and never names a VIP in its own requests.
    fn claim_base(&mut self, spec: &VmacSpec) -> Result<(), VmacError> {
        let base = self
            .bases
            .entry(spec.base.clone())
            .or_insert_with(|| BaseSettings {
                saved: BASE_SYSCTLS
                    .iter()
                    .filter_map(|(name, _)| Some((*name, read_sysctl("ipv4", &spec.base, name)?)))
                    .collect(),
                vmacs: BTreeSet::new(),
            });
        base.vmacs.insert(spec.name.clone());
        for (name, value) in BASE_SYSCTLS {
            write_sysctl("ipv4", &spec.base, name, value)?;
        }
        Ok(())
    }

    /// keepalived's `clear_rp_filter`, once while the agent has VMACs.
    fn clear_all_rp_filter(&mut self) -> Result<(), VmacError> {
        if self.rp_filter.is_some() {
            return Ok(());
        }
        let all = match read_rp_filter("all") {
            Some(0) | None => return Ok(()),
            Some(all) => all,
        };
        let mut cleared = RpFilterCleared {
            all,
            default: None,
            raised: Vec::new(),
        };
        if let Some(default) = read_rp_filter("default").filter(|&d| d < all) {
            write_rp_filter("default", all)?;
            cleared.default = Some(default);
        }
        let conf = PathBuf::from("/proc/sys/net/ipv4/conf");
        let entries = fs::read_dir(&conf).map_err(|source| VmacError::Sysctl {
            path: conf.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let interface = entry.file_name().to_string_lossy().into_owned();
            if interface == "all" || interface == "default" {
                continue;
            }
            if let Some(before) = read_rp_filter(&interface).filter(|&v| v < all) {
                write_rp_filter(&interface, all)?;
                cleared.raised.push((interface, before));
            }
        }
        tracing::info!(
            from = all,
            "setting net.ipv4.conf.all.rp_filter to 0 for the VMACs"
        );
        write_rp_filter("all", 0)?;
        self.rp_filter = Some(cleared);
        Ok(())
    }

    /// keepalived's `restore_rp_filter`: each value goes back where it is
    /// still what the agent set.
    fn restore_all_rp_filter(&mut self) {
        let Some(cleared) = self.rp_filter.take() else {
            return;
        };
        let restore = |interface: &str, set: u32, before: u32| {
            if read_rp_filter(interface) == Some(set) {
                if let Err(err) = write_rp_filter(interface, before) {
                    tracing::debug!(%interface, error = %err, "restoring rp_filter");
                }
            }
        };
        restore("all", 0, cleared.all);
        if let Some(before) = cleared.default {
            restore("default", cleared.all, before);
        }
        for (interface, before) in &cleared.raised {
            restore(interface, cleared.all, *before);
        }
    }

    /// Deletes the VMAC; the base gets its settings back with its last VMAC.
    pub async fn remove(&mut self, netlink: &Netlink, name: &str) -> Result<(), VmacError> {
        if let Some(link) = netlink.link_by_name(name).await? {
            netlink.delete_link(link.ifindex).await?;
        }
        let emptied: Vec<String> = self
            .bases
            .iter_mut()
            .filter_map(|(base, settings)| {
                (settings.vmacs.remove(name) && settings.vmacs.is_empty()).then(|| base.clone())
            })
            .collect();
        for base in emptied {
            if let Some(settings) = self.bases.remove(&base) {
                for (sysctl, value) in settings.saved {
                    // The base may be gone with its VMACs.
                    if let Err(err) = write_sysctl("ipv4", &base, sysctl, &value) {
                        tracing::debug!(interface = %base, error = %err, "restoring a sysctl");
                    }
                }
            }
        }
        if self.bases.is_empty() {
            self.restore_all_rp_filter();
        }
        Ok(())
    }
}

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

/// The VMACs this agent made, and what it changed on their bases.
#[derive(Debug, Default)]
pub struct Vmacs {
    bases: HashMap<String, BaseSettings>,
}

fn sysctl_path(family: &str, interface: &str, name: &str) -> PathBuf {
    PathBuf::from(format!("/proc/sys/net/{family}/conf/{interface}/{name}"))
}

fn read_sysctl(family: &str, interface: &str, name: &str) -> Option<String> {
    fs::read_to_string(sysctl_path(family, interface, name))
        .ok()
        .map(|v| v.trim().to_string())
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
        Ok(())
    }
}

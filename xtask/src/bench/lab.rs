//! Network namespaces for the benchmark: the scaffold's [`Lab`] under the
//! prefix `vipb-` (namespaces `vipb-<pid>-<n>-<role>`), nodes joined to its
//! bridge by `eth0` with IPv6 off (nothing but the benchmark's own traffic
//! crosses the segment). Dropping a lab kills every process in its
//! namespaces and deletes them with their bpffs and work directories; a run
//! that died leaves names whose pid is gone, removed by [`remove_leftovers`].
//! Nothing here touches the root namespace's interfaces.

use anyhow::Result;
pub use vip_netns::{run, Lab};

pub const PREFIX: &str = "vipb-";
pub const IFACE: &str = "eth0";

/// Removes namespaces, bpffs and work directories of benchmark runs whose
/// process is gone.
pub fn remove_leftovers() {
    for path in vip_netns::remove_leftovers(PREFIX, vip_netns::Leftovers::OfDeadRuns) {
        eprintln!("bench: removed leftover {}", path.display());
    }
}

/// A new benchmark lab: a switch namespace with bridge `br0`.
pub fn new_lab() -> Result<Lab> {
    Ok(Lab::new(vip_netns::numbered_id(PREFIX))?.with_ipv6(vip_netns::Ipv6::Off))
}

/// A node with [`IFACE`] on the bridge carrying `addresses`.
pub fn add_node(lab: &mut Lab, role: &str, addresses: &[&str]) -> Result<usize> {
    Ok(lab.add_node(role, IFACE, addresses)?)
}

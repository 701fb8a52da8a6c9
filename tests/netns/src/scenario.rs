//! The deployments of `examples/scenarios/<name>/<node>.conf`, read through
//! vip-config: node names (file stems), interfaces, priorities, preemption,
//! VIP, advert interval and unicast peers all come from the .conf files, so
//! the tests and the lab cannot disagree with them.
//!
//! What a keepalived.conf does not say is where the node sits: the segment
//! the nodes share (a multicast node's own address), and the client's
//! address and routes. [`SITES`] holds that, per scenario, as the scenarios'
//! README describes it; addresses follow from it by a rule (see
//! [`Scenario::load`]).

use std::{
    net::{IpAddr, Ipv4Addr},
    path::{Path, PathBuf},
    time::Duration,
};

use vip_config::{InitialState, LoadOptions, VrrpInstance};

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("no scenario `{name}` in {dir}; known: {known}")]
    Unknown {
        name: String,
        dir: PathBuf,
        known: String,
    },
    #[error(
        "scenario `{name}` has no site (segment, client) in vip-netns's scenario::SITES; known: {known}"
    )]
    NoSite { name: String, known: String },
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", diagnostics.join("\n"))]
    Config { diagnostics: Vec<String> },
    #[error("{}: {reason}", path.display())]
    Unsupported { path: PathBuf, reason: String },
}

/// One node of a scenario, as its .conf says (address: by the site's rule).
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioNode {
    /// The .conf file's stem (`cube01` for `cube01.conf`).
    pub name: String,
    pub config: PathBuf,
    pub interface: String,
    pub virtual_router_id: u8,
    pub state: InitialState,
    pub priority: u8,
    /// Takes the VIP back from a lower priority: `nopreempt` is not in force
    /// (vip-config already cleared it on a `state MASTER` node, as
    /// keepalived does).
    pub preempt: bool,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<IpAddr>,
    /// The node's address on the segment, CIDR.
    pub address: String,
}

/// The client namespace on the scenario's segment.
#[derive(Debug, Clone, PartialEq)]
pub struct Client {
    pub interface: String,
    /// CIDR.
    pub address: String,
    /// `ip route add ...` arguments, in order.
    pub routes: Vec<Vec<String>>,
}

impl Client {
    /// The address without its prefix length.
    pub fn ip(&self) -> &str {
        self.address.split('/').next().unwrap_or(&self.address)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Folder name under examples/scenarios.
    pub name: String,
    /// Nodes in file-name order.
    pub nodes: Vec<ScenarioNode>,
    /// The first virtual_ipaddress (every node must agree on it).
    pub vip: IpAddr,
    pub vip_prefix_len: u8,
    pub advert_int: Duration,
    pub client: Client,
}

/// Where a deployment's nodes and client sit: not in any keepalived.conf.
#[derive(Debug, Clone, Copy)]
pub struct Site {
    pub scenario: &'static str,
    /// The L2 segment the nodes and the client share.
    pub segment: Ipv4Addr,
    pub segment_prefix_len: u8,
    /// Host number of the first node (in file-name order) of a multicast
    /// scenario; a unicast node is at its `unicast_src_ip`.
    pub first_node_host: u32,
    pub client_host: u32,
    /// The client's default route is the VIP (the nodes are its gateway).
    pub client_gateway_is_vip: bool,
}

/// examples/scenarios/README.md, "nodes (interface, address)".
pub const SITES: &[Site] = &[
    Site {
        scenario: "docker-pair",
        // Docker's default bridge network; the VIP is outside it.
        segment: Ipv4Addr::new(172, 17, 0, 0),
        segment_prefix_len: 16,
        first_node_host: 2,
        client_host: 10,
        client_gateway_is_vip: false,
    },
    Site {
        scenario: "swarm-four",
        segment: Ipv4Addr::new(10, 0, 0, 0),
        segment_prefix_len: 24,
        first_node_host: 60,
        client_host: 99,
        client_gateway_is_vip: false,
    },
    Site {
        scenario: "unicast-gateway",
        segment: Ipv4Addr::new(192, 168, 1, 0),
        segment_prefix_len: 24,
        first_node_host: 11,
        client_host: 2,
        client_gateway_is_vip: true,
    },
];

/// The interface the client namespace gets (the client runs no VRRP, so no
/// .conf names one).
pub const CLIENT_INTERFACE: &str = "eth0";

/// `examples/scenarios` of this source tree (this crate is tests/netns).
pub fn examples_dir() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/netns is two levels below the workspace root");
    root.join("examples/scenarios")
}

/// The scenario folders under [`examples_dir`], sorted.
pub fn names() -> Result<Vec<String>, ScenarioError> {
    let dir = examples_dir();
    let entries = std::fs::read_dir(&dir).map_err(|source| ScenarioError::Read {
        path: dir.clone(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}

fn masked(address: Ipv4Addr, prefix_len: u8) -> u32 {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0);
    u32::from(address) & mask
}

fn in_subnet(address: IpAddr, net: Ipv4Addr, prefix_len: u8) -> bool {
    match address {
        IpAddr::V4(v4) => masked(v4, prefix_len) == masked(net, prefix_len),
        IpAddr::V6(_) => false,
    }
}

impl Site {
    fn host(&self, host: u32) -> String {
        let address = Ipv4Addr::from(masked(self.segment, self.segment_prefix_len) + host);
        format!("{address}/{}", self.segment_prefix_len)
    }
}

impl Scenario {
    /// Reads `examples/scenarios/<name>/*.conf`. Each file must hold one
    /// IPv4 `vrrp_instance`, and all of them the same VIP and advert_int.
    ///
    /// The rule for what the .conf files do not say: a node with
    /// `unicast_src_ip` has that address, with the segment's prefix length;
    /// a multicast node is host `first_node_host + i` of the segment (i-th
    /// in file-name order); the client is host `client_host`. When the VIP
    /// lies outside the segment, the client gets a route to the VIP's subnet
    /// on its link; when the site says the VIP is the client's gateway, a
    /// default route via the VIP.
    pub fn load(name: &str) -> Result<Self, ScenarioError> {
        let known = || names().map(|n| n.join(", ")).unwrap_or_default();
        let dir = examples_dir().join(name);
        if name.is_empty() || name.contains('/') || !dir.is_dir() {
            return Err(ScenarioError::Unknown {
                name: name.to_string(),
                dir: examples_dir(),
                known: known(),
            });
        }
        let site = SITES
            .iter()
            .find(|site| site.scenario == name)
            .ok_or_else(|| ScenarioError::NoSite {
                name: name.to_string(),
                known: SITES
                    .iter()
                    .map(|site| site.scenario)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let entries = std::fs::read_dir(&dir).map_err(|source| ScenarioError::Read {
            path: dir.clone(),
            source,
        })?;
        let mut files: Vec<PathBuf> = entries
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.extension().is_some_and(|ext| ext == "conf"))
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(ScenarioError::Unsupported {
                path: dir,
                reason: "no .conf files".into(),
            });
        }
        let mut nodes = Vec::new();
        let mut shared: Option<(IpAddr, u8, u32)> = None;
        for (i, path) in files.iter().enumerate() {
            let unsupported = |reason: String| ScenarioError::Unsupported {
                path: path.clone(),
                reason,
            };
            let instance = only_instance(path)?;
            let vip = instance
                .virtual_ipaddresses
                .first()
                .ok_or_else(|| unsupported("no virtual_ipaddress".into()))?;
            let this = (vip.address, vip.prefix_len, instance.advert_int_ms);
            match shared {
                None => shared = Some(this),
                Some(first) if first != this => {
                    return Err(unsupported(format!(
                        "VIP {}/{} every {} ms differs from the first node's {}/{} every {} ms",
                        this.0, this.1, this.2, first.0, first.1, first.2
                    )))
                }
                Some(_) => {}
            }
            let address = match instance.unicast_src_ip {
                Some(src) if in_subnet(src, site.segment, site.segment_prefix_len) => {
                    format!("{src}/{}", site.segment_prefix_len)
                }
                Some(src) => {
                    return Err(unsupported(format!(
                        "unicast_src_ip {src} is outside the segment {}/{}",
                        site.segment, site.segment_prefix_len
                    )))
                }
                None => site.host(site.first_node_host + i as u32),
            };
            nodes.push(ScenarioNode {
                name: path
                    .file_stem()
                    .map(|stem| stem.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                config: path.clone(),
                interface: instance.interface.clone(),
                virtual_router_id: instance.virtual_router_id,
                state: instance.state,
                priority: instance.priority,
                preempt: !instance.nopreempt,
                unicast_src_ip: instance.unicast_src_ip,
                unicast_peers: instance.unicast_peers.clone(),
                address,
            });
        }
        let Some((vip, vip_prefix_len, advert_int_ms)) = shared else {
            unreachable!("at least one .conf was read");
        };
        let mut routes = Vec::new();
        if !in_subnet(vip, site.segment, site.segment_prefix_len) {
            let IpAddr::V4(v4) = vip else {
                unreachable!("only IPv4 instances are read");
            };
            let subnet = Ipv4Addr::from(masked(v4, vip_prefix_len));
            routes.push(vec![
                format!("{subnet}/{vip_prefix_len}"),
                "dev".into(),
                CLIENT_INTERFACE.into(),
            ]);
        }
        if site.client_gateway_is_vip {
            routes.push(vec!["default".into(), "via".into(), vip.to_string()]);
        }
        Ok(Scenario {
            name: name.to_string(),
            nodes,
            vip,
            vip_prefix_len,
            advert_int: Duration::from_millis(u64::from(advert_int_ms)),
            client: Client {
                interface: CLIENT_INTERFACE.into(),
                address: site.host(site.client_host),
                routes,
            },
        })
    }
}

/// The single IPv4 `vrrp_instance` of `path`.
fn only_instance(path: &Path) -> Result<VrrpInstance, ScenarioError> {
    let loaded = vip_config::load(path, LoadOptions::default()).map_err(|diagnostics| {
        ScenarioError::Config {
            diagnostics: diagnostics.iter().map(ToString::to_string).collect(),
        }
    })?;
    let unsupported = |reason: &str| ScenarioError::Unsupported {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let [instance] = loaded.config.instances.as_slice() else {
        return Err(unsupported("a scenario node has exactly one vrrp_instance"));
    };
    if instance.family != vip_config::AddressFamily::Ipv4 {
        return Err(unsupported("scenario segments are IPv4"));
    }
    Ok(instance.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node<'a>(s: &'a Scenario, name: &str) -> &'a ScenarioNode {
        s.nodes.iter().find(|n| n.name == name).expect(name)
    }

    #[test]
    fn every_example_has_a_site_and_loads() {
        for name in names().expect("examples/scenarios") {
            let scenario = Scenario::load(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(scenario.nodes.len() >= 2, "{name}");
        }
    }

    #[test]
    fn swarm_four() {
        let s = Scenario::load("swarm-four").expect("loads");
        let summary: Vec<(&str, &str, &str, u8, bool)> = s
            .nodes
            .iter()
            .map(|n| {
                (
                    n.name.as_str(),
                    n.interface.as_str(),
                    n.address.as_str(),
                    n.priority,
                    n.preempt,
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("cube01", "eth0", "10.0.0.60/24", 100, true),
                ("cube02", "eth0", "10.0.0.61/24", 90, true),
                ("cube03", "eth0", "10.0.0.62/24", 80, true),
                ("cube04", "eth0", "10.0.0.63/24", 70, true),
            ]
        );
        assert_eq!(s.vip, "10.0.0.70".parse::<IpAddr>().unwrap());
        assert_eq!(s.vip_prefix_len, 32);
        assert_eq!(s.advert_int, Duration::from_secs(1));
        assert_eq!(s.client.address, "10.0.0.99/24");
        assert_eq!(s.client.ip(), "10.0.0.99");
        assert!(s.client.routes.is_empty());
    }

    #[test]
    fn docker_pair_nopreempt_is_cleared_on_the_master() {
        let s = Scenario::load("docker-pair").expect("loads");
        let (n1, n2) = (node(&s, "node1"), node(&s, "node2"));
        assert_eq!(
            (n1.priority, n1.preempt, n1.state),
            (100, true, InitialState::Master)
        );
        assert_eq!(
            (n2.priority, n2.preempt, n2.state),
            (100, false, InitialState::Backup)
        );
        assert_eq!(
            (n1.address.as_str(), n2.address.as_str()),
            ("172.17.0.2/16", "172.17.0.3/16")
        );
        assert_eq!(s.vip, "192.168.200.11".parse::<IpAddr>().unwrap());
        assert_eq!(s.client.address, "172.17.0.10/16");
        assert_eq!(
            s.client.routes,
            vec![vec!["192.168.200.0/24", "dev", "eth0"]]
        );
    }

    #[test]
    fn unicast_gateway_nodes_sit_at_their_unicast_src_ip() {
        let s = Scenario::load("unicast-gateway").expect("loads");
        let (d2, d3) = (node(&s, "dent2"), node(&s, "dent3"));
        assert_eq!(
            (d2.interface.as_str(), d2.priority, d2.preempt),
            ("enp0s4", 101, true)
        );
        assert_eq!(
            (d3.interface.as_str(), d3.priority, d3.preempt),
            ("enp0s4", 100, true)
        );
        assert_eq!(d2.address, "192.168.1.11/24");
        assert_eq!(d3.address, "192.168.1.12/24");
        assert_eq!(
            d2.unicast_peers,
            vec!["192.168.1.12".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(s.client.address, "192.168.1.2/24");
        assert_eq!(
            s.client.routes,
            vec![vec!["default", "via", "192.168.1.13"]]
        );
    }

    #[test]
    fn configs_are_named_from_the_workspace_root() {
        let s = Scenario::load("docker-pair").expect("loads");
        let root = examples_dir().join("../..").canonicalize().expect("root");
        assert_eq!(
            s.nodes[0].config.strip_prefix(&root).ok(),
            Some(Path::new("examples/scenarios/docker-pair/node1.conf"))
        );
    }

    #[test]
    fn unknown_scenarios_are_errors() {
        assert!(matches!(
            Scenario::load("no-such-deployment"),
            Err(ScenarioError::Unknown { .. })
        ));
        assert!(matches!(
            Scenario::load("../scenarios"),
            Err(ScenarioError::Unknown { .. })
        ));
    }
}

//! Routes, rules and static addresses in the agent's decisions.
//!
//! An instance's `virtual_routes` and `virtual_rules` go in with its VIPs
//! (see `instance/held.rs`). The `static_*` blocks are [`Statics`]: added
//! at start (addresses, then routes, then rules, keepalived's order), kept
//! while the agent runs, put back when someone else removes a tracked one,
//! and removed at stop (rules, routes, addresses) as keepalived removes
//! them. Interfaces are looked up in the [`SystemView`], so an entry whose
//! interface is missing waits for it.

use crate::{
    config::{Config, Route, Rule, StaticAddress},
    net::{
        netlink::Requester,
        routes::{self, RemovedRoute, RemovedRule, RouteSpec},
    },
};

use super::{effect::Effect, system::SystemView};

/// Whether anything in `config` is a route or rule to watch for removal:
/// then the agent subscribes to route and rule notifications.
pub fn watches_routing(config: &Config) -> bool {
    config
        .instances
        .iter()
        .flat_map(|i| &i.virtual_routes)
        .chain(&config.static_routes)
        .any(|r| r.track)
        || config
            .instances
            .iter()
            .flat_map(|i| &i.virtual_rules)
            .chain(&config.static_rules)
            .any(|r| r.track)
}

/// `route` with its interfaces as indices, or why it cannot be installed now.
pub fn resolve_route(route: &Route, system: &SystemView) -> Result<RouteSpec, String> {
    let index = |dev: &str| {
        system
            .link_by_name(dev)
            .map(|link| link.ifindex)
            .ok_or_else(|| format!("interface {dev} does not exist"))
    };
    let oif = route.dev.as_deref().map(index).transpose()?;
    let hop_ifindexes = route
        .nexthops
        .iter()
        .map(|hop| {
            hop.dev
                .as_deref()
                .map(index)
                .transpose()
                .map(|i| i.unwrap_or(0))
        })
        .collect::<Result<_, _>>()?;
    Ok(RouteSpec {
        route: route.clone(),
        oif,
        hop_ifindexes,
    })
}

/// One static entry and where it is installed (None: not installed).
#[derive(Clone, Debug)]
struct Entry<T, I> {
    config: T,
    installed: Option<I>,
    /// A reason it could not be installed was logged.
    noted: bool,
}

impl<T, I> Entry<T, I> {
    fn new(config: T) -> Self {
        Self {
            config,
            installed: None,
            noted: false,
        }
    }
}

/// The `static_ipaddress`, `static_routes` and `static_rules` entries.
#[derive(Clone, Debug, Default)]
pub struct Statics {
    addresses: Vec<Entry<StaticAddress, u32>>,
    routes: Vec<Entry<Route, RouteSpec>>,
    rules: Vec<Entry<Rule, ()>>,
}

impl Statics {
    /// Takes the entries of `config`: those no longer configured go (rules,
    /// routes, addresses), those kept stay as they are, the new ones are
    /// added (addresses, routes, rules).
    pub fn set_config(&mut self, config: &Config, system: &SystemView) -> Vec<Effect> {
        let mut out = Vec::new();
        let old = std::mem::take(self);
        let (kept_rules, gone_rules) = keep(old.rules, &config.static_rules);
        let (kept_routes, gone_routes) = keep(old.routes, &config.static_routes);
        let (kept_addresses, gone_addresses) = keep(old.addresses, &config.static_addresses);
        for entry in gone_rules {
            if entry.installed.is_some() {
                out.push(Effect::DelRule(Box::new(entry.config)));
            }
        }
        for entry in gone_routes {
            if let Some(spec) = entry.installed {
                out.push(Effect::DelRoute(Box::new(spec)));
            }
        }
        for entry in gone_addresses {
            if let Some(ifindex) = entry.installed {
                out.push(Effect::DelStaticAddress {
                    ifindex,
                    address: entry.config.address,
                    prefix_len: entry.config.prefix_len,
                });
            }
        }
        self.addresses = take_in_order(kept_addresses, &config.static_addresses);
        self.routes = take_in_order(kept_routes, &config.static_routes);
        self.rules = take_in_order(kept_rules, &config.static_rules);
        out.extend(self.install_pending(system));
        out
    }

    /// Adds what is not installed and can be now.
    pub fn install_pending(&mut self, system: &SystemView) -> Vec<Effect> {
        let mut out = Vec::new();
        for entry in &mut self.addresses {
            if entry.installed.is_some() {
                continue;
            }
            let a = &entry.config;
            match system.link_by_name(&a.dev) {
                Some(link) => {
                    entry.installed = Some(link.ifindex);
                    entry.noted = false;
                    out.push(Effect::AddStaticAddress {
                        ifindex: link.ifindex,
                        address: a.address,
                        prefix_len: a.prefix_len,
                        label: a.label.clone(),
                    });
                }
                None => {
                    if !entry.noted {
                        entry.noted = true;
                        tracing::warn!(
                            address = %a.address,
                            dev = %a.dev,
                            "static address waits for its interface, which does not exist"
                        );
                    }
                }
            }
        }
        for entry in &mut self.routes {
            if entry.installed.is_some() {
                continue;
            }
            match resolve_route(&entry.config, system) {
                Ok(spec) => {
                    entry.installed = Some(spec.clone());
                    entry.noted = false;
                    out.push(Effect::AddRoute(Box::new(spec)));
                }
                Err(why) => {
                    if !entry.noted {
                        entry.noted = true;
                        tracing::warn!(
                            route = %entry.config.destination,
                            "static route waits: {why}"
                        );
                    }
                }
            }
        }
        for entry in &mut self.rules {
            if entry.installed.is_none() {
                entry.installed = Some(());
                out.push(Effect::AddRule(Box::new(entry.config.clone())));
            }
        }
        out
    }

    /// The agent stops: rules, routes, then addresses go, as keepalived
    /// removes them.
    pub fn remove_all(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        for entry in &mut self.rules {
            if entry.installed.take().is_some() {
                out.push(Effect::DelRule(Box::new(entry.config.clone())));
            }
        }
        for entry in &mut self.routes {
            if let Some(spec) = entry.installed.take() {
                out.push(Effect::DelRoute(Box::new(spec)));
            }
        }
        for entry in &mut self.addresses {
            if let Some(ifindex) = entry.installed.take() {
                out.push(Effect::DelStaticAddress {
                    ifindex,
                    address: entry.config.address,
                    prefix_len: entry.config.prefix_len,
                });
            }
        }
        out
    }

    /// The kernel refused a static route: it counts as not installed, and
    /// is tried again on the next link event (its interface coming up, its
    /// gateway's becoming reachable).
    pub fn route_failed(&mut self, spec: &RouteSpec) {
        for entry in &mut self.routes {
            if entry.installed.as_ref() == Some(spec) {
                entry.installed = None;
                entry.noted = true;
            }
        }
    }

    /// The same for a static address.
    pub fn address_failed(&mut self, ifindex: u32, address: std::net::IpAddr) {
        for entry in &mut self.addresses {
            if entry.installed == Some(ifindex) && entry.config.address == address {
                entry.installed = None;
                entry.noted = true;
            }
        }
    }

    /// An interface went away and the kernel removed its addresses and
    /// routes with it: they go back on when it comes back.
    pub fn link_removed(&mut self, ifindex: u32) {
        for entry in &mut self.addresses {
            if entry.installed == Some(ifindex) {
                entry.installed = None;
            }
        }
        for entry in &mut self.routes {
            let on_it = entry.installed.as_ref().is_some_and(|spec| {
                spec.oif == Some(ifindex) || spec.hop_ifindexes.contains(&ifindex)
            });
            if on_it {
                entry.installed = None;
            }
        }
    }

    /// keepalived's `reinstate_static_address`: a tracked static address
    /// someone else removed goes back, with the static routes (the kernel
    /// drops an IPv4 route that used it as source without telling).
    pub fn address_removed(
        &mut self,
        ifindex: u32,
        address: std::net::IpAddr,
        prefix_len: u8,
        by: &Requester,
    ) -> Vec<Effect> {
        if *by == Requester::Agent {
            return Vec::new();
        }
        let Some(entry) = self.addresses.iter().find(|e| {
            e.config.track
                && e.installed == Some(ifindex)
                && e.config.address == address
                && e.config.prefix_len == prefix_len
        }) else {
            return Vec::new();
        };
        tracing::warn!(%address, %by, "a static address was removed; restoring it");
        let mut out = vec![Effect::AddStaticAddress {
            ifindex,
            address,
            prefix_len,
            label: entry.config.label.clone(),
        }];
        out.extend(
            self.routes
                .iter()
                .filter_map(|e| e.installed.clone())
                .map(|spec| Effect::AddRoute(Box::new(spec))),
        );
        out
    }

    /// keepalived's `reinstate_static_route`.
    pub fn route_removed(&self, removed: &RemovedRoute, by: &Requester) -> Vec<Effect> {
        if *by == Requester::Agent {
            return Vec::new();
        }
        self.routes
            .iter()
            .filter(|e| e.config.track)
            .filter_map(|e| e.installed.as_ref())
            .find(|spec| routes::is_route(spec, removed, true))
            .map(|spec| {
                tracing::warn!(route = %spec.route.destination, %by, "a static route was removed; restoring it");
                vec![Effect::AddRoute(Box::new(spec.clone()))]
            })
            .unwrap_or_default()
    }

    /// keepalived's `reinstate_static_rule`.
    pub fn rule_removed(&self, removed: &RemovedRule, by: &Requester) -> Vec<Effect> {
        if *by == Requester::Agent {
            return Vec::new();
        }
        self.rules
            .iter()
            .filter(|e| e.config.track && e.installed.is_some())
            .find(|e| routes::is_rule(&e.config, removed))
            .map(|e| {
                tracing::warn!(priority = e.config.priority, %by, "a static rule was removed; restoring it");
                vec![Effect::AddRule(Box::new(e.config.clone()))]
            })
            .unwrap_or_default()
    }
}

/// Entries of one kind.
type Entries<T, I> = Vec<Entry<T, I>>;

/// Splits `old` into the entries `new` still has and the others.
fn keep<T: PartialEq, I>(old: Entries<T, I>, new: &[T]) -> (Entries<T, I>, Entries<T, I>) {
    old.into_iter().partition(|e| new.contains(&e.config))
}

/// The entries of `new`, in its order, reusing the kept ones' state.
fn take_in_order<T: PartialEq + Clone, I>(
    mut kept: Vec<Entry<T, I>>,
    new: &[T],
) -> Vec<Entry<T, I>> {
    new.iter()
        .map(
            |config| match kept.iter().position(|e| e.config == *config) {
                Some(at) => kept.remove(at),
                None => Entry::new(config.clone()),
            },
        )
        .collect()
}

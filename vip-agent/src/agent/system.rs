//! What the agent knows of the kernel's links and addresses: a copy kept
//! current by a dump at start and by netlink events, so every decision that
//! depends on an interface or an address is a pure function of this view.

use std::{
    collections::BTreeMap,
    net::{IpAddr, Ipv6Addr},
};

use crate::net::netlink::{Address, Link, LinkEvent, NetEvent, Requester};

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemView {
    links: BTreeMap<u32, Link>,
    addresses: Vec<Address>,
}

impl SystemView {
    pub fn new(links: Vec<Link>, addresses: Vec<Address>) -> Self {
        Self {
            links: links.into_iter().map(|l| (l.ifindex, l)).collect(),
            addresses,
        }
    }

    pub fn apply(&mut self, event: &NetEvent) {
        match event {
            NetEvent::Link(LinkEvent::Changed(link)) => {
                // A re-created interface has a new index under the old name.
                self.links
                    .retain(|&i, l| i == link.ifindex || l.name != link.name);
                self.links.insert(link.ifindex, link.clone());
            }
            NetEvent::Link(LinkEvent::Removed { ifindex, .. }) => {
                self.links.remove(ifindex);
                self.addresses.retain(|a| a.ifindex != *ifindex);
            }
            NetEvent::AddressAdded(address) => {
                self.addresses.retain(|a| !same_address(a, address));
                self.addresses.push(address.clone());
            }
            NetEvent::AddressRemoved { address, .. } => {
                self.addresses.retain(|a| !same_address(a, address));
            }
            // Routes and rules are not part of the view: the agent only
            // needs to hear of its own being removed.
            NetEvent::RouteRemoved { .. } | NetEvent::RuleRemoved { .. } => {}
        }
    }

    /// The events that take this view to `links` and `addresses` (a fresh
    /// dump, after events were lost), in the order the kernel would have
    /// sent them: links that went, links that came or changed, addresses
    /// that went, addresses that came or changed. Who removed an address
    /// is not known any more.
    pub fn missed_events(&self, links: &[Link], addresses: &[Address]) -> Vec<NetEvent> {
        let mut events: Vec<NetEvent> = self
            .links
            .values()
            .filter(|old| !links.iter().any(|l| l.ifindex == old.ifindex))
            .map(|old| {
                NetEvent::Link(LinkEvent::Removed {
                    ifindex: old.ifindex,
                    name: old.name.clone(),
                })
            })
            .collect();
        events.extend(
            links
                .iter()
                .filter(|new| self.links.get(&new.ifindex) != Some(*new))
                .map(|new| NetEvent::Link(LinkEvent::Changed(new.clone()))),
        );
        events.extend(
            self.addresses
                .iter()
                // Those of a link that went go with it.
                .filter(|old| links.iter().any(|l| l.ifindex == old.ifindex))
                .filter(|old| !addresses.iter().any(|a| same_address(a, old)))
                .map(|old| NetEvent::AddressRemoved {
                    address: old.clone(),
                    by: Requester::Unknown,
                }),
        );
        events.extend(
            addresses
                .iter()
                .filter(|new| {
                    !self
                        .addresses
                        .iter()
                        .any(|a| same_address(a, new) && same_but_lifetime(a, new))
                })
                .map(|new| NetEvent::AddressAdded(new.clone())),
        );
        events
    }

    pub fn link(&self, ifindex: u32) -> Option<&Link> {
        self.links.get(&ifindex)
    }

    pub fn link_by_name(&self, name: &str) -> Option<&Link> {
        self.links.values().find(|l| l.name == name)
    }

    pub fn link_up(&self, name: &str) -> bool {
        self.link_by_name(name).is_some_and(|l| l.up)
    }

    pub fn addresses(&self, ifindex: u32) -> impl Iterator<Item = &Address> {
        self.addresses.iter().filter(move |a| a.ifindex == ifindex)
    }

    pub fn address(&self, ifindex: u32, address: IpAddr, prefix_len: u8) -> Option<&Address> {
        self.addresses(ifindex)
            .find(|a| a.address == address && a.prefix_len == prefix_len)
    }

    /// The IPv6 link-local address of an interface: the source of NDP.
    pub fn link_local(&self, ifindex: u32) -> Option<Ipv6Addr> {
        self.addresses(ifindex).find_map(|a| match a.address {
            IpAddr::V6(v6) if a.link_scope => Some(v6),
            _ => None,
        })
    }
}

fn same_address(a: &Address, b: &Address) -> bool {
    a.ifindex == b.ifindex && a.address == b.address && a.prefix_len == b.prefix_len
}

/// Equal but for the lifetime left, which the kernel counts down without
/// telling.
fn same_but_lifetime(a: &Address, b: &Address) -> bool {
    Address {
        valid_lft: None,
        ..a.clone()
    } == Address {
        valid_lft: None,
        ..b.clone()
    }
}

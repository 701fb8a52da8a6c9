//! The program's counters as userspace reports them: per-CPU values summed,
//! keyed by (interface, VRID, family) for VRRP and by interface for ARP/NDP.

use std::{collections::BTreeMap, net::IpAddr};

use serde::Serialize;
use vip_common::{VrrpStats, MAP_L2_STATS, MAP_VRRP_STATS};

use super::{addr_from_key, map_err, Dataplane, DataplaneError, Family};

/// Counters of one (interface, VRID, family), summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VrrpCounters {
    pub ifindex: u32,
    pub vrid: u8,
    pub family: Option<Family>,
    /// VRRP frames seen (each is also counted in exactly one field below).
    pub frames: u64,
    pub adverts_valid: u64,
    pub drop_ttl: u64,
    pub drop_version: u64,
    pub drop_type: u64,
    pub drop_length: u64,
    pub drop_checksum: u64,
    pub drop_auth: u64,
    pub drop_not_peer: u64,
    /// Passed without validation: no policy for this key.
    pub unconfigured: u64,
    /// CLOCK_MONOTONIC nanoseconds of the last valid advert.
    pub last_seen_ns: Option<u64>,
    pub last_source: Option<IpAddr>,
}

/// ARP/NDP counters of one interface, summed over CPUs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct L2Counters {
    pub ifindex: u32,
    pub arp_requests_seen: u64,
    pub arp_replies_sent: u64,
    pub arp_passed: u64,
    pub arp_fenced: u64,
    pub arp_other: u64,
    pub ns_seen: u64,
    pub na_sent: u64,
    pub ns_passed: u64,
    pub ns_fenced: u64,
    pub vrrp_short: u64,
    pub vrrp_fragments: u64,
    /// Packets to a VIP held without `accept` (non-owner master), dropped.
    pub no_accept_dropped: u64,
}

/// Everything the program counts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    pub vrrp: Vec<VrrpCounters>,
    pub l2: Vec<L2Counters>,
}

impl Counters {
    pub fn vrrp_for(&self, ifindex: u32, vrid: u8, family: Family) -> Option<&VrrpCounters> {
        self.vrrp
            .iter()
            .find(|c| c.ifindex == ifindex && c.vrid == vrid && c.family == Some(family))
    }

    pub fn l2_for(&self, ifindex: u32) -> Option<&L2Counters> {
        self.l2.iter().find(|c| c.ifindex == ifindex)
    }
}

impl Dataplane {
    /// Every counter, summed over CPUs, sorted by key.
    pub fn counters(&self) -> Result<Counters, DataplaneError> {
        let mut counters = Counters::default();
        for ((ifindex, vrid, family), total) in self.vrrp_stats()? {
            let family = Family::from_key(family);
            counters.vrrp.push(VrrpCounters {
                ifindex,
                vrid,
                family: Some(family),
                frames: total.frames,
                adverts_valid: total.adverts_valid,
                drop_ttl: total.drop_ttl,
                drop_version: total.drop_version,
                drop_type: total.drop_type,
                drop_length: total.drop_length,
                drop_checksum: total.drop_checksum,
                drop_auth: total.drop_auth,
                drop_not_peer: total.drop_not_peer,
                unconfigured: total.unconfigured,
                last_seen_ns: (total.last_seen_ns != 0).then_some(total.last_seen_ns),
                last_source: (total.last_seen_ns != 0)
                    .then(|| addr_from_key(family, total.last_source)),
            });
        }
        let mut l2 = BTreeMap::new();
        for entry in self.l2_stats.iter() {
            let (key, per_cpu) = entry.map_err(map_err(MAP_L2_STATS))?;
            let t: &mut L2Counters = l2.entry(key.ifindex).or_default();
            t.ifindex = key.ifindex;
            for c in per_cpu.iter() {
                t.arp_requests_seen += c.arp_requests_seen;
                t.arp_replies_sent += c.arp_replies_sent;
                t.arp_passed += c.arp_passed;
                t.arp_fenced += c.arp_fenced;
                t.arp_other += c.arp_other;
                t.ns_seen += c.ns_seen;
                t.na_sent += c.na_sent;
                t.ns_passed += c.ns_passed;
                t.ns_fenced += c.ns_fenced;
                t.vrrp_short += c.vrrp_short;
                t.vrrp_fragments += c.vrrp_fragments;
                t.no_accept_dropped += c.no_accept_dropped;
            }
        }
        counters.l2 = l2.into_values().collect();
        Ok(counters)
    }

    /// VRRP counters summed over CPUs, per (ifindex, vrid, family byte);
    /// `last_seen_ns`/`last_source` are the newest of any CPU.
    pub fn vrrp_stats(&self) -> Result<BTreeMap<(u32, u8, u8), VrrpStats>, DataplaneError> {
        let mut totals = BTreeMap::new();
        for entry in self.vrrp_stats.iter() {
            let (key, per_cpu) = entry.map_err(map_err(MAP_VRRP_STATS))?;
            let t: &mut VrrpStats = totals
                .entry((key.ifindex, key.vrid, key.family))
                .or_default();
            for c in per_cpu.iter() {
                t.frames += c.frames;
                t.adverts_valid += c.adverts_valid;
                t.drop_ttl += c.drop_ttl;
                t.drop_version += c.drop_version;
                t.drop_type += c.drop_type;
                t.drop_length += c.drop_length;
                t.drop_checksum += c.drop_checksum;
                t.drop_auth += c.drop_auth;
                t.drop_not_peer += c.drop_not_peer;
                t.unconfigured += c.unconfigured;
                if c.last_seen_ns > t.last_seen_ns {
                    t.last_seen_ns = c.last_seen_ns;
                    t.last_source = c.last_source;
                }
            }
        }
        Ok(totals)
    }
}

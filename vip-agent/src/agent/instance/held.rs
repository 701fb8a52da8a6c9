//! The part of an instance that exists while it holds its VIPs: where each
//! is installed, the announcements planned for them, their next refresh.

use std::{net::IpAddr, time::Duration};

use super::{Context, Slot};
use crate::{
    agent::{announce::AnnounceSchedule, effect::Effect},
    net::{
        announce::{gratuitous_arp, unsolicited_na},
        netlink::{Address, Requester},
    },
};

/// A VIP as installed: where, with which MAC for the fast path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub address: IpAddr,
    pub prefix_len: u8,
    pub label: Option<String>,
    pub ifindex: u32,
    pub mac: [u8; 6],
}

/// The instance holds its VIPs.
#[derive(Clone, Debug)]
pub(super) struct Held {
    pub(super) placements: Vec<Placement>,
    /// One announcement frame per VIP that can be announced, with the
    /// interface it leaves on: the schedule's round.
    pub(super) frames: Vec<(u32, Vec<u8>)>,
    pub(super) announce: Option<AnnounceSchedule>,
    pub(super) next_vip_refresh: Duration,
}

impl Slot {
    /// Becoming Master: ownership into XDP first (so the fast path answers
    /// ARP/NS as soon as anyone asks), then the addresses.
    pub(super) fn install_vips(&mut self, ctx: &Context, now: Duration, out: &mut Vec<Effect>) {
        let Some(run) = &self.run else {
            return;
        };
        let mut placements = Vec::new();
        for vip in self.spec.all_vips() {
            let (ifindex, mac) = match vip.dev.as_deref() {
                Some(dev) if dev != self.spec.config.interface => {
                    match ctx.system.link_by_name(dev) {
                        Some(other) => (other.ifindex, other.mac),
                        None => {
                            tracing::error!(instance = %self.name(), vip = %vip.address, dev, "VIP interface does not exist");
                            continue;
                        }
                    }
                }
                _ => (run.link.ifindex, run.link.mac),
            };
            placements.push(Placement {
                address: vip.address,
                prefix_len: vip.prefix_len,
                label: vip.label.clone(),
                ifindex,
                mac,
            });
        }
        let vrid = self.spec.config.virtual_router_id;
        for p in &placements {
            out.push(Effect::SetOwned {
                ifindex: p.ifindex,
                vip: p.address,
                mac: p.mac,
                vrid,
            });
        }
        push_vips(&placements, ctx.vip_lifetime, out);
        let frames = placements
            .iter()
            .filter_map(|p| {
                let frame = match p.address {
                    IpAddr::V4(v4) => gratuitous_arp(p.mac, v4),
                    IpAddr::V6(v6) => unsolicited_na(p.mac, ctx.system.link_local(p.ifindex)?, v6),
                };
                Some((p.ifindex, frame))
            })
            .collect();
        if let Some(run) = &mut self.run {
            run.held = Some(Held {
                placements,
                frames,
                announce: None,
                next_vip_refresh: now + ctx.vip_lifetime / 3,
            });
        }
    }

    /// Leaving Master: XDP stops answering first, then the addresses go.
    /// Addresses in `keep` stay untouched: another instance takes them over.
    /// Returns the placements kept.
    pub(super) fn remove_vips(&mut self, keep: &[IpAddr], out: &mut Vec<Effect>) -> Vec<Placement> {
        let Some(held) = self.run.as_mut().and_then(|r| r.held.take()) else {
            return Vec::new();
        };
        let (kept, released): (Vec<Placement>, Vec<Placement>) = held
            .placements
            .into_iter()
            .partition(|p| keep.contains(&p.address));
        for p in &released {
            out.push(Effect::ClearOwned {
                ifindex: p.ifindex,
                vip: p.address,
            });
        }
        for p in released {
            out.push(Effect::DelVip {
                ifindex: p.ifindex,
                address: p.address,
                prefix_len: p.prefix_len,
            });
        }
        kept
    }

    /// Plans the announcements and sends the first slice with the decision
    /// itself: a client learns the new MAC before the new Master's first
    /// advert (which follows it) makes a resigning Master let go.
    pub(super) fn schedule_announcements(&mut self, now: Duration, out: &mut Vec<Effect>) {
        let garp = self.spec.config.garp;
        let spacing = self.spec.announce_spacing();
        if let Some(held) = self.run.as_mut().and_then(|r| r.held.as_mut()) {
            let mut schedule = AnnounceSchedule::start(now, garp, spacing, held.frames.len());
            push_frames(&held.frames, &schedule.take_due(now), out);
            held.announce = Some(schedule);
        }
    }

    /// A reload kept this instance with other gratuitous ARP settings (its
    /// own, or the `global_defs` ones it inherits): a running Master's
    /// announcements follow them from now on.
    pub fn retune_announcements(&mut self, now: Duration) {
        let garp = self.spec.config.garp;
        let spacing = self.spec.announce_spacing();
        if let Some(schedule) = self
            .run
            .as_mut()
            .and_then(|r| r.held.as_mut())
            .and_then(|h| h.announce.as_mut())
        {
            schedule.retune(garp, spacing, now);
        }
    }

    /// A VIP this Master holds was removed from the interface by someone
    /// else: put it back at once and announce again. The agent's own
    /// removals (a leftover of a crashed run, a release) are no loss.
    pub fn on_address_removed(
        &mut self,
        removed: &Address,
        by: &Requester,
        ctx: &Context,
        now: Duration,
        out: &mut Vec<Effect>,
    ) {
        if *by == Requester::Agent {
            return;
        }
        let Some(held) = self.run.as_ref().and_then(|r| r.held.as_ref()) else {
            return;
        };
        let Some(p) = held.placements.iter().find(|p| {
            p.ifindex == removed.ifindex
                && p.address == removed.address
                && p.prefix_len == removed.prefix_len
        }) else {
            return;
        };
        tracing::warn!(
            instance = %self.spec.config.name,
            vip = %p.address,
            ifindex = p.ifindex,
            by = %by,
            "a held VIP was removed from the interface; restoring it"
        );
        push_vips(std::slice::from_ref(p), ctx.vip_lifetime, out);
        self.schedule_announcements(now, out);
    }
}

/// Adds the VIPs, or renews their lifetime when they are there already.
pub(super) fn push_vips(placements: &[Placement], lifetime: Duration, out: &mut Vec<Effect>) {
    for p in placements {
        out.push(Effect::AddVip {
            ifindex: p.ifindex,
            address: p.address,
            prefix_len: p.prefix_len,
            label: p.label.clone(),
            lifetime,
        });
    }
}

/// The due frames of a round, one effect per run of frames on one interface.
pub(super) fn push_frames(frames: &[(u32, Vec<u8>)], due: &[usize], out: &mut Vec<Effect>) {
    let mut current: Option<(u32, Vec<Vec<u8>>)> = None;
    for &index in due {
        let (ifindex, frame) = &frames[index];
        match &mut current {
            Some((i, batch)) if i == ifindex => batch.push(frame.clone()),
            _ => {
                if let Some((ifindex, frames)) = current.take() {
                    out.push(Effect::SendFrames { ifindex, frames });
                }
                current = Some((*ifindex, vec![frame.clone()]));
            }
        }
    }
    if let Some((ifindex, frames)) = current {
        out.push(Effect::SendFrames { ifindex, frames });
    }
}

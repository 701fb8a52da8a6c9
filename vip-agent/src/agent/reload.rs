//! Installing a configuration into a running agent (start and SIGHUP), and
//! the clean-up of what a crashed run left behind.
//!
//! A reload keeps unchanged instances running untouched (they take the new
//! `global_defs`), stops removed ones, and replaces changed ones. A changed
//! instance that is Master hands its VIPs to its successor, which resumes
//! as Master, so an address that stays never blinks. Whatever no instance
//! holds once the new configuration has started is released: an address
//! another instance merely lists is not kept for it.

use std::{collections::BTreeSet, net::IpAddr, time::Duration};

use crate::{
    config::{Config, VrrpInstance},
    vrrp::{fsm, ProtocolVersion, TransitionReason},
};

use super::{
    core::{Core, PreviousRun, RESTART_ALLOWANCE},
    effect::Effect,
    health,
    instance::{Context, Handed, Slot},
    notify::{FifoSettings, NotifyKind, NotifyState},
};

impl Core {
    pub fn apply_config(&mut self, config: Config, now: Duration) -> Vec<Effect> {
        let mut out = self.install(config, &[], now);
        if self.config.global.fifo_write_vrrp_states_on_reload {
            out.extend(self.states_for_fifos());
        }
        self.with_groups(out)
    }

    /// `fifo_write_vrrp_states_on_reload`: every sync group's state, then
    /// every running instance's, to the FIFOs only (no script runs).
    fn states_for_fifos(&self) -> Vec<Effect> {
        let fifo_only = |kind, name: &str, state, priority| Effect::Notify {
            scripts: Box::default(),
            default_user: None,
            kind,
            name: name.to_string(),
            state,
            priority,
        };
        let groups = self.config.sync_groups.iter().filter_map(|g| {
            let state = *self.group_states.get(&g.name)?;
            Some(fifo_only(NotifyKind::Group, &g.name, state, 0))
        });
        let instances = self.slots.iter().filter_map(|s| {
            let (state, priority) = s.notify_state()?;
            Some(fifo_only(NotifyKind::Instance, s.name(), state, priority))
        });
        groups.chain(instances).collect()
    }

    /// [`Core::apply_config`], with `restarted` naming the new instances
    /// that resume as Master after a restart of the agent.
    pub(super) fn install(
        &mut self,
        config: Config,
        restarted: &[String],
        now: Duration,
    ) -> Vec<Effect> {
        // The FIFOs first: every notification of this change goes to them.
        let mut out = vec![Effect::NotifyFifos(Box::new(FifoSettings::of(
            &config.global,
        )))];
        self.forget_group_states(&config);
        // Then the static entries: an instance may need a static address
        // (as its source) to start.
        out.extend(self.statics.set_config(&config, &self.system));
        let mut old = std::mem::take(&mut self.slots);
        let mut unused_interfaces: Vec<String> = old
            .iter()
            .map(|s| s.spec.config.interface.clone())
            .filter(|i| !config.instances.iter().any(|c| c.interface == *i))
            .collect();
        unused_interfaces.sort();
        unused_interfaces.dedup();
        let mut kept = Vec::new();
        for instance in &config.instances {
            // Gratuitous ARP settings (often inherited from global_defs)
            // change how a Master announces, not the virtual router: the
            // instance keeps running and takes them.
            // A sync group added or left changes when the instance may
            // become Master: it runs again with its new membership.
            let same = |s: &Slot| {
                (s.spec.config == *instance
                    || VrrpInstance {
                        garp: instance.garp,
                        ..s.spec.config.clone()
                    } == *instance)
                    && s.spec.sync_group == in_sync_group(&config, &instance.name)
            };
            if let Some(pos) = old.iter().position(same) {
                let mut slot = old.remove(pos);
                slot.spec.global = config.global.clone();
                slot.spec.config.garp = instance.garp;
                slot.retune_announcements(now);
                kept.push(slot);
            }
        }
        // A VIP stays installed across the reload only for a kept Master
        // holding it, or for the successor of a Master.
        let held_by_kept: Vec<IpAddr> = kept.iter().flat_map(Slot::held_vips).collect();
        let mut resumed = Vec::new();
        let mut still_resigned = Vec::new();
        let mut handed_over = Handed::default();
        let ctx = Context::of(&self.system, &self.options);
        let not_all_master = groups_not_all_master(&config, kept.iter().chain(&old));
        for mut slot in old {
            let successor = config.instances.iter().find(|i| slot.spec.same_router(i));
            if successor.is_some() && slot.resigned {
                still_resigned.push(slot.name().to_string());
            }
            match successor {
                Some(successor) if slot.is_master() && not_all_master.contains(&successor.name) => {
                    tracing::info!(instance = %slot.name(), "instance changed by reload; its sync group was not all Master, so it starts again as Backup, as keepalived does");
                    slot.stop(&ctx, now, &held_by_kept, &mut out);
                }
                Some(successor) if slot.is_master() => {
                    tracing::info!(instance = %slot.name(), "instance changed by reload; it stays Master");
                    let mut keep = held_by_kept.clone();
                    keep.extend(
                        successor
                            .virtual_ipaddresses
                            .iter()
                            .chain(&successor.virtual_ipaddresses_excluded)
                            .map(|v| v.address),
                    );
                    let handed = slot.hand_over(&keep, successor, &mut out);
                    handed_over.placements.extend(handed.placements);
                    handed_over.routes.extend(handed.routes);
                    handed_over.rules.extend(handed.rules);
                    resumed.push(slot.name().to_string());
                }
                Some(_) => {
                    tracing::info!(instance = %slot.name(), "instance changed by reload");
                    slot.stop(&ctx, now, &held_by_kept, &mut out);
                }
                None => {
                    tracing::info!(instance = %slot.name(), "instance removed by reload");
                    slot.delete(&ctx, now, &held_by_kept, &mut out);
                }
            }
        }
        self.slots = kept;
        self.config = config.clone();
        for instance in &config.instances {
            if self.slots.iter().any(|s| s.spec.config == *instance) {
                continue;
            }
            let mut slot = Slot::new(instance.clone(), config.global.clone());
            slot.spec.sync_group = in_sync_group(&config, &instance.name);
            slot.resume_as_master = if resumed.contains(&instance.name) {
                Some(TransitionReason::Reload)
            } else if restarted.contains(&instance.name) {
                Some(TransitionReason::Restart)
            } else {
                None
            };
            slot.resigned = still_resigned.contains(&instance.name);
            self.slots.push(slot);
        }
        // Keep the configuration's order for status output.
        self.slots.sort_by_key(|s| {
            config
                .instances
                .iter()
                .position(|i| i.name == s.name())
                .unwrap_or(usize::MAX)
        });
        out.extend(self.restart_scripts());
        out.extend(self.restart_trackers());
        // Tracker states first, so an instance starts with its priority and
        // fault already known.
        out.extend(self.refresh_health(now));
        out.extend(self.reopen_changed_sockets());
        out.extend(self.start_pending(now));
        out.extend(self.close_unused_sockets());
        out.extend(self.remove_unused_vmacs());
        out.extend(
            unused_interfaces
                .into_iter()
                .map(|interface| Effect::DetachXdp { interface }),
        );
        out.extend(self.refresh_health(now));
        // A successor that did not take a handed-over VIP (it starts in
        // fault, or cannot start) must not leave it installed.
        let (held_routes, held_rules): (Vec<_>, Vec<_>) =
            self.slots.iter().map(Slot::held_routing).unzip();
        let held_routes: Vec<_> = held_routes.into_iter().flatten().collect();
        let held_rules: Vec<_> = held_rules.into_iter().flatten().collect();
        for rule in handed_over.rules {
            if !held_rules.contains(&rule) {
                out.push(Effect::DelRule(Box::new(rule)));
            }
        }
        for route in handed_over.routes {
            if !held_routes.contains(&route) {
                out.push(Effect::DelRoute(Box::new(route)));
            }
        }
        let held = self.held_vips();
        for p in handed_over
            .placements
            .into_iter()
            .filter(|p| !held.contains(&p.address))
        {
            out.push(Effect::ClearOwned {
                ifindex: p.xdp_ifindex,
                vip: p.address,
            });
            out.push(Effect::DelVip {
                ifindex: p.ifindex,
                address: p.address,
                prefix_len: p.prefix_len,
            });
        }
        out
    }

    /// Sync groups that are gone, or whose members changed, start over; a
    /// new group of address owners starts as Master, as in keepalived,
    /// which announces no initial state for it.
    fn forget_group_states(&mut self, config: &Config) {
        let old = &self.config;
        self.group_states.retain(|name, _| {
            let before = old.sync_groups.iter().find(|g| g.name == *name);
            let after = config.sync_groups.iter().find(|g| g.name == *name);
            matches!((before, after), (Some(b), Some(a)) if b.instances == a.instances)
        });
        self.member_states
            .retain(|name, _| config.instances.iter().any(|i| i.name == *name));
        for group in &config.sync_groups {
            let owners = group
                .instances
                .iter()
                .all(|m| config.instance(m).is_some_and(|i| i.priority == 255));
            if owners && !group.instances.is_empty() {
                self.group_states
                    .entry(group.name.clone())
                    .or_insert(NotifyState::Master);
            }
        }
    }

    /// (Re)starts the `vrrp_script` runners the instances and sync groups
    /// use. A new script starts as `init_fail` says; a running one keeps its
    /// verdict across the reload.
    fn restart_scripts(&mut self) -> Vec<Effect> {
        let used = health::tracked_scripts(&self.config);
        self.scripts.retain(|name, _| used.contains(name));
        let mut scripts = Vec::new();
        for script in &self.config.scripts {
            if used.contains(&script.name) {
                let ok = *self
                    .scripts
                    .entry(script.name.clone())
                    .or_insert(!script.init_fail);
                scripts.push((script.clone(), ok));
            }
        }
        vec![Effect::RunScripts {
            scripts,
            default_user: self.config.global.script_user.clone(),
        }]
    }

    /// (Re)starts the file and process tracker runners. A tracker that
    /// stays keeps what it last reported until its runner reports again.
    fn restart_trackers(&mut self) -> Vec<Effect> {
        let (files, processes) = health::tracked_files_and_processes(&self.config);
        self.observed
            .files
            .retain(|name, _| files.iter().any(|f| f.name == *name));
        self.observed
            .processes
            .retain(|name, _| processes.iter().any(|p| p.name == *name));
        let reload = self.trackers_started;
        self.trackers_started = true;
        vec![Effect::RunTrackers {
            files,
            processes,
            reload,
        }]
    }

    /// Whether `inst` resumes as Master after a restart of the agent: the
    /// previous run owned its VIPs on its interface (its XDP ownership
    /// entries say so), every VIP is still there with the finite lifetime
    /// the agent gives them, and the previous run's last heartbeat is recent
    /// enough that no Backup can have taken over yet.
    ///
    /// A Backup's Master_Down_Timer runs from the last advert it received;
    /// that advert may be up to one advertisement interval older than the
    /// last heartbeat, and the restarted agent needs a moment before its
    /// first advert leaves. So the heartbeat must be younger than
    /// Master_Down_Interval (at this instance's priority: a Backup's is
    /// lower, so its interval longer) less one advertisement interval less
    /// [`RESTART_ALLOWANCE`].
    fn resumes_after_restart(&self, inst: &VrrpInstance, previous: &PreviousRun) -> bool {
        let Some(link) = self.system.link_by_name(&inst.interface) else {
            return false;
        };
        let owned = |ifindex: u32, vip: Option<std::net::IpAddr>| {
            previous.owned.iter().any(|o| {
                o.ifindex == ifindex
                    && o.vrid == inst.virtual_router_id
                    && vip.is_none_or(|v| v == o.vip)
            })
        };
        if !owned(link.ifindex, None) {
            return false;
        }
        let all_in_place = inst
            .virtual_ipaddresses
            .iter()
            .chain(&inst.virtual_ipaddresses_excluded)
            .all(|vip| {
                let (Some(dev), Some(base)) = (
                    self.system.link_by_name(inst.vip_interface(vip)),
                    self.system.link_by_name(inst.vip_base(vip)),
                ) else {
                    return false;
                };
                let present = self
                    .system
                    .address(dev.ifindex, vip.address, vip.prefix_len)
                    .is_some_and(|a| a.valid_lft.is_some());
                present && owned(base.ifindex, Some(vip.address))
            });
        if !all_in_place {
            return false;
        }
        let version = if inst.version == 3 {
            ProtocolVersion::V3
        } else {
            ProtocolVersion::V2
        };
        let interval = Duration::from_millis(u64::from(inst.advert_int_ms));
        let down =
            fsm::master_down_interval(version, inst.priority, interval, inst.down_timer_adverts);
        previous.heartbeat_age + interval + RESTART_ALLOWANCE < down
    }

    /// The instances that resume as Master after a restart.
    pub(super) fn restarted_masters(
        &self,
        config: &Config,
        previous: Option<&PreviousRun>,
    ) -> Vec<String> {
        let Some(previous) = previous else {
            return Vec::new();
        };
        let names: Vec<String> = config
            .instances
            .iter()
            .filter(|i| self.resumes_after_restart(i, previous))
            .map(|i| i.name.clone())
            .collect();
        for name in &names {
            tracing::info!(
                instance = %name,
                heartbeat_age = ?previous.heartbeat_age,
                "the previous run was Master moments ago and its VIPs are in place; resuming as Master"
            );
        }
        names
    }

    /// VIPs with a finite lifetime when the agent starts: a crashed run of
    /// this agent added them (an operator's static address is permanent).
    /// Remove them before the election decides who holds them, except for
    /// the instances that resume as Master. Only at start: on a reload,
    /// finite-lifetime VIPs are this run's own. Virtual routes and rules do
    /// not expire: those of every instance that does not resume go too (a
    /// removal of one that is not there changes nothing), as keepalived
    /// removes its virtual rules at start.
    pub(super) fn remove_crash_leftovers(
        &self,
        config: &Config,
        resuming: &[String],
    ) -> Vec<Effect> {
        let mut out = Vec::new();
        for inst in config
            .instances
            .iter()
            .filter(|i| !resuming.contains(&i.name))
        {
            for rule in &inst.virtual_rules {
                out.push(Effect::DelRule(Box::new(rule.clone())));
            }
            for route in &inst.virtual_routes {
                if let Ok(spec) = super::routing::resolve_route(route, &self.system) {
                    out.push(Effect::DelRoute(Box::new(spec)));
                }
            }
            let vips = inst
                .virtual_ipaddresses
                .iter()
                .chain(&inst.virtual_ipaddresses_excluded);
            for vip in vips {
                let dev = inst.vip_interface(vip);
                let Some(link) = self.system.link_by_name(dev) else {
                    continue;
                };
                match self
                    .system
                    .address(link.ifindex, vip.address, vip.prefix_len)
                {
                    Some(a) if a.valid_lft.is_some() => {
                        tracing::warn!(
                            instance = %inst.name,
                            vip = %vip.address,
                            interface = dev,
                            "removing a VIP left behind by an earlier run"
                        );
                        out.push(Effect::DelVip {
                            ifindex: link.ifindex,
                            address: vip.address,
                            prefix_len: vip.prefix_len,
                        });
                    }
                    Some(_) => tracing::warn!(
                        instance = %inst.name,
                        vip = %vip.address,
                        interface = dev,
                        "the VIP is on the interface permanently, an operator's address: the agent \
                         never changes its lifetime nor removes it; while Master it announces it \
                         and answers ARP/NS for it"
                    ),
                    None => {}
                }
            }
        }
        out
    }
}

/// The instance is in a sync group with other members
/// ([`Spec::sync_group`](super::spec::Spec::sync_group)).
fn in_sync_group(config: &Config, instance: &str) -> bool {
    config
        .sync_groups
        .iter()
        .any(|g| g.instances.len() > 1 && g.instances.iter().any(|i| i == instance))
}

/// Members of the new configuration's sync groups in which some member was
/// not Master before the reload. keepalived keeps such a group's Masters
/// Master only when every member was (`restore_vrrp_state`): the others
/// start again as Backup, so a group formed by a reload never holds half
/// of its VIPs here and half on another router.
fn groups_not_all_master<'a>(
    config: &Config,
    before: impl Iterator<Item = &'a Slot> + Clone,
) -> BTreeSet<String> {
    config
        .sync_groups
        .iter()
        .filter(|g| g.instances.len() > 1)
        .filter(|g| {
            !g.instances.iter().all(|member| {
                before
                    .clone()
                    .any(|s| s.is_master() && s.name() == member.as_str())
            })
        })
        .flat_map(|g| g.instances.iter().cloned())
        .collect()
}

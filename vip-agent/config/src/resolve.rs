//! Fills in defaults (keepalived 2.2.7's), inherits global values and checks
//! the configuration as a whole. Every problem is reported; nothing stops at
//! the first one.

use std::collections::{HashMap, HashSet};

use super::diagnostic::{Diagnostics, Location};
use super::interpret::{
    RawAddresses, RawConfig, RawGlobal, RawInstance, RawNotify, RawSyncGroup, RawTrack, Spanned,
    VmacAddress,
};
use super::model::{
    max_advertised_addresses, AddressFamily, Config, GarpSettings, GlobalDefs, InitialState,
    NotifyScripts, SyncGroup, TrackFile, TrackProcess, TrackedInterface, TrackedScript,
    VirtualAddress, Vmac, VrrpInstance, VrrpScript, DEFAULT_DOWN_TIMER_ADVERTS, DEFAULT_MTU,
};
use super::routing::StaticAddress;

const DEFAULT_PRIORITY: u8 = 100;
const DEFAULT_ADVERT_INT_US: u64 = 1_000_000;
const PRIORITY_OWNER: u8 = 255;

/// Takes the raw configuration by value: the address lists move into the
/// configuration rather than being copied (they may hold millions of lines).
pub fn resolve(mut raw: RawConfig, top: &Location, diagnostics: &mut Diagnostics) -> Config {
    let global = raw.global.resolve();
    check_fifos(&raw.global, diagnostics);

    let mut scripts: Vec<VrrpScript> = Vec::new();
    for script in &raw.scripts {
        if scripts.iter().any(|known| known.name == script.value.name) {
            diagnostics.error(
                &script.at,
                format!("vrrp_script {} is defined twice", script.value.name),
            );
            continue;
        }
        scripts.push(script.value.clone());
    }
    let trackers = Trackers {
        files: unique_sections(&raw.track_files, "track_file", |f| &f.name, diagnostics),
        processes: unique_sections(
            &raw.track_processes,
            "vrrp_track_process",
            |p| &p.name,
            diagnostics,
        ),
    };

    warn_repeated_addresses(&raw, diagnostics);

    let mut instances = Vec::new();
    let mut instance_names = HashSet::new();
    for (index, raw_instance) in raw.instances.iter_mut().enumerate() {
        if !instance_names.insert(raw_instance.name.clone()) {
            diagnostics.error(
                &raw_instance.at,
                format!("vrrp_instance {} is defined twice", raw_instance.name),
            );
            continue;
        }
        if let Some(mut instance) =
            resolve_instance(raw_instance, &global, &raw.global, &scripts, diagnostics)
        {
            let mut valid = true;
            instance.track_files = trackers.files_of(
                &raw_instance.name,
                "vrrp_instance",
                &raw_instance.track_files,
                diagnostics,
                &mut valid,
            );
            instance.track_processes = trackers.processes_of(
                &raw_instance.name,
                "vrrp_instance",
                &raw_instance.track_processes,
                diagnostics,
                &mut valid,
            );
            valid &= check_owner_weights(raw_instance, &instance, diagnostics);
            if valid {
                instances.push((index, instance));
            }
        }
    }
    check_duplicate_vrids(&raw.instances, &instances, diagnostics);
    name_vmacs(
        &raw.instances,
        &mut instances,
        raw.global.vmac_prefix.as_deref(),
        diagnostics,
    );

    let mut sync_groups = Vec::new();
    let mut group_of_instance: HashMap<String, String> = HashMap::new();
    for raw_group in &raw.sync_groups {
        if sync_groups
            .iter()
            .any(|group: &SyncGroup| group.name == raw_group.name)
        {
            diagnostics.error(
                &raw_group.at,
                format!("vrrp_sync_group {} is defined twice", raw_group.name),
            );
            continue;
        }
        let mut group = resolve_sync_group(
            raw_group,
            &raw,
            &scripts,
            &mut group_of_instance,
            diagnostics,
        );
        let mut valid = true;
        group.track_files = trackers.files_of(
            &raw_group.name,
            "vrrp_sync_group",
            &raw_group.track_files,
            diagnostics,
            &mut valid,
        );
        group.track_processes = trackers.processes_of(
            &raw_group.name,
            "vrrp_sync_group",
            &raw_group.track_processes,
            diagnostics,
            &mut valid,
        );
        sync_groups.push(group);
    }
    unweight_sync_group_members(&sync_groups, &raw.instances, &mut instances, diagnostics);
    // keepalived: an instance's notify_priority_changes, else its sync
    // group's, else the global one.
    for (index, instance) in &mut instances {
        if raw.instances[*index].notify_priority_changes.is_some() {
            continue;
        }
        let group = raw
            .sync_groups
            .iter()
            .find(|g| g.members.iter().any(|m| m.value == instance.name));
        if let Some(value) = group.and_then(|g| g.notify_priority_changes) {
            instance.notify_priority_changes = value;
        }
    }

    if raw.instances.is_empty() && !diagnostics.items.iter().any(|d| d.is_error()) {
        // An error for check-config, run and reload alike: a reload to a file
        // without instances would drop every VIP without being asked to.
        // (Where a broken block is why there is none, its error says enough.)
        diagnostics.error(
            top,
            "no vrrp_instance is configured: there is nothing to run \
             (to release every VIP, stop the agent)",
        );
    }

    let static_addresses = std::mem::take(&mut raw.static_addresses.values)
        .into_iter()
        .zip(&raw.static_addresses.track)
        .map(|(address, &track)| StaticAddress {
            address: address.address,
            prefix_len: address.prefix_len,
            // keepalived: the address's dev, else default_interface, else eth0.
            dev: address
                .dev()
                .map(str::to_string)
                .or_else(|| raw.global.default_interface.clone())
                .unwrap_or_else(|| "eth0".to_string()),
            label: address.label().map(str::to_string),
            track,
        })
        .collect();

    Config {
        global,
        scripts,
        track_files: trackers.files,
        track_processes: trackers.processes,
        instances: instances
            .into_iter()
            .map(|(_, instance)| instance)
            .collect(),
        sync_groups,
        static_addresses,
        static_routes: raw.static_routes,
        static_rules: raw.static_rules,
    }
}

/// The FIFO keywords that do nothing as written, as keepalived reads them.
fn check_fifos(global: &RawGlobal, diagnostics: &mut Diagnostics) {
    let pairs = [
        (
            "notify_fifo",
            &global.notify_fifo,
            &global.notify_fifo_script,
        ),
        (
            "vrrp_notify_fifo",
            &global.vrrp_notify_fifo,
            &global.vrrp_notify_fifo_script,
        ),
    ];
    for (keyword, fifo, script) in pairs {
        if let (None, Some(script)) = (fifo, script) {
            diagnostics.warning(
                &script.at,
                format!("'{keyword}_script' has no '{keyword}' to read: it is not run"),
            );
        }
    }
    if let (true, Some(vrrp)) = (global.vrrp_fifo_is_global_fifo(), &global.vrrp_notify_fifo) {
        diagnostics.warning(
            &vrrp.at,
            format!(
                "vrrp_notify_fifo {} is also the notify_fifo: it is ignored (with its script), \
                 as keepalived ignores it, so that no line is written to it twice",
                vrrp.value.command
            ),
        );
    }
}

/// keepalived 2.2.7 advertises no more virtual addresses than one advert
/// carries (255, the count field's width) and moves the rest to the
/// excluded ones, which are installed but not advertised: an instance that
/// cannot encode its adverts would be a Master nobody hears. IPv6 adverts
/// carry fewer on a 1500-byte MTU; that limit depends on the interface, so
/// the agent applies it when the instance starts and here it is a warning.
fn split_excess_addresses(
    raw: &mut RawInstance,
    family: AddressFamily,
    version: u8,
    diagnostics: &mut Diagnostics,
) -> (Vec<VirtualAddress>, Vec<VirtualAddress>) {
    let name = &raw.name;
    let max = usize::from(u8::MAX);
    let count = raw.virtual_ipaddresses.len();
    let mut advertised = std::mem::take(&mut raw.virtual_ipaddresses.values);
    let mut excluded = std::mem::take(&mut raw.virtual_ipaddresses_excluded.values);
    if count > max {
        diagnostics.warning(
            &raw.virtual_ipaddresses.at[max],
            format!(
                "vrrp_instance {name}: {count} virtual addresses, but an advert carries at most {max}: \
                 the {} from here on are moved to virtual_ipaddress_excluded (installed, not \
                 advertised), as keepalived does",
                count - max
            ),
        );
        // The excess is most of the list: it stays in the list's own memory
        // (shifted in place) and the 255 kept are copied out.
        let mut moved = advertised;
        advertised = moved.drain(..max).collect();
        moved.splice(0..0, excluded);
        excluded = moved;
    } else {
        let fit = max_advertised_addresses(family, version, DEFAULT_MTU);
        if count > fit {
            diagnostics.warning(
                &raw.virtual_ipaddresses.at[fit],
                format!(
                    "vrrp_instance {name}: {count} {family} virtual addresses, but on an interface \
                     with an MTU of {DEFAULT_MTU} an advert carries at most {fit}: the rest are then \
                     installed but not advertised (moved to virtual_ipaddress_excluded when the \
                     instance starts, as keepalived does)"
                ),
            );
        }
    }
    (advertised, excluded)
}

/// `use_vmac` and `vmac_xmit_base` as keepalived 2.2.7 completes them
/// (`vrrp_end_handler`, `vrrp_complete_instance`); the name is given by
/// [`name_vmacs`] once every instance is known.
fn resolve_vmac(
    raw: &RawInstance,
    vrid: u8,
    family: AddressFamily,
    strict: bool,
    diagnostics: &mut Diagnostics,
) -> Option<Vmac> {
    let name = &raw.name;
    let Some(use_vmac) = &raw.use_vmac else {
        if let Some(at) = &raw.vmac_xmit_base {
            diagnostics.warning(
                at,
                format!("vrrp_instance {name}: vmac_xmit_base is only valid with use_vmac; it is ignored, as keepalived ignores it"),
            );
        }
        return None;
    };
    let mut xmit_base = raw.vmac_xmit_base.is_some();
    if !raw.unicast_peers.is_empty() && !xmit_base {
        diagnostics.warning(
            &use_vmac.at,
            format!("vrrp_instance {name}: unicast with use_vmac needs vmac_xmit_base; it is set, as keepalived sets it"),
        );
        xmit_base = true;
    }
    if let Some(at) = raw.vmac_xmit_base.as_ref().filter(|_| strict && xmit_base) {
        diagnostics.warning(
            at,
            format!("vrrp_instance {name}: vmac_xmit_base is incompatible with strict mode; it is reset, as keepalived resets it"),
        );
        xmit_base = false;
    }
    let mac = match use_vmac.mac {
        Some(VmacAddress::Full(mac)) => mac,
        Some(VmacAddress::WithVrid([a, b, c, d, e])) => [a, b, c, d, e, vrid],
        None => {
            let family_octet = match family {
                AddressFamily::Ipv4 => 0x01,
                AddressFamily::Ipv6 => 0x02,
            };
            [0x00, 0x00, 0x5e, 0x00, family_octet, vrid]
        }
    };
    Some(Vmac {
        interface: use_vmac.name.clone().unwrap_or_default(),
        mac,
        mac_given: use_vmac.mac.is_some(),
        xmit_base,
    })
}

/// Names each VMAC as keepalived does: the name given, unless an earlier
/// instance uses it; else `PREFIX.VRID` (`vmac_prefix`, `vrrp` by
/// default), and when that is taken `PREFIX1.VRID`, `PREFIX2.VRID`, ...
/// (an IPv6 instance tries `PREFIX6.VRID` first), the prefix cut so the
/// name fits in 15 bytes.
fn name_vmacs(
    raw: &[RawInstance],
    instances: &mut [(usize, VrrpInstance)],
    prefix: Option<&str>,
    diagnostics: &mut Diagnostics,
) {
    let prefix = prefix.unwrap_or("vrrp");
    // (name, instance using it)
    let mut taken: Vec<(String, String)> = Vec::new();
    for (index, instance) in instances.iter_mut() {
        let Some(vmac) = instance.vmac.as_mut().filter(|v| !v.interface.is_empty()) else {
            continue;
        };
        match taken.iter().find(|(name, _)| *name == vmac.interface) {
            Some((_, user)) => {
                if let Some(at) = raw[*index].use_vmac.as_ref().map(|v| &v.at) {
                    diagnostics.warning(
                        at,
                        format!(
                            "vrrp_instance {}: vrrp_instance {user} already uses {}; the name is ignored, as keepalived ignores it",
                            instance.name, vmac.interface
                        ),
                    );
                }
                vmac.interface.clear();
            }
            None => taken.push((vmac.interface.clone(), instance.name.clone())),
        }
    }
    for (_, instance) in instances.iter_mut() {
        let vrid = instance.virtual_router_id;
        let ipv6 = instance.family == AddressFamily::Ipv6;
        let Some(vmac) = &mut instance.vmac else {
            continue;
        };
        if !vmac.interface.is_empty() {
            continue;
        }
        let name = |number: Option<u32>| {
            let suffix = match number {
                Some(number) => format!("{number}.{vrid}"),
                None => format!(".{vrid}"),
            };
            let room = 15usize.saturating_sub(suffix.len());
            let cut: String = prefix.chars().take(room).collect();
            format!("{cut}{suffix}")
        };
        let mut numbers = (if ipv6 {
            vec![None, Some(6)]
        } else {
            vec![None]
        })
        .into_iter()
        .chain((1..).filter(move |n| !ipv6 || *n != 6).map(Some));
        let chosen = loop {
            let candidate = name(numbers.next().unwrap_or(None));
            if !taken.iter().any(|(name, _)| *name == candidate) {
                break candidate;
            }
        };
        taken.push((chosen.clone(), instance.name.clone()));
        vmac.interface = chosen;
    }
}

fn resolve_instance(
    raw: &mut RawInstance,
    global: &GlobalDefs,
    raw_global: &RawGlobal,
    scripts: &[VrrpScript],
    diagnostics: &mut Diagnostics,
) -> Option<VrrpInstance> {
    let name = raw.name.clone();
    let mut valid = true;
    let written = |keyword: &str| raw.written.iter().any(|seen| seen == keyword);
    if raw.interface.is_none() && !written("interface") {
        diagnostics.error(&raw.at, format!("vrrp_instance {name} has no 'interface'"));
        valid = false;
    }
    if raw.virtual_router_id.is_none() && !written("virtual_router_id") {
        diagnostics.error(
            &raw.at,
            format!("vrrp_instance {name} has no 'virtual_router_id'"),
        );
        valid = false;
    }

    let strict = raw.strict_mode.unwrap_or(global.vrrp_strict);
    let family = raw
        .virtual_ipaddresses
        .values
        .first()
        .map(|vip| AddressFamily::of(&vip.address))
        .or_else(|| {
            raw.unicast_src_ip
                .as_ref()
                .map(|source| AddressFamily::of(&source.value))
        })
        .or_else(|| {
            raw.unicast_peers
                .first()
                .map(|peer| AddressFamily::of(&peer.value))
        })
        .unwrap_or(AddressFamily::Ipv4);
    for (vip, at) in raw.virtual_ipaddresses.iter() {
        if AddressFamily::of(&vip.address) != family {
            diagnostics.error(
                at,
                format!(
                    "vrrp_instance {name}: {} is an {} address but the instance is {family} \
                     (all of virtual_ipaddress must be one family; use virtual_ipaddress_excluded to mix)",
                    vip.address,
                    AddressFamily::of(&vip.address)
                ),
            );
            valid = false;
        }
    }

    let mut version = raw
        .version
        .as_ref()
        .map(|version| version.value)
        .unwrap_or(global.vrrp_version);
    if family == AddressFamily::Ipv6 && version == 2 {
        if let Some(configured) = &raw.version {
            diagnostics.warning(
                &configured.at,
                format!("vrrp_instance {name}: IPv6 instances use VRRP version 3; 'version 2' is ignored"),
            );
        }
        version = 3;
    }

    // keepalived looks at the list, not at the keyword: an empty block
    // counts as none.
    if raw.virtual_ipaddresses.is_empty() {
        if version == 3 || strict {
            // keepalived refuses to run such an instance.
            diagnostics.error(
                &raw.at,
                format!(
                    "vrrp_instance {name} has no virtual_ipaddress: at least one is required with {}",
                    if version == 3 { "VRRP version 3" } else { "vrrp_strict" }
                ),
            );
            valid = false;
        } else {
            diagnostics.warning(
                &raw.at,
                format!("vrrp_instance {name} has no virtual_ipaddress"),
            );
        }
    }

    // keepalived derives whichever of the two is not written from the other:
    // `state MASTER` alone is the address owner, priority 255 alone starts
    // as Master.
    let priority = match (&raw.priority, &raw.state) {
        (Some(priority), _) => priority.value,
        (None, Some(state)) if state.value == InitialState::Master => PRIORITY_OWNER,
        (None, _) => DEFAULT_PRIORITY,
    };
    let mut state = match &raw.state {
        Some(state) => state.value,
        None if priority == PRIORITY_OWNER => InitialState::Master,
        None => InitialState::Backup,
    };
    if let Some(written_state) = raw.state.as_ref().filter(|_| strict) {
        let owner = priority == PRIORITY_OWNER;
        if (written_state.value == InitialState::Master) != owner {
            state = if owner {
                InitialState::Master
            } else {
                InitialState::Backup
            };
            diagnostics.warning(
                &written_state.at,
                format!(
                    "vrrp_instance {name}: vrrp_strict: state MASTER must match being the address owner \
                     (priority 255); the instance starts as {}, as keepalived does",
                    if owner { "MASTER" } else { "BACKUP" }
                ),
            );
        }
    }
    let advert_int_ms = resolve_advert_int(raw, version, diagnostics).unwrap_or_else(|| {
        valid = false;
        0
    });

    let mut nopreempt = raw.nopreempt.is_some();
    if let Some(at) = &raw.nopreempt {
        if state == InitialState::Master {
            // keepalived 2.2.7 does the same: a node that starts as master
            // would take the address at once, so nopreempt cannot hold.
            diagnostics.warning(
                at,
                format!("vrrp_instance {name}: nopreempt does not work with 'state MASTER' and is cleared, as keepalived does"),
            );
            nopreempt = false;
        }
    }

    let mut preempt_delay_ms = raw
        .preempt_delay_us
        .as_ref()
        .map(|delay| u32::try_from(delay.value / 1000).unwrap_or(u32::MAX))
        .unwrap_or(0);
    if let Some(delay) = raw.preempt_delay_us.as_ref().filter(|d| d.value != 0) {
        let conflict = if state == InitialState::Master {
            Some("'state MASTER'")
        } else if strict {
            Some("vrrp_strict")
        } else if nopreempt {
            Some("nopreempt")
        } else {
            None
        };
        if let Some(conflict) = conflict {
            diagnostics.warning(
                &delay.at,
                format!("vrrp_instance {name}: preempt_delay does not work with {conflict} and is cleared, as keepalived does"),
            );
            preempt_delay_ms = 0;
        }
    }
    let (lower_prio_no_advert, higher_prio_send_advert, down_timer_adverts) =
        resolve_strict_adverts(&name, raw, raw_global, strict, diagnostics);

    let mut auth_pass = raw
        .authentication
        .as_ref()
        .and_then(|auth| auth.pass.clone());
    if let Some(auth) = raw.authentication.as_ref().filter(|_| strict) {
        diagnostics.warning(
            &auth.at,
            format!("vrrp_instance {name}: vrrp_strict allows no authentication; it is ignored, as keepalived does"),
        );
        auth_pass = None;
    } else if let (Some(auth), 3) = (&raw.authentication, version) {
        diagnostics.warning(
            &auth.at,
            format!("vrrp_instance {name}: VRRP version 3 has no authentication; it is ignored, as keepalived does"),
        );
        auth_pass = None;
    }

    if let Some(ttl) = raw
        .unicast_ttl
        .as_ref()
        .filter(|ttl| ttl.value == 0 && family == AddressFamily::Ipv4)
    {
        diagnostics.error(
            &ttl.at,
            format!("vrrp_instance {name}: unicast_ttl 0: an IPv4 advert cannot be sent with TTL 0 (1..255)"),
        );
        valid = false;
    }
    if let Some(ttl) = raw.unicast_ttl.as_ref().filter(|ttl| ttl.value != 255) {
        if raw.unicast_peers.is_empty() {
            let effect = match family {
                AddressFamily::Ipv4 => {
                    "the multicast adverts leave with it, as keepalived sends them, and every receiver discards them (RFC 5798 asks for 255)"
                }
                AddressFamily::Ipv6 => "it has no effect on multicast adverts, which leave with hop limit 255",
            };
            diagnostics.warning(
                &ttl.at,
                format!(
                    "vrrp_instance {name}: unicast_ttl {} without unicast peers: {effect}",
                    ttl.value
                ),
            );
        }
    }
    if let Some(peer) = raw.unicast_peers.first().filter(|_| strict) {
        // keepalived refuses it on an interface that can multicast, as
        // every interface an agent runs VRRP on here can.
        diagnostics.error(
            &peer.at,
            format!("vrrp_instance {name}: vrrp_strict allows no unicast peers (RFC 5798 adverts are multicast)"),
        );
        valid = false;
    }
    if strict && family == AddressFamily::Ipv6 {
        if let Some((vip, at)) = raw.virtual_ipaddresses.iter().next() {
            if !is_link_local(&vip.address) {
                diagnostics.warning(
                    at,
                    format!(
                        "vrrp_instance {name}: vrrp_strict: the first IPv6 virtual address should be link-local \
                         (RFC 5798 section 5.2.9); {} is not, and keepalived says the same",
                        vip.address
                    ),
                );
            }
        }
    }
    for peer in &raw.unicast_peers {
        if AddressFamily::of(&peer.value) != family {
            diagnostics.error(
                &peer.at,
                format!("vrrp_instance {name}: unicast peer {} is not an {family} address like the instance", peer.value),
            );
            valid = false;
        }
        if let Some((_, at)) = raw
            .virtual_ipaddresses
            .iter()
            .find(|(vip, _)| vip.address == peer.value)
        {
            diagnostics.error(
                at,
                format!(
                    "vrrp_instance {name}: virtual address {} is also a unicast peer",
                    peer.value
                ),
            );
            valid = false;
        }
    }
    if let Some(source) = &raw.unicast_src_ip {
        if AddressFamily::of(&source.value) != family {
            diagnostics.error(
                &source.at,
                format!("vrrp_instance {name}: unicast_src_ip {} is not an {family} address like the instance", source.value),
            );
            valid = false;
        }
    }

    let track_interfaces = raw
        .track_interfaces
        .iter()
        .map(|track| TrackedInterface {
            name: track.name.clone(),
            weight: track.weight.unwrap_or(0),
            reverse: track.reverse,
        })
        .collect::<Vec<_>>();
    let track_scripts = resolve_tracked_scripts(
        &name,
        "vrrp_instance",
        &raw.track_scripts,
        scripts,
        diagnostics,
        &mut valid,
    );
    if priority == PRIORITY_OWNER {
        let weighted = raw
            .track_interfaces
            .iter()
            .zip(&track_interfaces)
            .map(|(raw_track, track)| (raw_track, track.weight))
            .chain(
                raw.track_scripts
                    .iter()
                    .zip(&track_scripts)
                    .map(|(raw_track, track)| (raw_track, track.weight)),
            );
        for (raw_track, weight) in weighted {
            if weight != 0 {
                diagnostics.error(
                    &raw_track.at,
                    format!(
                        "vrrp_instance {name}: priority 255 (address owner) cannot change, \
                         so the weight of tracked {} would have no effect",
                        raw_track.name
                    ),
                );
                valid = false;
            }
        }
    }

    let mut accept = match &raw.accept {
        Some(accept) => accept.value,
        // keepalived: strict mode accepts only as address owner, otherwise accept.
        None => !strict || priority == PRIORITY_OWNER,
    };
    if let Some(explicit) = raw.accept.as_ref().filter(|a| a.value) {
        if strict && version == 2 && priority != PRIORITY_OWNER {
            // RFC 3768 has no Accept_Mode: keepalived resets it, with this warning.
            diagnostics.warning(
                &explicit.at,
                format!(
                    "vrrp_instance {name}: accept with VRRP version 2 does not comply with \
                     RFC 3768 under vrrp_strict: the instance runs with no_accept, as keepalived resets it"
                ),
            );
            accept = false;
        }
    }

    let (virtual_ipaddresses, virtual_ipaddresses_excluded) =
        split_excess_addresses(raw, family, version, diagnostics);

    if !valid || raw.interface.is_none() || raw.virtual_router_id.is_none() {
        return None;
    }
    let vmac = resolve_vmac(
        raw,
        raw.virtual_router_id.as_ref()?.value,
        family,
        strict,
        diagnostics,
    );
    Some(VrrpInstance {
        name: name.clone(),
        interface: raw.interface.as_ref()?.value.clone(),
        virtual_router_id: raw.virtual_router_id.as_ref()?.value,
        family,
        version,
        state,
        priority,
        advert_int_ms,
        nopreempt,
        preempt_delay_ms,
        accept,
        unicast_src_ip: raw.unicast_src_ip.as_ref().map(|source| source.value),
        unicast_peers: raw.unicast_peers.iter().map(|peer| peer.value).collect(),
        unicast_peer_ttl: raw.unicast_peer_ttl.iter().copied().collect(),
        unicast_ttl: raw.unicast_ttl.as_ref().map(|ttl| ttl.value),
        strict,
        lower_prio_no_advert,
        higher_prio_send_advert,
        down_timer_adverts,
        auth_pass,
        virtual_ipaddresses,
        virtual_ipaddresses_excluded,
        track_interfaces,
        track_scripts,
        track_files: Vec::new(),
        track_processes: Vec::new(),
        notify: resolve_notify(&raw.notify),
        garp: GarpSettings {
            master_delay_s: raw.garp_master_delay.unwrap_or(global.garp.master_delay_s),
            master_repeat: raw.garp_master_repeat.unwrap_or(global.garp.master_repeat),
            master_refresh_s: raw
                .garp_master_refresh
                .unwrap_or(global.garp.master_refresh_s),
            master_refresh_repeat: raw
                .garp_master_refresh_repeat
                .unwrap_or(global.garp.master_refresh_repeat),
            lower_prio_repeat: lower_prio(
                &name,
                "garp_lower_prio_repeat",
                &raw.garp_lower_prio_repeat,
                global.garp.lower_prio_repeat,
                strict,
                diagnostics,
            ),
            lower_prio_delay_s: lower_prio(
                &name,
                "garp_lower_prio_delay",
                &raw.garp_lower_prio_delay,
                global.garp.lower_prio_delay_s,
                strict,
                diagnostics,
            ),
        },
        dont_track_primary: raw.dont_track_primary,
        notify_deleted: raw.notify_deleted,
        // The sync group's value is filled in once the groups are read.
        notify_priority_changes: raw
            .notify_priority_changes
            .unwrap_or(raw_global.notify_priority_changes),
        vmac,
        virtual_routes: raw.virtual_routes.clone(),
        virtual_rules: raw.virtual_rules.clone(),
    })
}

/// `lower_prio_no_advert`, `higher_prio_send_advert`, `down_timer_adverts`:
/// the instance's own, else the global ones; strict mode forces what the
/// RFC does (no answer to a lower priority, no last advert, 3 adverts),
/// with keepalived's warning when the file says otherwise.
fn resolve_strict_adverts(
    name: &str,
    raw: &RawInstance,
    raw_global: &RawGlobal,
    strict: bool,
    diagnostics: &mut Diagnostics,
) -> (bool, bool, u8) {
    let mut reset = |at: &Location, keyword: &str, value: &str| {
        diagnostics.warning(
            at,
            format!("vrrp_instance {name}: vrrp_strict requires {keyword} {value}; reset, as keepalived does"),
        );
    };
    let lower_prio_no_advert = match &raw.lower_prio_no_advert {
        Some(own) if strict && !own.value => {
            reset(&own.at, "lower_prio_no_advert", "on");
            true
        }
        Some(own) => own.value,
        None => strict || raw_global.lower_prio_no_advert,
    };
    let higher_prio_send_advert = match &raw.higher_prio_send_advert {
        Some(own) if strict && own.value => {
            reset(&own.at, "higher_prio_send_advert", "off");
            false
        }
        Some(own) => own.value,
        None => !strict && raw_global.higher_prio_send_advert,
    };
    let global_down = raw_global
        .down_timer_adverts
        .unwrap_or(DEFAULT_DOWN_TIMER_ADVERTS);
    let down_timer_adverts = match &raw.down_timer_adverts {
        Some(own) if strict && own.value != DEFAULT_DOWN_TIMER_ADVERTS => {
            reset(&own.at, "down_timer_adverts", "3");
            DEFAULT_DOWN_TIMER_ADVERTS
        }
        Some(own) => own.value,
        // keepalived copies the global value into the instance, then
        // resets it under strict mode, with the warning.
        None if strict && global_down != DEFAULT_DOWN_TIMER_ADVERTS => {
            reset(&raw.at, "down_timer_adverts", "3");
            DEFAULT_DOWN_TIMER_ADVERTS
        }
        None => global_down,
    };
    (
        lower_prio_no_advert,
        higher_prio_send_advert,
        down_timer_adverts,
    )
}

/// An instance's `garp_lower_prio_repeat` / `_delay`: its own, else the
/// global one; keepalived's strict mode allows none (0, with a warning
/// when one is written).
fn lower_prio(
    name: &str,
    keyword: &str,
    own: &Option<Spanned<u32>>,
    global: u32,
    strict: bool,
    diagnostics: &mut Diagnostics,
) -> u32 {
    match own {
        Some(own) if strict && own.value != 0 => {
            diagnostics.warning(
                &own.at,
                format!(
                    "vrrp_instance {name}: vrrp_strict allows no {keyword}; 0 is used, as keepalived does"
                ),
            );
            0
        }
        Some(own) => own.value,
        None if strict => 0,
        None => global,
    }
}

/// VRRPv2 carries the interval in whole seconds (1..255), VRRPv3 in
/// centiseconds (1..4095); keepalived rounds other values with a warning.
fn resolve_advert_int(
    raw: &RawInstance,
    version: u8,
    diagnostics: &mut Diagnostics,
) -> Option<u32> {
    let name = &raw.name;
    let Some(configured) = &raw.advert_int_us else {
        return Some((DEFAULT_ADVERT_INT_US / 1000) as u32);
    };
    let micros = configured.value;
    let (unit, min, max) = if version == 2 {
        (1_000_000, 1_000_000, 255_000_000)
    } else {
        (10_000, 10_000, 40_950_000)
    };
    let mut rounded = (micros + unit / 2) / unit * unit;
    if rounded != micros {
        let unit_text = if version == 2 {
            "whole seconds"
        } else {
            "units of 10 ms"
        };
        rounded = rounded.max(min);
        diagnostics.warning(
            &configured.at,
            format!(
                "vrrp_instance {name}: VRRPv{version} advert_int is in {unit_text}; {} s is used",
                format_seconds(rounded)
            ),
        );
    }
    if rounded < min || rounded > max {
        diagnostics.error(
            &configured.at,
            format!(
                "vrrp_instance {name}: advert_int must be between {} and {} s for VRRPv{version}",
                format_seconds(min),
                format_seconds(max)
            ),
        );
        return None;
    }
    Some((rounded / 1000) as u32)
}

fn format_seconds(micros: u64) -> String {
    let text = format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000);
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// An address listed twice in one instance, or in two instances (which
/// would fight over it on the node where both are Master), and a static
/// address that is also a VIP (the Backup would remove the address the
/// static block keeps). keepalived accepts all three, so they are warnings
/// (errors with --strict). The addresses are sorted by index rather than
/// hashed, so that a file of millions of addresses costs 8 bytes for each.
fn warn_repeated_addresses(raw: &RawConfig, diagnostics: &mut Diagnostics) {
    fn lists(instance: &RawInstance) -> [&RawAddresses; 2] {
        [
            &instance.virtual_ipaddresses,
            &instance.virtual_ipaddresses_excluded,
        ]
    }
    // (instance, line) with the line counted across both lists.
    let line = |(instance, line): (u32, u32)| {
        let [vips, excluded] = lists(&raw.instances[instance as usize]);
        let line = line as usize;
        match line.checked_sub(vips.len()) {
            None => (&vips.values[line], &vips.at[line]),
            Some(excluded_line) => (&excluded.values[excluded_line], &excluded.at[excluded_line]),
        }
    };
    let mut order: Vec<(u32, u32)> = Vec::new();
    for (index, instance) in raw.instances.iter().enumerate() {
        let count = lists(instance).iter().map(|list| list.len()).sum::<usize>();
        order.extend((0..count).map(|line| (index as u32, line as u32)));
    }
    order.sort_unstable_by(|a, b| (line(*a).0.address, a).cmp(&(line(*b).0.address, b)));
    let mut first = 0;
    for index in 1..order.len() {
        let (vip, at) = line(order[index]);
        let (first_vip, first_at) = line(order[first]);
        if vip.address != first_vip.address {
            first = index;
            continue;
        }
        let instance = &raw.instances[order[index].0 as usize];
        let first_instance = &raw.instances[order[first].0 as usize];
        if order[index - 1].0 == order[index].0 {
            diagnostics.warning(
                at,
                format!(
                    "vrrp_instance {}: virtual address {} is listed twice",
                    instance.name, vip.address
                ),
            );
        }
        if instance.name != first_instance.name {
            diagnostics.warning(
                at,
                format!(
                    "vrrp_instance {}: virtual address {} is also in vrrp_instance {} \
                     ({}:{}): the two would both add and remove it",
                    instance.name, vip.address, first_instance.name, first_at.file, first_at.line
                ),
            );
        }
    }
    for (address, at) in raw.static_addresses.iter() {
        let found = order.binary_search_by(|probe| {
            line(*probe)
                .0
                .address
                .cmp(&address.address)
                .then(std::cmp::Ordering::Greater)
        });
        let first = found.unwrap_or_else(|insert_at| insert_at);
        if let Some(&entry) = order.get(first) {
            if line(entry).0.address == address.address {
                diagnostics.warning(
                    at,
                    format!(
                        "static address {} is also a virtual address of vrrp_instance {}: \
                         the instance would remove it when it is not Master",
                        address.address, raw.instances[entry.0 as usize].name
                    ),
                );
            }
        }
    }
}

fn resolve_tracked_scripts(
    owner: &str,
    owner_kind: &str,
    tracks: &[RawTrack],
    scripts: &[VrrpScript],
    diagnostics: &mut Diagnostics,
    valid: &mut bool,
) -> Vec<TrackedScript> {
    let mut resolved = Vec::new();
    for track in tracks {
        let Some(script) = scripts.iter().find(|script| script.name == track.name) else {
            diagnostics.error(
                &track.at,
                format!(
                    "{owner_kind} {owner}: track_script names {}, but there is no vrrp_script {}",
                    track.name, track.name
                ),
            );
            *valid = false;
            continue;
        };
        resolved.push(TrackedScript {
            name: track.name.clone(),
            weight: track.weight.unwrap_or(script.weight),
            reverse: if track.weight.is_some() {
                track.reverse
            } else {
                track.reverse || script.weight_reverse
            },
        });
    }
    resolved
}

fn resolve_notify(raw: &RawNotify) -> NotifyScripts {
    NotifyScripts {
        master: raw.master.clone(),
        backup: raw.backup.clone(),
        fault: raw.fault.clone(),
        stop: raw.stop.clone(),
        deleted: raw.deleted.clone(),
        any: raw.any.clone(),
        master_rx_lower_pri: raw.master_rx_lower_pri.clone(),
    }
}

/// Two instances clash when they would share one socket: same interface,
/// family and VRID, both multicast, or unicast with a peer in common.
fn check_duplicate_vrids(
    raw_instances: &[RawInstance],
    instances: &[(usize, VrrpInstance)],
    diagnostics: &mut Diagnostics,
) {
    for (index, (raw_index, instance)) in instances.iter().enumerate() {
        let raw = &raw_instances[*raw_index];
        let earlier = instances[..index].iter().find(|(_, other)| {
            other.interface == instance.interface
                && other.family == instance.family
                && other.virtual_router_id == instance.virtual_router_id
                && (other.unicast_peers.is_empty() == instance.unicast_peers.is_empty())
                && (instance.unicast_peers.is_empty()
                    || instance
                        .unicast_peers
                        .iter()
                        .any(|peer| other.unicast_peers.contains(peer)))
        });
        if let Some((_, other)) = earlier {
            let at = raw
                .virtual_router_id
                .as_ref()
                .map(|vrid| &vrid.at)
                .unwrap_or(&raw.at);
            diagnostics.error(
                at,
                format!(
                    "vrrp_instance {}: virtual_router_id {} is already used by vrrp_instance {} on {} ({})",
                    instance.name, instance.virtual_router_id, other.name, instance.interface, instance.family
                ),
            );
        }
    }
}

fn resolve_sync_group(
    raw_group: &RawSyncGroup,
    raw: &RawConfig,
    scripts: &[VrrpScript],
    group_of_instance: &mut HashMap<String, String>,
    diagnostics: &mut Diagnostics,
) -> SyncGroup {
    let name = &raw_group.name;
    let mut instances = Vec::new();
    for member in &raw_group.members {
        if !raw
            .instances
            .iter()
            .any(|instance| instance.name == member.value)
        {
            diagnostics.error(
                &member.at,
                format!(
                    "vrrp_sync_group {name}: there is no vrrp_instance {}",
                    member.value
                ),
            );
            continue;
        }
        if let Some(previous) = group_of_instance.insert(member.value.clone(), name.clone()) {
            diagnostics.error(
                &member.at,
                format!("vrrp_sync_group {name}: vrrp_instance {} is already in vrrp_sync_group {previous}", member.value),
            );
            continue;
        }
        instances.push(member.value.clone());
    }
    if raw_group.members.is_empty() {
        diagnostics.error(
            &raw_group.at,
            format!("vrrp_sync_group {name} has no 'group {{ ... }}' of instances"),
        );
    } else if instances.len() == 1 {
        diagnostics.warning(
            &raw_group.at,
            format!("vrrp_sync_group {name} has only one instance"),
        );
    }
    let mut valid = true;
    SyncGroup {
        name: name.clone(),
        instances,
        track_interfaces: raw_group
            .track_interfaces
            .iter()
            .map(|track| TrackedInterface {
                name: track.name.clone(),
                weight: track.weight.unwrap_or(0),
                reverse: track.reverse,
            })
            .collect(),
        track_scripts: resolve_tracked_scripts(
            name,
            "vrrp_sync_group",
            &raw_group.track_scripts,
            scripts,
            diagnostics,
            &mut valid,
        ),
        track_files: Vec::new(),
        track_processes: Vec::new(),
        notify: resolve_notify(&raw_group.notify),
        tracking_weight: raw_group.tracking_weight,
    }
}

/// keepalived 2.2.7 (vrrp_complete_instance): a member of a sync group
/// without `sync_group_tracking_weight` must not move its priority apart
/// from the other members', so its tracked interfaces lose their weight
/// (going down is then a fault, which the group shares) and its weighted
/// scripts are not tracked. The group's own trackers keep their weights:
/// they move every member alike.
fn unweight_sync_group_members(
    groups: &[SyncGroup],
    raw_instances: &[RawInstance],
    instances: &mut [(usize, VrrpInstance)],
    diagnostics: &mut Diagnostics,
) {
    for (raw_index, instance) in instances.iter_mut() {
        let Some(group) = groups
            .iter()
            .find(|g| !g.tracking_weight && g.instances.contains(&instance.name))
        else {
            continue;
        };
        let raw = &raw_instances[*raw_index];
        let at = |name: &str, tracks: &[RawTrack]| {
            tracks
                .iter()
                .find(|t| t.name == name)
                .map_or_else(|| raw.at.clone(), |t| t.at.clone())
        };
        for track in &mut instance.track_interfaces {
            if track.weight != 0 {
                diagnostics.warning(
                    &at(&track.name, &raw.track_interfaces),
                    format!(
                        "vrrp_instance {}: the weight of tracked interface {} is ignored (taken as 0: \
                         down is a fault) because the instance is in vrrp_sync_group {} without \
                         sync_group_tracking_weight, as keepalived does",
                        instance.name, track.name, group.name
                    ),
                );
                track.weight = 0;
            }
        }
        instance.track_scripts.retain(|track| {
            if track.weight == 0 {
                return true;
            }
            diagnostics.warning(
                &at(&track.name, &raw.track_scripts),
                format!(
                    "vrrp_instance {}: tracked script {} has a weight and is not tracked, because \
                     the instance is in vrrp_sync_group {} without sync_group_tracking_weight, \
                     as keepalived does",
                    instance.name, track.name, group.name
                ),
            );
            false
        });
        // keepalived: a file's default weight (1) becomes 0; another weight
        // drops the tracker.
        instance.track_files.retain_mut(|track| {
            let at = at(&track.name, &raw.track_files);
            if track.weight == 1 {
                diagnostics.warning(
                    &at,
                    format!(
                        "vrrp_instance {}: tracked file {} counts with weight 0 (a non-zero value \
                         is a fault), because the instance is in vrrp_sync_group {} without \
                         sync_group_tracking_weight, as keepalived does",
                        instance.name, track.name, group.name
                    ),
                );
                track.weight = 0;
            } else if track.weight != 0 {
                diagnostics.warning(
                    &at,
                    format!(
                        "vrrp_instance {}: tracked file {} has a weight and is not tracked, because \
                         the instance is in vrrp_sync_group {} without sync_group_tracking_weight, \
                         as keepalived does",
                        instance.name, track.name, group.name
                    ),
                );
                return false;
            }
            true
        });
    }
}

/// The `track_file` and `vrrp_track_process` sections, each name once.
struct Trackers {
    files: Vec<TrackFile>,
    processes: Vec<TrackProcess>,
}

impl Trackers {
    fn files_of(
        &self,
        owner: &str,
        owner_kind: &str,
        tracks: &[RawTrack],
        diagnostics: &mut Diagnostics,
        valid: &mut bool,
    ) -> Vec<TrackedScript> {
        let defaults = |name: &str| {
            self.files
                .iter()
                .find(|f| f.name == name)
                .map(|f| (f.weight, f.weight_reverse))
        };
        resolve_tracked(
            (owner_kind, owner),
            ("track_file", "track_file"),
            tracks,
            defaults,
            diagnostics,
            valid,
        )
    }

    fn processes_of(
        &self,
        owner: &str,
        owner_kind: &str,
        tracks: &[RawTrack],
        diagnostics: &mut Diagnostics,
        valid: &mut bool,
    ) -> Vec<TrackedScript> {
        let defaults = |name: &str| {
            self.processes
                .iter()
                .find(|p| p.name == name)
                .map(|p| (p.weight, p.weight_reverse))
        };
        resolve_tracked(
            (owner_kind, owner),
            ("track_process", "vrrp_track_process"),
            tracks,
            defaults,
            diagnostics,
            valid,
        )
    }
}

/// The sections of one kind, a name defined twice reported (the first kept).
fn unique_sections<T: Clone>(
    sections: &[super::interpret::Spanned<T>],
    keyword: &str,
    name: impl Fn(&T) -> &String,
    diagnostics: &mut Diagnostics,
) -> Vec<T> {
    let mut unique: Vec<T> = Vec::new();
    for section in sections {
        if unique
            .iter()
            .any(|known| name(known) == name(&section.value))
        {
            diagnostics.error(
                &section.at,
                format!("{keyword} {} is defined twice", name(&section.value)),
            );
            continue;
        }
        unique.push(section.value.clone());
    }
    unique
}

/// `track_file` / `track_process` lines, as [`resolve_tracked_scripts`]
/// resolves `track_script` lines: the weight written, else the section's.
fn resolve_tracked(
    (owner_kind, owner): (&str, &str),
    (keyword, section): (&str, &str),
    tracks: &[RawTrack],
    defaults: impl Fn(&str) -> Option<(i32, bool)>,
    diagnostics: &mut Diagnostics,
    valid: &mut bool,
) -> Vec<TrackedScript> {
    let mut resolved = Vec::new();
    for track in tracks {
        let Some((weight, reverse)) = defaults(&track.name) else {
            diagnostics.error(
                &track.at,
                format!(
                    "{owner_kind} {owner}: {keyword} names {}, but there is no {section} {}",
                    track.name, track.name
                ),
            );
            *valid = false;
            continue;
        };
        resolved.push(TrackedScript {
            name: track.name.clone(),
            weight: track.weight.unwrap_or(weight),
            reverse: if track.weight.is_some() {
                track.reverse
            } else {
                track.reverse || reverse
            },
        });
    }
    resolved
}

/// An address owner (priority 255) cannot change priority: a weighted
/// file or process tracker would have no effect.
fn check_owner_weights(
    raw: &RawInstance,
    instance: &VrrpInstance,
    diagnostics: &mut Diagnostics,
) -> bool {
    if instance.priority != PRIORITY_OWNER {
        return true;
    }
    let mut valid = true;
    let weighted = instance
        .track_files
        .iter()
        .map(|t| (t, &raw.track_files))
        .chain(
            instance
                .track_processes
                .iter()
                .map(|t| (t, &raw.track_processes)),
        );
    for (track, raws) in weighted {
        if track.weight == 0 {
            continue;
        }
        let at = raws
            .iter()
            .find(|r| r.name == track.name)
            .map(|r| &r.at)
            .unwrap_or(&raw.at);
        diagnostics.error(
            at,
            format!(
                "vrrp_instance {}: priority 255 (address owner) cannot change, \
                 so the weight of tracked {} would have no effect",
                instance.name, track.name
            ),
        );
        valid = false;
    }
    valid
}

fn is_link_local(address: &std::net::IpAddr) -> bool {
    matches!(address, std::net::IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80)
}

//! Writes a typed configuration back in keepalived syntax. Every effective
//! value is written out, so reading the text again gives the same `Config`
//! whatever defaults the reader applies.

use std::fmt::Write;

use super::model::{
    AddressFamily, Command, Config, GarpSettings, InitialState, NotifyScripts, ParamMatch,
    SyncGroup, TrackFile, TrackProcess, TrackedInterface, TrackedScript, VirtualAddress,
    VrrpInstance, VrrpScript, DEFAULT_DOWN_TIMER_ADVERTS,
};
use super::names;
use super::routing::{rtax, Route, RouteMode, RouteType, Rule, RuleAction};

pub fn to_keepalived_string(config: &Config) -> String {
    let mut out = Printer::default();
    global_defs(&mut out, config);
    for script in &config.scripts {
        vrrp_script(&mut out, script);
    }
    for file in &config.track_files {
        track_file(&mut out, file);
    }
    for process in &config.track_processes {
        track_process(&mut out, process);
    }
    for instance in &config.instances {
        vrrp_instance(&mut out, instance, config.global.vrrp_strict);
    }
    for group in &config.sync_groups {
        sync_group(&mut out, group);
    }
    if !config.static_addresses.is_empty() {
        out.open(&["static_ipaddress"]);
        for address in &config.static_addresses {
            let cidr = format!("{}/{}", address.address, address.prefix_len);
            let mut words = vec![cidr.as_str(), "dev", address.dev.as_str()];
            if let Some(label) = &address.label {
                words.extend(["label", label]);
            }
            if !address.track {
                words.push("no_track");
            }
            out.line(&words);
        }
        out.close();
    }
    routes(&mut out, "static_routes", &config.static_routes);
    rules(&mut out, "static_rules", &config.static_rules);
    out.text
}

fn routes(out: &mut Printer, keyword: &str, routes: &[Route]) {
    if routes.is_empty() {
        return;
    }
    out.open(&[keyword]);
    for route in routes {
        let words = route_words(route);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        out.line(&words);
    }
    out.close();
}

fn rules(out: &mut Printer, keyword: &str, rules: &[Rule]) {
    if rules.is_empty() {
        return;
    }
    out.open(&[keyword]);
    for rule in rules {
        let words = rule_words(rule);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        out.line(&words);
    }
    out.close();
}

fn realms_text(realms: u32) -> String {
    if realms >> 16 != 0 {
        format!("{}/{}", realms >> 16, realms & 0xffff)
    } else {
        realms.to_string()
    }
}

/// A route line that reads back as the same route: every effective value
/// written out (the protocol included, and `no_track` when it is not tracked).
fn route_words(route: &Route) -> Vec<String> {
    let mut w: Vec<String> = Vec::new();
    let mut push = |words: &[&str]| w.extend(words.iter().map(|word| word.to_string()));
    if route.kind != RouteType::Unicast {
        let kind = route
            .kind
            .name()
            .map(str::to_string)
            .unwrap_or_else(|| route.kind.number().to_string());
        push(&[&kind]);
    }
    push(&[&route.destination.to_string()]);
    if let Some(from) = &route.from {
        push(&["from", &from.to_string()]);
    }
    if let Some(src) = &route.src {
        push(&["src", &src.to_string()]);
    }
    if let Some(via) = &route.via {
        push(&["via", &via.to_string()]);
    }
    if let Some(dev) = &route.dev {
        push(&["dev", dev]);
    }
    push(&["table", &route.table.to_string()]);
    if let Some(metric) = route.metric {
        push(&["metric", &metric.to_string()]);
    }
    if let Some(scope) = route.scope {
        push(&["scope", &scope.to_string()]);
    }
    push(&["protocol", &route.protocol.to_string()]);
    if route.tos != 0 {
        push(&["tos", &route.tos.to_string()]);
    }
    if route.onlink {
        push(&["onlink"]);
    }
    if let Some(realms) = route.realms {
        push(&["realms", &realms_text(realms)]);
    }
    if let Some(expires) = route.expires {
        push(&["expires", &expires.to_string()]);
    }
    let m = &route.metrics;
    let lockable: [(&str, Option<u32>, u32); 8] = [
        ("mtu", m.mtu, rtax::MTU),
        ("advmss", m.advmss, rtax::ADVMSS),
        ("rtt", m.rtt, rtax::RTT),
        ("rttvar", m.rttvar, rtax::RTTVAR),
        ("reordering", m.reordering, rtax::REORDERING),
        ("cwnd", m.cwnd, rtax::CWND),
        ("ssthresh", m.ssthresh, rtax::SSTHRESH),
        ("rto_min", m.rto_min, rtax::RTO_MIN),
    ];
    for (name, value, index) in lockable {
        if let Some(value) = value {
            if m.locked(index) {
                push(&[name, "lock", &value.to_string()]);
            } else {
                push(&[name, &value.to_string()]);
            }
        }
    }
    let plain: [(&str, Option<u32>); 6] = [
        ("hoplimit", m.hoplimit),
        ("window", m.window),
        ("initcwnd", m.initcwnd),
        ("initrwnd", m.initrwnd),
        ("quickack", m.quickack),
        ("fastopen_no_cookie", m.fastopen_no_cookie),
    ];
    for (name, value) in plain {
        if let Some(value) = value {
            push(&[name, &value.to_string()]);
        }
    }
    if m.features_ecn {
        push(&["features", "ecn"]);
    }
    if let Some(congctl) = &m.congctl {
        if m.locked(rtax::CC_ALGO) {
            push(&["congctl", "lock", congctl]);
        } else {
            push(&["congctl", congctl]);
        }
    }
    if let Some(pref) = route.pref {
        push(&["pref", &pref.to_string()]);
    }
    if let Some(ttl_propagate) = route.ttl_propagate {
        push(&[
            "ttl-propagate",
            if ttl_propagate { "enabled" } else { "disabled" },
        ]);
    }
    match route.mode {
        RouteMode::Prepend => {}
        RouteMode::Add => push(&["add"]),
        RouteMode::Append => push(&["append"]),
    }
    if !route.track {
        push(&["no_track"]);
    }
    for hop in &route.nexthops {
        push(&["nexthop"]);
        if let Some(via) = &hop.via {
            push(&["via", &via.to_string()]);
        }
        if let Some(dev) = &hop.dev {
            push(&["dev", dev]);
        }
        if let Some(weight) = hop.weight {
            push(&["weight", &weight.to_string()]);
        }
        if hop.onlink {
            push(&["onlink"]);
        }
        if let Some(realms) = hop.realms {
            push(&["realms", &realms_text(realms)]);
        }
    }
    w
}

fn rule_words(rule: &Rule) -> Vec<String> {
    let mut w: Vec<String> = Vec::new();
    let mut push = |words: &[&str]| w.extend(words.iter().map(|word| word.to_string()));
    if rule.invert {
        push(&["not"]);
    }
    if let Some(from) = &rule.from {
        push(&["from", &from.to_string()]);
    }
    if let Some(to) = &rule.to {
        push(&["to", &to.to_string()]);
    }
    push(&["preference", &rule.priority.to_string()]);
    if rule.tos != 0 {
        push(&["tos", &rule.tos.to_string()]);
    }
    if let Some(mark) = rule.fwmark {
        match rule.fwmask {
            Some(mask) => push(&["fwmark", &format!("{mark:#x}/{mask:#x}")]),
            None => push(&["fwmark", &format!("{mark:#x}")]),
        }
    }
    if let Some(realms) = rule.realms {
        push(&["realms", &realms_text(realms)]);
    }
    if let Some(length) = rule.suppress_prefixlength {
        push(&["suppress_prefixlength", &length.to_string()]);
    }
    if let Some(group) = rule.suppress_ifgroup {
        push(&["suppress_ifgroup", &group.to_string()]);
    }
    if let Some(iif) = &rule.iif {
        push(&["iif", iif]);
    }
    if let Some(oif) = &rule.oif {
        push(&["oif", oif]);
    }
    if let Some(id) = rule.tunnel_id {
        push(&["tunnel-id", &id.to_string()]);
    }
    if let Some((start, end)) = rule.uid_range {
        push(&["uidrange", &format!("{start}-{end}")]);
    }
    if let Some(protocol) = rule.protocol {
        push(&["protocol", &protocol.to_string()]);
    }
    if let Some(ip_proto) = rule.ip_proto {
        let text = if ip_proto <= 127 {
            ip_proto.to_string()
        } else {
            names::ip_protocol_name(ip_proto).unwrap_or_else(|| ip_proto.to_string())
        };
        push(&["ipproto", &text]);
    }
    if let Some(range) = rule.sport {
        push(&["sport", &format!("{}-{}", range.start, range.end)]);
    }
    if let Some(range) = rule.dport {
        push(&["dport", &format!("{}-{}", range.start, range.end)]);
    }
    match rule.action {
        RuleAction::Table(table) => push(&["table", &table.to_string()]),
        RuleAction::Goto(target) => push(&["goto", &target.to_string()]),
        RuleAction::Nop => push(&["nop"]),
        RuleAction::Blackhole => push(&["blackhole"]),
        RuleAction::Unreachable => push(&["unreachable"]),
        RuleAction::Prohibit => push(&["prohibit"]),
        RuleAction::L3mdev => push(&["l3mdev"]),
    }
    if !rule.track {
        push(&["no_track"]);
    }
    // Last on the line: keepalived skips the word after it. Needed only
    // where no address gives the family.
    if rule.from.is_none() && rule.to.is_none() && rule.family == AddressFamily::Ipv6 {
        push(&["inet6"]);
    }
    w
}

#[derive(Default)]
struct Printer {
    text: String,
    depth: usize,
}

impl Printer {
    fn line(&mut self, words: &[&str]) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        let quoted: Vec<String> = words.iter().map(|word| quote(word)).collect();
        self.text.push_str(&quoted.join(" "));
        self.text.push('\n');
    }

    fn open(&mut self, words: &[&str]) {
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        let quoted: Vec<String> = words.iter().map(|word| quote(word)).collect();
        self.text.push_str(&quoted.join(" "));
        self.text.push_str(" {\n");
        self.depth += 1;
    }

    fn close(&mut self) {
        self.depth -= 1;
        for _ in 0..self.depth {
            self.text.push_str("    ");
        }
        self.text.push_str("}\n");
    }
}

/// Quotes a word when keepalived's lexer would otherwise split, drop or
/// reinterpret it.
pub(super) fn quote(word: &str) -> String {
    let needs_quotes = word.is_empty()
        || word.starts_with("include")
        || word.starts_with('@')
        || word.starts_with('$')
        || word.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '\'' | '#' | '!' | '{' | '}' | '\\')
        });
    if !needs_quotes {
        return word.to_string();
    }
    let mut quoted = String::from("\"");
    for c in word.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() && (c as u32) < 0x100 => {
                let _ = write!(quoted, "\\{:03o}", c as u32);
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn seconds_from_ms(ms: u32) -> String {
    if ms.is_multiple_of(1000) {
        (ms / 1000).to_string()
    } else {
        let text = format!("{}.{:03}", ms / 1000, ms % 1000);
        text.trim_end_matches('0').to_string()
    }
}

fn seconds_from_us(us: u64) -> String {
    if us.is_multiple_of(1_000_000) {
        (us / 1_000_000).to_string()
    } else {
        let text = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
        text.trim_end_matches('0').to_string()
    }
}

fn global_defs(out: &mut Printer, config: &Config) {
    let global = &config.global;
    out.open(&["global_defs"]);
    if let Some(router_id) = &global.router_id {
        out.line(&["router_id", router_id]);
    }
    out.line(&["vrrp_version", &global.vrrp_version.to_string()]);
    garp(out, &global.garp, "vrrp_");
    out.line(&[
        "vrrp_garp_interval",
        &seconds_from_us(global.garp_interval_us),
    ]);
    out.line(&[
        "vrrp_gna_interval",
        &seconds_from_us(global.gna_interval_us),
    ]);
    out.line(&["vrrp_mcast_group4", &global.mcast_group4.to_string()]);
    out.line(&["vrrp_mcast_group6", &global.mcast_group6.to_string()]);
    if global.vrrp_strict {
        out.line(&["vrrp_strict"]);
    }
    if global.v3_checksum_as_v2 {
        out.line(&["v3_checksum_as_v2"]);
    }
    if global.enable_script_security {
        out.line(&["enable_script_security"]);
    }
    if let Some(script_user) = &global.script_user {
        let mut words = vec!["script_user", script_user.user.as_str()];
        if let Some(group) = &script_user.group {
            words.push(group);
        }
        out.line(&words);
    }
    for (keyword, fifo) in [
        ("notify_fifo", &global.notify_fifo),
        ("vrrp_notify_fifo", &global.vrrp_notify_fifo),
    ] {
        let Some(fifo) = fifo else { continue };
        with_user(out, keyword, &fifo.path, &fifo.user, &fifo.group);
        if let Some(script) = &fifo.script {
            with_user(
                out,
                &format!("{keyword}_script"),
                &script.command,
                &script.user,
                &script.group,
            );
        }
    }
    if global.fifo_write_vrrp_states_on_reload {
        out.line(&["fifo_write_vrrp_states_on_reload"]);
    }
    out.close();
}

/// `KEYWORD VALUE [USER [GROUP]]`.
fn with_user(
    out: &mut Printer,
    keyword: &str,
    value: &str,
    user: &Option<String>,
    group: &Option<String>,
) {
    let mut words = vec![keyword, value];
    if let Some(user) = user {
        words.push(user);
        if let Some(group) = group {
            words.push(group);
        }
    }
    out.line(&words);
}

fn garp(out: &mut Printer, garp: &GarpSettings, prefix: &str) {
    out.line(&[
        &format!("{prefix}garp_master_delay"),
        &garp.master_delay_s.to_string(),
    ]);
    out.line(&[
        &format!("{prefix}garp_master_repeat"),
        &garp.master_repeat.to_string(),
    ]);
    out.line(&[
        &format!("{prefix}garp_master_refresh"),
        &garp.master_refresh_s.to_string(),
    ]);
    out.line(&[
        &format!("{prefix}garp_master_refresh_repeat"),
        &garp.master_refresh_repeat.to_string(),
    ]);
    out.line(&[
        &format!("{prefix}garp_lower_prio_repeat"),
        &garp.lower_prio_repeat.to_string(),
    ]);
    out.line(&[
        &format!("{prefix}garp_lower_prio_delay"),
        &garp.lower_prio_delay_s.to_string(),
    ]);
}

fn vrrp_script(out: &mut Printer, script: &VrrpScript) {
    out.open(&["vrrp_script", &script.name]);
    out.line(&["script", &script.script]);
    out.line(&["interval", &script.interval_s.to_string()]);
    out.line(&["timeout", &script.timeout_s.to_string()]);
    let weight = script.weight.to_string();
    if script.weight_reverse {
        out.line(&["weight", &weight, "reverse"]);
    } else {
        out.line(&["weight", &weight]);
    }
    out.line(&["rise", &script.rise.to_string()]);
    out.line(&["fall", &script.fall.to_string()]);
    if let Some(user) = &script.user {
        let mut words = vec!["user", user.as_str()];
        if let Some(group) = &script.group {
            words.push(group);
        }
        out.line(&words);
    }
    if script.init_fail {
        out.line(&["init_fail"]);
    }
    out.close();
}

fn vrrp_instance(out: &mut Printer, instance: &VrrpInstance, global_strict: bool) {
    out.open(&["vrrp_instance", &instance.name]);
    let state = match instance.state {
        InitialState::Master => "MASTER",
        InitialState::Backup => "BACKUP",
    };
    out.line(&["state", state]);
    out.line(&["interface", &instance.interface]);
    out.line(&["virtual_router_id", &instance.virtual_router_id.to_string()]);
    out.line(&["version", &instance.version.to_string()]);
    out.line(&["priority", &instance.priority.to_string()]);
    out.line(&["advert_int", &seconds_from_ms(instance.advert_int_ms)]);
    if instance.nopreempt {
        out.line(&["nopreempt"]);
    }
    if instance.preempt_delay_ms > 0 {
        out.line(&["preempt_delay", &seconds_from_ms(instance.preempt_delay_ms)]);
    }
    out.line(&[if instance.accept {
        "accept"
    } else {
        "no_accept"
    }]);
    if instance.notify_priority_changes {
        out.line(&["notify_priority_changes"]);
    }
    if instance.notify_deleted && instance.notify.deleted.is_none() {
        out.line(&["notify_deleted"]);
    }
    if instance.dont_track_primary {
        out.line(&["dont_track_primary"]);
    }
    if let Some(vmac) = &instance.vmac {
        let mac = vmac
            .mac
            .iter()
            .map(|octet| format!("{octet:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        if vmac.mac_given {
            out.line(&["use_vmac", &vmac.interface, &mac]);
        } else {
            out.line(&["use_vmac", &vmac.interface]);
        }
        if vmac.xmit_base {
            out.line(&["vmac_xmit_base"]);
        }
    }
    if let Some(source) = &instance.unicast_src_ip {
        out.line(&["unicast_src_ip", &source.to_string()]);
    }
    if !instance.unicast_peers.is_empty() {
        out.open(&["unicast_peer"]);
        for peer in &instance.unicast_peers {
            let address = peer.to_string();
            match instance.unicast_peer_ttl.get(peer) {
                Some(ttl) => out.line(&[
                    &address,
                    "min_ttl",
                    &ttl.min.to_string(),
                    "max_ttl",
                    &ttl.max.to_string(),
                ]),
                None => out.line(&[&address]),
            }
        }
        out.close();
    }
    if let Some(ttl) = instance.unicast_ttl {
        out.line(&["unicast_ttl", &ttl.to_string()]);
    }
    if instance.strict != global_strict {
        out.line(&["strict_mode", if instance.strict { "on" } else { "off" }]);
    }
    if instance.lower_prio_no_advert {
        out.line(&["lower_prio_no_advert"]);
    }
    if instance.higher_prio_send_advert {
        out.line(&["higher_prio_send_advert"]);
    }
    if instance.down_timer_adverts != DEFAULT_DOWN_TIMER_ADVERTS {
        out.line(&[
            "down_timer_adverts",
            &instance.down_timer_adverts.to_string(),
        ]);
    }
    if let Some(password) = &instance.auth_pass {
        out.open(&["authentication"]);
        out.line(&["auth_type", "PASS"]);
        out.line(&["auth_pass", password]);
        out.close();
    }
    addresses(out, "virtual_ipaddress", &instance.virtual_ipaddresses);
    addresses(
        out,
        "virtual_ipaddress_excluded",
        &instance.virtual_ipaddresses_excluded,
    );
    track_interfaces(out, &instance.track_interfaces);
    track_scripts(out, &instance.track_scripts);
    tracked_block(out, "track_file", &instance.track_files);
    tracked_block(out, "track_process", &instance.track_processes);
    notify(out, &instance.notify);
    garp(out, &instance.garp, "");
    routes(out, "virtual_routes", &instance.virtual_routes);
    rules(out, "virtual_rules", &instance.virtual_rules);
    out.close();
}

fn addresses(out: &mut Printer, keyword: &str, addresses: &[VirtualAddress]) {
    if addresses.is_empty() {
        return;
    }
    out.open(&[keyword]);
    for address in addresses {
        let cidr = format!("{}/{}", address.address, address.prefix_len);
        let mut words = vec![cidr.as_str()];
        if let Some(dev) = address.dev() {
            words.extend(["dev", dev]);
        }
        if let Some(label) = address.label() {
            words.extend(["label", label]);
        }
        out.line(&words);
    }
    out.close();
}

fn track_interfaces(out: &mut Printer, tracks: &[TrackedInterface]) {
    if tracks.is_empty() {
        return;
    }
    out.open(&["track_interface"]);
    for track in tracks {
        tracked(out, &track.name, track.weight, track.reverse);
    }
    out.close();
}

fn track_scripts(out: &mut Printer, tracks: &[TrackedScript]) {
    if tracks.is_empty() {
        return;
    }
    out.open(&["track_script"]);
    for track in tracks {
        tracked(out, &track.name, track.weight, track.reverse);
    }
    out.close();
}

/// A `track_file { ... }` or `track_process { ... }` block.
fn tracked_block(out: &mut Printer, keyword: &str, tracks: &[TrackedScript]) {
    if tracks.is_empty() {
        return;
    }
    out.open(&[keyword]);
    for track in tracks {
        tracked(out, &track.name, track.weight, track.reverse);
    }
    out.close();
}

fn section_weight(out: &mut Printer, weight: i32, reverse: bool) {
    let weight = weight.to_string();
    if reverse {
        out.line(&["weight", &weight, "reverse"]);
    } else {
        out.line(&["weight", &weight]);
    }
}

fn track_file(out: &mut Printer, file: &TrackFile) {
    out.open(&["track_file", &file.name]);
    out.line(&["file", &file.path]);
    section_weight(out, file.weight, file.weight_reverse);
    if let Some(init) = &file.init {
        let value = init.value.to_string();
        let mut words = vec!["init_file", value.as_str()];
        if init.overwrite {
            words.push("overwrite");
        }
        out.line(&words);
    }
    out.close();
}

fn track_process(out: &mut Printer, process: &TrackProcess) {
    out.open(&["vrrp_track_process", &process.name]);
    let mut words = vec!["process", process.process.as_str()];
    words.extend(process.params.iter().map(String::as_str));
    out.line(&words);
    match process.param_match {
        // keepalived 2.2.7 takes `param_match` alone for an exact match.
        Some(ParamMatch::Exact) => out.line(&["param_match"]),
        Some(ParamMatch::Partial) => out.line(&["param_match", "partial"]),
        Some(ParamMatch::Initial) => out.line(&["param_match", "initial"]),
        None if process.full_command => out.line(&["full_command"]),
        None => {}
    }
    section_weight(out, process.weight, process.weight_reverse);
    // quorum_max first: keepalived checks quorum against the maximum set so far.
    if process.quorum_max != u32::MAX {
        out.line(&["quorum_max", &process.quorum_max.to_string()]);
    }
    if process.quorum_max != 0 {
        out.line(&["quorum", &process.quorum.to_string()]);
    }
    if process.fork_delay_us > 0 {
        out.line(&["fork_delay", &seconds_from_us(process.fork_delay_us)]);
    }
    if process.terminate_delay_us > 0 {
        out.line(&[
            "terminate_delay",
            &seconds_from_us(process.terminate_delay_us),
        ]);
    }
    out.close();
}

fn tracked(out: &mut Printer, name: &str, weight: i32, reverse: bool) {
    let weight = weight.to_string();
    let mut words = vec![name, "weight", weight.as_str()];
    if reverse {
        words.push("reverse");
    }
    out.line(&words);
}

fn notify(out: &mut Printer, notify: &NotifyScripts) {
    for (keyword, command) in notify.by_keyword() {
        if let Some(Command {
            command,
            user,
            group,
        }) = command
        {
            with_user(out, keyword, command, user, group);
        }
    }
}

fn sync_group(out: &mut Printer, group: &SyncGroup) {
    out.open(&["vrrp_sync_group", &group.name]);
    out.open(&["group"]);
    for member in &group.instances {
        out.line(&[member]);
    }
    out.close();
    track_interfaces(out, &group.track_interfaces);
    track_scripts(out, &group.track_scripts);
    tracked_block(out, "track_file", &group.track_files);
    tracked_block(out, "track_process", &group.track_processes);
    notify(out, &group.notify);
    if group.tracking_weight {
        out.line(&["sync_group_tracking_weight"]);
    }
    out.close();
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting() {
        assert_eq!(quote("eth0"), "eth0");
        assert_eq!(quote("/bin/check arg"), "\"/bin/check arg\"");
        assert_eq!(quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quote("includes"), "\"includes\"");
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("x\ny"), "\"x\\012y\"");
    }
}

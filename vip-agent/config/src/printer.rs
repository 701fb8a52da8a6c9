//! Writes a typed configuration back in keepalived syntax. Every effective
//! value is written out, so reading the text again gives the same `Config`
//! whatever defaults the reader applies.

use std::fmt::Write;

use super::model::{
    Command, Config, GarpSettings, InitialState, NotifyScripts, SyncGroup, TrackedInterface,
    TrackedScript, VirtualAddress, VrrpInstance, VrrpScript,
};

pub fn to_keepalived_string(config: &Config) -> String {
    let mut out = Printer::default();
    global_defs(&mut out, config);
    for script in &config.scripts {
        vrrp_script(&mut out, script);
    }
    for instance in &config.instances {
        vrrp_instance(&mut out, instance);
    }
    for group in &config.sync_groups {
        sync_group(&mut out, group);
    }
    out.text
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

fn vrrp_instance(out: &mut Printer, instance: &VrrpInstance) {
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
    if instance.dont_track_primary {
        out.line(&["dont_track_primary"]);
    }
    if let Some(source) = &instance.unicast_src_ip {
        out.line(&["unicast_src_ip", &source.to_string()]);
    }
    if !instance.unicast_peers.is_empty() {
        out.open(&["unicast_peer"]);
        for peer in &instance.unicast_peers {
            out.line(&[&peer.to_string()]);
        }
        out.close();
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
    notify(out, &instance.notify);
    garp(out, &instance.garp, "");
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
        if let Some(dev) = &address.dev {
            words.extend(["dev", dev.as_str()]);
        }
        if let Some(label) = &address.label {
            words.extend(["label", label.as_str()]);
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

fn tracked(out: &mut Printer, name: &str, weight: i32, reverse: bool) {
    let weight = weight.to_string();
    let mut words = vec![name, "weight", weight.as_str()];
    if reverse {
        words.push("reverse");
    }
    out.line(&words);
}

fn notify(out: &mut Printer, notify: &NotifyScripts) {
    let scripts = [
        ("notify_master", &notify.master),
        ("notify_backup", &notify.backup),
        ("notify_fault", &notify.fault),
        ("notify_stop", &notify.stop),
        ("notify", &notify.any),
    ];
    for (keyword, command) in scripts {
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
    notify(out, &group.notify);
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

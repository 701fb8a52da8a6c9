//! Gives the statement tree its keepalived meaning: reads the sections vip-agent
//! implements into raw (not yet defaulted) values and warns about the rest.

use std::net::IpAddr;

use super::diagnostic::{Diagnostics, Location};
use super::keywords::{self, Section};
use super::model::{
    Command, GlobalDefs, InitialState, NotifyFifo, ParamMatch, PeerTtl, ScriptUser, TrackFile,
    TrackFileInit, TrackProcess, VirtualAddress, VrrpScript,
};
use super::parser::{Block, Statement, Word};
use super::routing::{Route, Rule};
use super::routing_parse::{self, RulePriorities};
use super::values;

/// The `vrrp_instance` keywords whose absence is reported.
pub const REQUIRED_INSTANCE_KEYWORDS: &[&str] =
    &["interface", "virtual_router_id", "virtual_ipaddress"];

/// Options of a virtual address line that vip-agent does not apply, with
/// whether they take a value.
const IGNORED_ADDRESS_OPTIONS: &[(&str, bool)] = &[
    ("brd", true),
    ("broadcast", true),
    ("scope", true),
    ("peer", true),
    ("preferred_lft", true),
    ("track_group", true),
    ("home", false),
    ("-nodad", false),
    ("nodad", false),
    ("mngtmpaddr", false),
    ("noprefixroute", false),
    ("autojoin", false),
    ("no_track", false),
    ("use_vmac", false),
];

/// A value as written, with where it was written (for later validation).
#[derive(Debug, Clone)]
pub struct Spanned<T> {
    pub value: T,
    pub at: Location,
}

#[derive(Debug, Default)]
pub struct RawGlobal {
    pub router_id: Option<String>,
    /// `vmac_prefix`: the start of the names `use_vmac` gives (`vrrp`).
    pub vmac_prefix: Option<String>,
    pub vrrp_version: Option<u8>,
    pub garp_master_delay: Option<u32>,
    pub garp_master_repeat: Option<u32>,
    pub garp_master_refresh: Option<u32>,
    pub garp_master_refresh_repeat: Option<u32>,
    pub garp_lower_prio_delay: Option<u32>,
    pub garp_lower_prio_repeat: Option<u32>,
    /// `vrrp_min_garp`: one message on becoming Master, no second burst, no
    /// refresh, for what is not set explicitly.
    pub min_garp: bool,
    pub garp_interval_us: Option<u64>,
    pub gna_interval_us: Option<u64>,
    pub mcast_group4: Option<std::net::Ipv4Addr>,
    pub mcast_group6: Option<std::net::Ipv6Addr>,
    pub vrrp_strict: bool,
    pub v3_checksum_as_v2: bool,
    pub enable_script_security: bool,
    pub script_user: Option<ScriptUser>,
    /// `notify_fifo PATH [USER [GROUP]]`, read into a [`Command`] (path, owner).
    pub notify_fifo: Option<Spanned<Command>>,
    pub notify_fifo_script: Option<Spanned<Command>>,
    pub vrrp_notify_fifo: Option<Spanned<Command>>,
    pub vrrp_notify_fifo_script: Option<Spanned<Command>>,
    pub fifo_write_vrrp_states_on_reload: bool,
    /// `vrrp_notify_priority_changes`: the default of the instances.
    pub notify_priority_changes: bool,
    /// `vrrp_lower_prio_no_advert`, `vrrp_higher_prio_send_advert`,
    /// `vrrp_down_timer_adverts`: the defaults of the instances.
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub down_timer_adverts: Option<u8>,
    /// Where a `static_ipaddress` without `dev` goes.
    pub default_interface: Option<String>,
}

impl RawGlobal {
    /// A FIFO with its script; a script without its FIFO is left out (the
    /// warning is [`super::resolve`]'s).
    fn fifo(
        fifo: &Option<Spanned<Command>>,
        script: &Option<Spanned<Command>>,
    ) -> Option<NotifyFifo> {
        let fifo = &fifo.as_ref()?.value;
        Some(NotifyFifo {
            path: fifo.command.clone(),
            user: fifo.user.clone(),
            group: fifo.group.clone(),
            script: script.as_ref().map(|script| script.value.clone()),
        })
    }

    /// Whether `vrrp_notify_fifo` names the `notify_fifo`: keepalived then
    /// ignores it, so that no line is written twice to one FIFO.
    pub fn vrrp_fifo_is_global_fifo(&self) -> bool {
        match (&self.notify_fifo, &self.vrrp_notify_fifo) {
            (Some(global), Some(vrrp)) => global.value.command == vrrp.value.command,
            _ => false,
        }
    }

    pub fn resolve(&self) -> GlobalDefs {
        let defaults = GlobalDefs::default();
        // keepalived's vrrp_min_garp_handler: what is still at its default
        // becomes one message, no second burst, no refresh.
        let (default_delay, default_repeat, default_refresh_repeat) = if self.min_garp {
            (0, 1, 0)
        } else {
            (
                defaults.garp.master_delay_s,
                defaults.garp.master_repeat,
                defaults.garp.master_refresh_repeat,
            )
        };
        let master_delay_s = self.garp_master_delay.unwrap_or(default_delay);
        let master_repeat = self.garp_master_repeat.unwrap_or(default_repeat);
        GlobalDefs {
            router_id: self.router_id.clone(),
            vrrp_version: self.vrrp_version.unwrap_or(defaults.vrrp_version),
            garp: super::model::GarpSettings {
                master_delay_s,
                master_repeat,
                master_refresh_s: self
                    .garp_master_refresh
                    .unwrap_or(defaults.garp.master_refresh_s),
                master_refresh_repeat: self
                    .garp_master_refresh_repeat
                    .unwrap_or(default_refresh_repeat),
                // keepalived (vrrp_complete_init): the master burst's
                // settings unless given.
                lower_prio_repeat: self.garp_lower_prio_repeat.unwrap_or(master_repeat),
                lower_prio_delay_s: self.garp_lower_prio_delay.unwrap_or(master_delay_s),
            },
            garp_interval_us: self.garp_interval_us.unwrap_or(defaults.garp_interval_us),
            gna_interval_us: self.gna_interval_us.unwrap_or(defaults.gna_interval_us),
            mcast_group4: self.mcast_group4.unwrap_or(defaults.mcast_group4),
            mcast_group6: self.mcast_group6.unwrap_or(defaults.mcast_group6),
            vrrp_strict: self.vrrp_strict,
            v3_checksum_as_v2: self.v3_checksum_as_v2,
            enable_script_security: self.enable_script_security,
            script_user: self.script_user.clone(),
            notify_fifo: Self::fifo(&self.notify_fifo, &self.notify_fifo_script),
            vrrp_notify_fifo: if self.vrrp_fifo_is_global_fifo() {
                None
            } else {
                Self::fifo(&self.vrrp_notify_fifo, &self.vrrp_notify_fifo_script)
            },
            fifo_write_vrrp_states_on_reload: self.fifo_write_vrrp_states_on_reload,
        }
    }
}

#[derive(Debug, Clone)]
pub struct RawTrack {
    pub name: String,
    pub weight: Option<i32>,
    pub reverse: bool,
    pub at: Location,
}

#[derive(Debug, Clone)]
pub struct RawAuth {
    pub pass: Option<String>,
    pub at: Location,
}

#[derive(Debug, Default, Clone)]
pub struct RawNotify {
    pub master: Option<Command>,
    pub backup: Option<Command>,
    pub fault: Option<Command>,
    pub stop: Option<Command>,
    pub deleted: Option<Command>,
    pub any: Option<Command>,
    pub master_rx_lower_pri: Option<Command>,
}

/// `use_vmac [NAME] [MAC]`, as written.
#[derive(Debug, Clone)]
pub struct RawVmac {
    pub at: Location,
    pub name: Option<String>,
    pub mac: Option<VmacAddress>,
}

/// The MAC of `use_vmac`: six octets, or five and the VRID as the sixth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmacAddress {
    Full([u8; 6]),
    WithVrid([u8; 5]),
}

#[derive(Debug)]
pub struct RawInstance {
    pub name: String,
    pub at: Location,
    pub state: Option<Spanned<InitialState>>,
    pub interface: Option<Spanned<String>>,
    pub virtual_router_id: Option<Spanned<u8>>,
    pub priority: Option<Spanned<u8>>,
    pub advert_int_us: Option<Spanned<u64>>,
    pub nopreempt: Option<Location>,
    pub preempt_delay_us: Option<Spanned<u64>>,
    pub version: Option<Spanned<u8>>,
    pub unicast_src_ip: Option<Spanned<IpAddr>>,
    pub unicast_peers: Vec<Spanned<IpAddr>>,
    /// `min_ttl` / `max_ttl` of the `unicast_peer` lines that give them,
    /// by peer: the TTL range accepted from it.
    pub unicast_peer_ttl: Vec<(IpAddr, PeerTtl)>,
    pub unicast_ttl: Option<Spanned<u8>>,
    pub authentication: Option<RawAuth>,
    pub virtual_ipaddresses: RawAddresses,
    pub virtual_ipaddresses_excluded: RawAddresses,
    pub track_interfaces: Vec<RawTrack>,
    pub track_scripts: Vec<RawTrack>,
    pub track_files: Vec<RawTrack>,
    pub track_processes: Vec<RawTrack>,
    pub notify: RawNotify,
    pub garp_master_delay: Option<u32>,
    pub garp_master_repeat: Option<u32>,
    pub garp_master_refresh: Option<u32>,
    pub garp_master_refresh_repeat: Option<u32>,
    pub garp_lower_prio_delay: Option<Spanned<u32>>,
    pub garp_lower_prio_repeat: Option<Spanned<u32>>,
    pub accept: Option<Spanned<bool>>,
    pub dont_track_primary: bool,
    pub notify_priority_changes: Option<bool>,
    /// `strict_mode`: `vrrp_strict` for this instance alone.
    pub strict_mode: Option<bool>,
    pub lower_prio_no_advert: Option<Spanned<bool>>,
    pub higher_prio_send_advert: Option<Spanned<bool>>,
    pub down_timer_adverts: Option<Spanned<u8>>,
    pub use_vmac: Option<RawVmac>,
    pub vmac_xmit_base: Option<Location>,
    pub notify_deleted: bool,
    pub virtual_routes: Vec<Route>,
    pub virtual_rules: Vec<Rule>,
    /// Which of [`REQUIRED_INSTANCE_KEYWORDS`] the block has, valid or not,
    /// so that an invalid value is not reported a second time as a missing one.
    pub written: Vec<String>,
}

#[derive(Debug)]
pub struct RawSyncGroup {
    pub name: String,
    pub at: Location,
    pub members: Vec<Spanned<String>>,
    pub track_interfaces: Vec<RawTrack>,
    pub track_scripts: Vec<RawTrack>,
    pub track_files: Vec<RawTrack>,
    pub track_processes: Vec<RawTrack>,
    pub notify: RawNotify,
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`).
    pub tracking_weight: bool,
    /// The default of its members' `notify_priority_changes`.
    pub notify_priority_changes: Option<bool>,
}

/// The lines of an address block. Values and places are kept apart so that
/// the values move into the configuration as they are (a block may hold
/// millions of lines), the places staying behind for the checks.
#[derive(Debug, Default)]
pub struct RawAddresses {
    pub values: Vec<VirtualAddress>,
    pub at: Vec<Location>,
    /// Per line, whether it is tracked: a `static_ipaddress` line is unless
    /// `no_track` (a VIP's `no_track` is ignored: a Master always puts its
    /// VIPs back).
    pub track: Vec<bool>,
}

impl RawAddresses {
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&VirtualAddress, &Location)> {
        self.values.iter().zip(&self.at)
    }
}

#[derive(Debug, Default)]
pub struct RawConfig {
    pub global: RawGlobal,
    pub scripts: Vec<Spanned<VrrpScript>>,
    pub track_files: Vec<Spanned<TrackFile>>,
    pub track_processes: Vec<Spanned<TrackProcess>>,
    pub instances: Vec<RawInstance>,
    pub sync_groups: Vec<RawSyncGroup>,
    /// `static_ipaddress` lines; their interface is known once `global_defs`
    /// (`default_interface`) has been read.
    pub static_addresses: RawAddresses,
    pub static_routes: Vec<Route>,
    pub static_rules: Vec<Rule>,
}

pub fn interpret(statements: Block<'_>, diagnostics: &mut Diagnostics) -> RawConfig {
    let mut reader = Reader {
        diagnostics,
        priorities: RulePriorities::default(),
    };
    let mut raw = RawConfig::default();
    for statement in statements {
        let statement = &statement;
        match statement.name() {
            "global_defs" => {
                reader.no_args(statement);
                if let Some(block) = reader.block(statement) {
                    reader.global_defs(block, &mut raw.global);
                }
            }
            "vrrp_instance" => {
                if let (Some(name), Some(block)) =
                    (reader.section_name(statement), reader.block(statement))
                {
                    let instance = reader.instance(name, block);
                    raw.instances.push(instance);
                }
            }
            "vrrp_script" => {
                if let (Some(name), Some(block)) =
                    (reader.section_name(statement), reader.block(statement))
                {
                    if let Some(script) = reader.script(name, block) {
                        raw.scripts.push(script);
                    }
                }
            }
            // keepalived 2.2.7 reads `vrrp_track_file` as an older name of `track_file`.
            "track_file" | "vrrp_track_file" => {
                if let (Some(name), Some(block)) =
                    (reader.section_name(statement), reader.block(statement))
                {
                    if let Some(file) = reader.track_file(name, block) {
                        raw.track_files.push(file);
                    }
                }
            }
            "vrrp_track_process" => {
                if let (Some(name), Some(block)) =
                    (reader.section_name(statement), reader.block(statement))
                {
                    if let Some(process) = reader.track_process(name, block) {
                        raw.track_processes.push(process);
                    }
                }
            }
            "vrrp_sync_group" => {
                if let (Some(name), Some(block)) =
                    (reader.section_name(statement), reader.block(statement))
                {
                    let group = reader.sync_group(name, block);
                    raw.sync_groups.push(group);
                }
            }
            "static_ipaddress" => {
                if let Some(block) = reader.bare_block(statement) {
                    let addresses = reader.addresses(block, true);
                    raw.static_addresses.values.extend(addresses.values);
                    raw.static_addresses.at.extend(addresses.at);
                    raw.static_addresses.track.extend(addresses.track);
                }
            }
            "static_routes" => {
                if let Some(block) = reader.bare_block(statement) {
                    let routes = reader.routes(block, true);
                    raw.static_routes.extend(routes);
                }
            }
            "static_rules" => {
                if let Some(block) = reader.bare_block(statement) {
                    let rules = reader.rules(block, true);
                    raw.static_rules.extend(rules);
                }
            }
            other if keywords::skipped_in(Section::TopLevel, other) => reader.ignored(statement),
            _ => reader.unknown(statement),
        }
    }
    raw
}

struct Reader<'d> {
    diagnostics: &'d mut Diagnostics,
    /// keepalived numbers rules without a preference in file order.
    priorities: RulePriorities,
}

impl Reader<'_> {
    fn ignored(&mut self, statement: &Statement) {
        let skipped = if statement.block.is_some() {
            " (its block is skipped)"
        } else {
            ""
        };
        self.diagnostics.warning(
            statement.at(),
            format!(
                "'{}' is not supported by vip-agent and is ignored{skipped}",
                statement.name()
            ),
        );
    }

    fn unknown(&mut self, statement: &Statement) {
        self.diagnostics.warning(
            statement.at(),
            format!("unknown keyword '{}' is ignored", statement.name()),
        );
    }

    fn block<'t>(&mut self, statement: &Statement<'t>) -> Option<Block<'t>> {
        if statement.block.is_none() {
            self.diagnostics.error(
                statement.at(),
                format!("'{}' needs a block {{ ... }}", statement.name()),
            );
        }
        statement.block
    }

    /// Reports a block given to a keyword that takes none; keepalived would
    /// read its content as statements of the enclosing section.
    fn no_block(&mut self, statement: &Statement) {
        if statement.block.is_some() {
            self.diagnostics.error(
                statement.at(),
                format!("'{}' does not take a block", statement.name()),
            );
        }
    }

    fn extra_args(&mut self, statement: &Statement, used: usize) {
        if let Some(extra) = statement.args.get(used) {
            // keepalived silently ignores the rest of a line, so `state MASTER
            // interface eth0` on one line does not set the interface there either.
            self.diagnostics.warning(
                &extra.at,
                format!(
                    "'{}' ignores the words from '{}' to the end of the line (one statement per line)",
                    statement.name(),
                    extra.text
                ),
            );
        }
    }

    fn no_args(&mut self, statement: &Statement) {
        self.extra_args(statement, 0);
    }

    /// A keyword that stands alone: no arguments (not even a boolean, unlike
    /// [`Self::flag`]), no block (`nopreempt`, `dont_track_primary`, ...).
    fn bare_keyword(&mut self, statement: &Statement) {
        self.no_args(statement);
        self.no_block(statement);
    }

    /// The block of a keyword that takes no arguments, only `{ ... }`
    /// (`virtual_ipaddress`, `track_script`, ...).
    fn bare_block<'t>(&mut self, statement: &Statement<'t>) -> Option<Block<'t>> {
        self.no_args(statement);
        self.block(statement)
    }

    fn section_name<'s, 't>(&mut self, statement: &'s Statement<'t>) -> Option<&'s Word<'t>> {
        let name = statement.args.first();
        if name.is_none() {
            self.diagnostics.error(
                statement.at(),
                format!("'{}' needs a name", statement.name()),
            );
        }
        self.extra_args(statement, 1);
        name
    }

    /// The single value of `keyword VALUE`.
    fn value<'s, 't>(&mut self, statement: &'s Statement<'t>) -> Option<&'s Word<'t>> {
        self.no_block(statement);
        let value = statement.args.first();
        if value.is_none() {
            self.diagnostics.error(
                statement.at(),
                format!("'{}' needs a value", statement.name()),
            );
        }
        self.extra_args(statement, 1);
        value
    }

    fn parsed<T>(
        &mut self,
        statement: &Statement,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<Spanned<T>> {
        let word = self.value(statement)?;
        match parse(word.text) {
            Ok(value) => Some(Spanned {
                value,
                at: word.at.clone(),
            }),
            Err(message) => {
                self.diagnostics
                    .error(&word.at, format!("{}: {message}", statement.name()));
                None
            }
        }
    }

    fn integer<T: TryFrom<i64>>(&mut self, statement: &Statement, min: i64, max: i64) -> Option<T> {
        self.parsed(statement, |text| values::integer(text, min, max))
            .map(|spanned| spanned.value)
    }

    /// A flag keyword, optionally followed by a <BOOL>.
    /// `use_vmac [NAME] [MAC]`, in either order, as keepalived reads it: a
    /// word with a ':' is the MAC; what is wrong in either is ignored
    /// with a warning.
    fn vmac(&mut self, statement: &Statement) -> RawVmac {
        self.no_block(statement);
        self.extra_args(statement, 2);
        let mut vmac = RawVmac {
            at: statement.at().clone(),
            name: None,
            mac: None,
        };
        for word in statement.args.iter().take(2) {
            if word.text.contains(':') {
                if vmac.mac.is_some() {
                    self.diagnostics
                        .warning(&word.at, "use_vmac: the MAC address was already given");
                    continue;
                }
                match values::vmac_address(word.text) {
                    Ok(mac) => vmac.mac = Some(mac),
                    Err(message) => self.diagnostics.warning(
                        &word.at,
                        format!("use_vmac: {message}; it is ignored, as keepalived ignores it"),
                    ),
                }
            } else if vmac.name.is_some() {
                self.diagnostics
                    .warning(&word.at, "use_vmac: the interface name was already given");
            } else if let Err(message) = values::interface_name(word.text) {
                self.diagnostics.warning(
                    &word.at,
                    format!("use_vmac: {message}; it is ignored, as keepalived ignores it"),
                );
            } else {
                vmac.name = Some(word.text.to_string());
            }
        }
        vmac
    }

    fn flag(&mut self, statement: &Statement) -> bool {
        self.no_block(statement);
        match statement.args.first() {
            None => true,
            Some(word) => {
                self.extra_args(statement, 1);
                match values::boolean(word.text) {
                    Ok(value) => value,
                    Err(message) => {
                        self.diagnostics
                            .error(&word.at, format!("{}: {message}", statement.name()));
                        true
                    }
                }
            }
        }
    }

    /// The `min_ttl N` / `max_ttl N` pairs after a `unicast_peer` address
    /// (keepalived's defaults 0 and 255 for what is not written); `None`
    /// when the line gives neither.
    fn peer_ttl(&mut self, peer: &Statement) -> Option<PeerTtl> {
        let mut ttl = PeerTtl::default();
        let mut pairs = peer.args.chunks(2);
        for pair in pairs.by_ref() {
            let option = &pair[0];
            let Some(value) = pair.get(1) else {
                self.diagnostics.error(
                    &option.at,
                    format!("unicast_peer: {} is missing a value", option.text),
                );
                break;
            };
            let slot = match option.text {
                "min_ttl" => &mut ttl.min,
                "max_ttl" => &mut ttl.max,
                other => {
                    self.diagnostics.error(
                        &option.at,
                        format!("unicast_peer: unknown option '{other}' (min_ttl, max_ttl)"),
                    );
                    break;
                }
            };
            match values::integer(value.text, 0, 255) {
                Ok(number) => *slot = number,
                Err(message) => {
                    self.diagnostics.error(
                        &value.at,
                        format!("unicast_peer: {}: {message}", option.text),
                    );
                }
            }
        }
        if ttl.min > ttl.max {
            // keepalived says the same and keeps the peer.
            self.diagnostics.warning(
                peer.at(),
                format!(
                    "unicast_peer {}: min_ttl {} > max_ttl {}: every advert from it will be discarded",
                    peer.name(),
                    ttl.min,
                    ttl.max
                ),
            );
        }
        (!peer.args.is_empty()).then_some(ttl)
    }

    fn global_defs(&mut self, block: Block<'_>, global: &mut RawGlobal) {
        for statement in block {
            let statement = &statement;
            match statement.name() {
                "router_id" => {
                    global.router_id = self.value(statement).map(|word| word.text.to_string())
                }
                "vmac_prefix" => {
                    global.vmac_prefix = self.value(statement).map(|word| word.text.to_string())
                }
                "vrrp_version" => global.vrrp_version = self.integer(statement, 2, 3),
                "vrrp_garp_master_delay" => {
                    global.garp_master_delay = self.integer(statement, 0, 86400)
                }
                "vrrp_garp_master_repeat" => {
                    global.garp_master_repeat = self.integer(statement, 0, 1_000_000)
                }
                "vrrp_garp_master_refresh" => {
                    global.garp_master_refresh = self.integer(statement, 0, 86400)
                }
                "vrrp_garp_master_refresh_repeat" => {
                    global.garp_master_refresh_repeat = self.integer(statement, 0, 1_000_000)
                }
                "vrrp_garp_lower_prio_delay" => {
                    global.garp_lower_prio_delay = self.integer(statement, 0, 86400)
                }
                "vrrp_garp_lower_prio_repeat" => {
                    global.garp_lower_prio_repeat = self.integer(statement, 0, 1_000_000)
                }
                "vrrp_min_garp" => global.min_garp = self.flag(statement),
                "vrrp_notify_priority_changes" => {
                    global.notify_priority_changes = self.flag(statement)
                }
                "vrrp_garp_interval" => {
                    global.garp_interval_us = self
                        .parsed(statement, values::seconds_as_micros)
                        .map(|s| s.value)
                }
                "vrrp_gna_interval" => {
                    global.gna_interval_us = self
                        .parsed(statement, values::seconds_as_micros)
                        .map(|s| s.value)
                }
                "vrrp_mcast_group4" => {
                    global.mcast_group4 = self
                        .parsed(statement, |text| match values::address(text)? {
                            IpAddr::V4(address) if address.is_multicast() => Ok(address),
                            _ => Err(format!("'{text}' is not an IPv4 multicast address")),
                        })
                        .map(|s| s.value)
                }
                "vrrp_mcast_group6" => {
                    global.mcast_group6 = self
                        .parsed(statement, |text| match values::address(text)? {
                            IpAddr::V6(address) if address.is_multicast() => Ok(address),
                            _ => Err(format!("'{text}' is not an IPv6 multicast address")),
                        })
                        .map(|s| s.value)
                }
                "vrrp_strict" => global.vrrp_strict = self.flag(statement),
                // Always on here, as `check_unicast_src` is.
                "vrrp_check_unicast_src" => self.bare_keyword(statement),
                "vrrp_lower_prio_no_advert" => global.lower_prio_no_advert = self.flag(statement),
                "vrrp_higher_prio_send_advert" => {
                    global.higher_prio_send_advert = self.flag(statement)
                }
                "vrrp_down_timer_adverts" => {
                    global.down_timer_adverts = self.integer(statement, 1, 100)
                }
                "v3_checksum_as_v2" => global.v3_checksum_as_v2 = self.flag(statement),
                "enable_script_security" => global.enable_script_security = self.flag(statement),
                "script_user" => {
                    self.no_block(statement);
                    match statement.args.first() {
                        None => self
                            .diagnostics
                            .error(statement.at(), "'script_user' needs a user name"),
                        Some(user) => {
                            global.script_user = Some(ScriptUser {
                                user: user.text.to_string(),
                                group: statement.args.get(1).map(|word| word.text.to_string()),
                            });
                            self.extra_args(statement, 2);
                        }
                    }
                }
                "notify_fifo" => self.first_only(statement, "a FIFO path", &mut global.notify_fifo),
                "notify_fifo_script" => {
                    self.first_only(statement, "a script", &mut global.notify_fifo_script)
                }
                "vrrp_notify_fifo" => {
                    self.first_only(statement, "a FIFO path", &mut global.vrrp_notify_fifo)
                }
                "vrrp_notify_fifo_script" => {
                    self.first_only(statement, "a script", &mut global.vrrp_notify_fifo_script)
                }
                "fifo_write_vrrp_states_on_reload" => {
                    self.bare_keyword(statement);
                    global.fifo_write_vrrp_states_on_reload = true;
                }
                "default_interface" => {
                    global.default_interface =
                        self.value(statement).map(|word| word.text.to_string())
                }
                other if keywords::skipped_in(Section::GlobalDefs, other) => {
                    self.ignored(statement)
                }
                _ => self.unknown(statement),
            }
        }
    }

    /// `KEYWORD VALUE [USER [GROUP]]` that keepalived takes once: a second
    /// one is ignored with a warning, as keepalived ignores it.
    fn first_only(
        &mut self,
        statement: &Statement,
        what: &str,
        slot: &mut Option<Spanned<Command>>,
    ) {
        let Some(command) = self.with_user(statement, what) else {
            return;
        };
        if let Some(first) = slot {
            self.diagnostics.warning(
                statement.at(),
                format!(
                    "'{}' was already given at {}; this one is ignored, as keepalived ignores it",
                    statement.name(),
                    first.at
                ),
            );
            return;
        }
        *slot = Some(Spanned {
            value: command,
            at: statement.at().clone(),
        });
    }

    fn instance(&mut self, name: &Word, block: Block<'_>) -> RawInstance {
        let mut instance = RawInstance {
            name: name.text.to_string(),
            at: name.at.clone(),
            state: None,
            interface: None,
            virtual_router_id: None,
            priority: None,
            advert_int_us: None,
            nopreempt: None,
            preempt_delay_us: None,
            version: None,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            unicast_peer_ttl: Vec::new(),
            unicast_ttl: None,
            authentication: None,
            virtual_ipaddresses: RawAddresses::default(),
            virtual_ipaddresses_excluded: RawAddresses::default(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            notify: RawNotify::default(),
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            accept: None,
            dont_track_primary: false,
            notify_priority_changes: None,
            strict_mode: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            down_timer_adverts: None,
            use_vmac: None,
            vmac_xmit_base: None,
            notify_deleted: false,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            written: Vec::new(),
        };
        for statement in block {
            let statement = &statement;
            if REQUIRED_INSTANCE_KEYWORDS.contains(&statement.name())
                && !instance.written.iter().any(|seen| seen == statement.name())
            {
                instance.written.push(statement.name().to_string());
            }
            match statement.name() {
                "state" => {
                    instance.state = self.parsed(statement, |text| match text {
                        "MASTER" => Ok(InitialState::Master),
                        "BACKUP" => Ok(InitialState::Backup),
                        _ => Err(format!("'{text}' is neither MASTER nor BACKUP")),
                    })
                }
                "interface" => {
                    instance.interface = self.parsed(statement, |text| Ok(text.to_string()))
                }
                "virtual_router_id" => {
                    instance.virtual_router_id =
                        self.parsed(statement, |text| values::integer(text, 1, 255))
                }
                "priority" => {
                    instance.priority = self.parsed(statement, |text| values::integer(text, 1, 255))
                }
                "advert_int" => {
                    instance.advert_int_us = self.parsed(statement, values::seconds_as_micros)
                }
                "nopreempt" => {
                    self.bare_keyword(statement);
                    instance.nopreempt = Some(statement.at().clone());
                }
                "preempt" => {
                    // keepalived keeps it for old configurations; preempting is the default.
                    self.bare_keyword(statement);
                    instance.nopreempt = None;
                }
                "preempt_delay" => {
                    instance.preempt_delay_us = self.parsed(statement, |text| {
                        let micros = values::seconds_as_micros(text)?;
                        if micros > 1000 * 1_000_000 {
                            return Err(format!("{text} is outside the range 0..1000 seconds"));
                        }
                        Ok(micros)
                    })
                }
                "version" => {
                    instance.version = self.parsed(statement, |text| values::integer(text, 2, 3))
                }
                // The same keyword in keepalived (vrrp_srcip_handler): the
                // source of the adverts, multicast or unicast.
                "unicast_src_ip" | "mcast_src_ip" => {
                    instance.unicast_src_ip = self.parsed(statement, values::address)
                }
                "unicast_peer" => {
                    if let Some(block) = self.bare_block(statement) {
                        for peer in block {
                            let peer = &peer;
                            self.no_block(peer);
                            match values::address(peer.name()) {
                                Ok(address) => {
                                    instance.unicast_peers.push(Spanned {
                                        value: address,
                                        at: peer.at().clone(),
                                    });
                                    if let Some(ttl) = self.peer_ttl(peer) {
                                        instance.unicast_peer_ttl.push((address, ttl));
                                    }
                                }
                                Err(message) => self
                                    .diagnostics
                                    .error(peer.at(), format!("unicast_peer: {message}")),
                            }
                        }
                    }
                }
                "unicast_ttl" => {
                    instance.unicast_ttl =
                        self.parsed(statement, |text| values::integer(text, 0, 255))
                }
                "authentication" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.authentication = self.authentication(statement.at(), block);
                    }
                }
                "virtual_ipaddress" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.virtual_ipaddresses = self.addresses(block, false);
                    }
                }
                "virtual_ipaddress_excluded" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.virtual_ipaddresses_excluded = self.addresses(block, false);
                    }
                }
                "track_interface" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.track_interfaces = self.tracks(block, 253);
                    }
                }
                "track_script" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.track_scripts = self.tracks(block, 253);
                    }
                }
                "track_file" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.track_files = self.tracks(block, 254);
                    }
                }
                "track_process" => {
                    if let Some(block) = self.bare_block(statement) {
                        instance.track_processes = self.tracks(block, 254);
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(statement, &mut instance.notify)
                }
                "notify_master_rx_lower_pri" => {
                    if instance.notify.master_rx_lower_pri.is_some() {
                        self.diagnostics.warning(
                            statement.at(),
                            "'notify_master_rx_lower_pri' was already given; this one is ignored, as keepalived ignores it",
                        );
                    } else {
                        instance.notify.master_rx_lower_pri = self.command(statement);
                    }
                }
                "garp_master_delay" => {
                    instance.garp_master_delay = self.integer(statement, 0, 86400)
                }
                "garp_master_repeat" => {
                    instance.garp_master_repeat = self.integer(statement, 0, 1_000_000)
                }
                "garp_master_refresh" => {
                    instance.garp_master_refresh = self.integer(statement, 0, 86400)
                }
                "garp_master_refresh_repeat" => {
                    instance.garp_master_refresh_repeat = self.integer(statement, 0, 1_000_000)
                }
                "garp_lower_prio_delay" => {
                    instance.garp_lower_prio_delay =
                        self.parsed(statement, |text| values::integer(text, 0, 86400))
                }
                "garp_lower_prio_repeat" => {
                    instance.garp_lower_prio_repeat =
                        self.parsed(statement, |text| values::integer(text, 0, 1_000_000))
                }
                "accept" | "no_accept" => {
                    self.bare_keyword(statement);
                    instance.accept = Some(Spanned {
                        value: statement.name() == "accept",
                        at: statement.at().clone(),
                    });
                }
                "notify_priority_changes" => {
                    instance.notify_priority_changes = Some(self.flag(statement))
                }
                // `notify_deleted [SCRIPT [USER [GROUP]]]`
                "notify_deleted" => {
                    if instance.notify_deleted {
                        self.diagnostics.warning(
                            statement.at(),
                            "'notify_deleted' was already given; this one is ignored, as keepalived ignores it",
                        );
                    } else {
                        instance.notify_deleted = true;
                        if !statement.args.is_empty() {
                            instance.notify.deleted = self.command(statement);
                        } else {
                            self.no_block(statement);
                        }
                    }
                }
                // What keepalived does only with it, vip-agent always does:
                // a unicast advert must come from a peer, within its TTL range.
                "check_unicast_src" => self.bare_keyword(statement),
                "dont_track_primary" => {
                    self.bare_keyword(statement);
                    instance.dont_track_primary = true;
                }
                "strict_mode" => instance.strict_mode = Some(self.flag(statement)),
                "lower_prio_no_advert" => {
                    instance.lower_prio_no_advert = Some(Spanned {
                        value: self.flag(statement),
                        at: statement.at().clone(),
                    })
                }
                "higher_prio_send_advert" => {
                    instance.higher_prio_send_advert = Some(Spanned {
                        value: self.flag(statement),
                        at: statement.at().clone(),
                    })
                }
                "use_vmac" => instance.use_vmac = Some(self.vmac(statement)),
                "vmac_xmit_base" => {
                    self.bare_keyword(statement);
                    instance.vmac_xmit_base = Some(statement.at().clone());
                }
                "down_timer_adverts" => {
                    instance.down_timer_adverts =
                        self.parsed(statement, |text| values::integer(text, 1, 100))
                }
                // keepalived adds the lines of every block to the list.
                "virtual_routes" => {
                    if let Some(block) = self.bare_block(statement) {
                        let routes = self.routes(block, false);
                        instance.virtual_routes.extend(routes);
                    }
                }
                "virtual_rules" => {
                    if let Some(block) = self.bare_block(statement) {
                        let rules = self.rules(block, false);
                        instance.virtual_rules.extend(rules);
                    }
                }
                "auth_type" | "auth_pass" => self.diagnostics.error(
                    statement.at(),
                    format!(
                        "'{}' belongs inside an authentication {{ ... }} block",
                        statement.name()
                    ),
                ),
                other if keywords::skipped_in(Section::VrrpInstance, other) => {
                    self.ignored(statement)
                }
                _ => self.unknown(statement),
            }
        }
        instance
    }

    fn authentication(&mut self, at: &Location, block: Block<'_>) -> Option<RawAuth> {
        let mut pass = None;
        let mut is_pass = false;
        let mut failed = false;
        for statement in block {
            let statement = &statement;
            match statement.name() {
                "auth_type" => match self.value(statement) {
                    Some(word) if word.text == "PASS" => is_pass = true,
                    Some(word) if word.text == "AH" => {
                        failed = true;
                        self.diagnostics.error(
                            &word.at,
                            "auth_type AH (IPsec authentication header) is not supported by vip-agent; \
                             use PASS or no authentication",
                        );
                    }
                    Some(word) => {
                        failed = true;
                        self.diagnostics.error(
                            &word.at,
                            format!("auth_type: '{}' is neither PASS nor AH", word.text),
                        );
                    }
                    None => failed = true,
                },
                "auth_pass" => {
                    if let Some(word) = self.value(statement) {
                        let mut password = word.text.to_string();
                        if password.len() > 8 {
                            let mut cut = 8;
                            while !password.is_char_boundary(cut) {
                                cut -= 1;
                            }
                            password.truncate(cut);
                            self.diagnostics.warning(
                                &word.at,
                                format!("auth_pass is longer than 8 bytes; only '{password}' is used, as keepalived does"),
                            );
                        }
                        pass = Some(password);
                    }
                }
                _ => self.unknown(statement),
            }
        }
        if failed {
            return None;
        }
        if !is_pass {
            self.diagnostics
                .error(at, "authentication needs 'auth_type PASS'");
            return None;
        }
        if pass.is_none() {
            self.diagnostics
                .error(at, "authentication with auth_type PASS needs 'auth_pass'");
            return None;
        }
        Some(RawAuth {
            pass,
            at: at.clone(),
        })
    }

    fn routes(&mut self, block: Block<'_>, is_static: bool) -> Vec<Route> {
        let mut routes = Vec::new();
        for line in block {
            let line = &line;
            self.no_block(line);
            if let Some(route) =
                routing_parse::route(&line.keyword, &line.args, is_static, self.diagnostics)
            {
                routes.push(route);
            }
        }
        routes
    }

    fn rules(&mut self, block: Block<'_>, is_static: bool) -> Vec<Rule> {
        let mut rules = Vec::new();
        for line in block {
            let line = &line;
            self.no_block(line);
            if let Some(rule) = routing_parse::rule(
                &line.keyword,
                &line.args,
                is_static,
                &mut self.priorities,
                self.diagnostics,
            ) {
                rules.push(rule);
            }
        }
        rules
    }

    /// Address lines of `virtual_ipaddress` (`is_static` false) or
    /// `static_ipaddress`.
    fn addresses(&mut self, block: Block<'_>, is_static: bool) -> RawAddresses {
        let what = if is_static {
            "static address"
        } else {
            "virtual address"
        };
        let mut addresses = RawAddresses::default();
        let mut last_named: Option<VirtualAddress> = None;
        for line in block {
            let line = &line;
            self.no_block(line);
            let (address, prefix_len) = match values::address_with_prefix(line.name()) {
                Ok(parsed) => parsed,
                Err(message) => {
                    self.diagnostics
                        .error(line.at(), format!("{what}: {message}"));
                    continue;
                }
            };
            let mut dev = None;
            let mut label = None;
            let mut track = true;
            let mut index = 0;
            while index < line.args.len() {
                let option = &line.args[index];
                let value = line.args.get(index + 1);
                match option.text {
                    "dev" | "label" => {
                        let Some(value) = value else {
                            self.diagnostics
                                .error(&option.at, format!("'{}' needs a value", option.text));
                            break;
                        };
                        let name = Some(value.text.to_string());
                        if option.text == "dev" {
                            dev = name;
                        } else {
                            label = name;
                        }
                        index += 2;
                    }
                    "no_track" if is_static => {
                        track = false;
                        index += 1;
                    }
                    text => match IGNORED_ADDRESS_OPTIONS
                        .iter()
                        .find(|(name, _)| *name == text)
                    {
                        Some((name, takes_value)) => {
                            self.diagnostics.warning(
                                &option.at,
                                format!("{what} option '{name}' is not supported by vip-agent and is ignored"),
                            );
                            index += if *takes_value { 2 } else { 1 };
                        }
                        None => {
                            // keepalived stops reading the line here too.
                            self.diagnostics.warning(
                                &option.at,
                                format!(
                                    "unknown {what} option '{text}'; the rest of the line is ignored \
                                     (one address per line)"
                                ),
                            );
                            break;
                        }
                    },
                }
            }
            // Lines giving the same names share them.
            let virtual_address = match &last_named {
                Some(last) if last.dev() == dev.as_deref() && last.label() == label.as_deref() => {
                    VirtualAddress::new(address, prefix_len).with_names_of(last)
                }
                _ => VirtualAddress::new(address, prefix_len).with_names(dev, label),
            };
            if virtual_address.dev().is_some() || virtual_address.label().is_some() {
                last_named = Some(virtual_address.clone());
            }
            addresses.values.push(virtual_address);
            addresses.at.push(line.at().clone());
            addresses.track.push(track);
        }
        addresses
    }

    /// Lines `NAME [weight N] [reverse|noreverse|no_reverse]`.
    fn tracks(&mut self, block: Block<'_>, max_weight: i64) -> Vec<RawTrack> {
        let mut tracks = Vec::new();
        for line in block {
            let line = &line;
            self.no_block(line);
            let mut track = RawTrack {
                name: line.name().to_string(),
                weight: None,
                reverse: false,
                at: line.at().clone(),
            };
            let mut index = 0;
            while index < line.args.len() {
                let option = &line.args[index];
                match option.text {
                    "weight" => {
                        match line.args.get(index + 1) {
                            None => self.diagnostics.error(&option.at, "'weight' needs a value"),
                            Some(value) => {
                                match values::integer(value.text, -max_weight, max_weight) {
                                    Ok(weight) => track.weight = Some(weight),
                                    Err(message) => self
                                        .diagnostics
                                        .error(&value.at, format!("weight: {message}")),
                                }
                            }
                        }
                        index += 2;
                    }
                    "reverse" => {
                        track.reverse = true;
                        index += 1;
                    }
                    "noreverse" | "no_reverse" => {
                        track.reverse = false;
                        index += 1;
                    }
                    other => {
                        self.diagnostics.warning(
                            &option.at,
                            format!("unknown tracking option '{other}'; the rest of the line is ignored"),
                        );
                        break;
                    }
                }
            }
            tracks.push(track);
        }
        tracks
    }

    fn command(&mut self, statement: &Statement) -> Option<Command> {
        self.with_user(statement, "a script")
    }

    /// `KEYWORD VALUE [USER [GROUP]]`: a command, or a FIFO with its owner.
    fn with_user(&mut self, statement: &Statement, what: &str) -> Option<Command> {
        self.no_block(statement);
        let command = statement.args.first();
        if command.is_none() {
            self.diagnostics.error(
                statement.at(),
                format!("'{}' needs {what}", statement.name()),
            );
        }
        self.extra_args(statement, 3);
        Some(Command {
            command: command?.text.to_string(),
            user: statement.args.get(1).map(|word| word.text.to_string()),
            group: statement.args.get(2).map(|word| word.text.to_string()),
        })
    }

    fn notify(&mut self, statement: &Statement, notify: &mut RawNotify) {
        let command = self.command(statement);
        let slot = match statement.name() {
            "notify_master" => &mut notify.master,
            "notify_backup" => &mut notify.backup,
            "notify_fault" => &mut notify.fault,
            "notify_stop" => &mut notify.stop,
            _ => &mut notify.any,
        };
        *slot = command;
    }

    fn script(&mut self, name: &Word, block: Block<'_>) -> Option<Spanned<VrrpScript>> {
        let mut script = VrrpScript {
            name: name.text.to_string(),
            script: String::new(),
            interval_s: 1,
            timeout_s: 0,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            group: None,
            init_fail: false,
        };
        let mut has_script = false;
        let mut timeout = None;
        for statement in block {
            let statement = &statement;
            match statement.name() {
                "script" => {
                    if let Some(word) = self.value(statement) {
                        script.script = word.text.to_string();
                        has_script = true;
                    }
                }
                "interval" => {
                    script.interval_s = self
                        .integer(statement, 1, 86400)
                        .unwrap_or(script.interval_s)
                }
                "timeout" => timeout = self.integer(statement, 1, 86400),
                "weight" => {
                    self.no_block(statement);
                    match statement.args.first() {
                        None => self
                            .diagnostics
                            .error(statement.at(), "'weight' needs a value"),
                        Some(word) => match values::integer(word.text, -253, 253) {
                            Ok(weight) => script.weight = weight,
                            Err(message) => self
                                .diagnostics
                                .error(&word.at, format!("weight: {message}")),
                        },
                    }
                    match statement.args.get(1).map(|word| word.text) {
                        Some("reverse") => script.weight_reverse = true,
                        Some("noreverse" | "no_reverse") => script.weight_reverse = false,
                        Some(_) => self.extra_args(statement, 1),
                        None => {}
                    }
                    self.extra_args(statement, 2);
                }
                "rise" => {
                    script.rise = self.integer(statement, 1, 1_000_000).unwrap_or(script.rise)
                }
                "fall" => {
                    script.fall = self.integer(statement, 1, 1_000_000).unwrap_or(script.fall)
                }
                "user" => {
                    self.no_block(statement);
                    script.user = statement.args.first().map(|word| word.text.to_string());
                    script.group = statement.args.get(1).map(|word| word.text.to_string());
                    if script.user.is_none() {
                        self.diagnostics
                            .error(statement.at(), "'user' needs a user name");
                    }
                    self.extra_args(statement, 2);
                }
                "init_fail" => {
                    self.bare_keyword(statement);
                    script.init_fail = true;
                }
                _ => self.unknown(statement),
            }
        }
        // keepalived lets a check run for a whole interval before calling it failed.
        script.timeout_s = timeout.unwrap_or(script.interval_s);
        if !has_script {
            self.diagnostics.error(
                &name.at,
                format!("vrrp_script {} has no 'script'", name.text),
            );
            return None;
        }
        Some(Spanned {
            value: script,
            at: name.at.clone(),
        })
    }

    /// `weight W [reverse]` of a `track_file` or `vrrp_track_process`
    /// section (keepalived: -254..254).
    fn section_weight(&mut self, statement: &Statement) -> Option<(i32, bool)> {
        self.no_block(statement);
        let Some(word) = statement.args.first() else {
            self.diagnostics
                .error(statement.at(), "'weight' needs a value");
            return None;
        };
        let weight = match values::integer(word.text, -254, 254) {
            Ok(weight) => weight,
            Err(message) => {
                self.diagnostics
                    .error(&word.at, format!("weight: {message}"));
                return None;
            }
        };
        let reverse = match statement.args.get(1) {
            Some(option) if option.text == "reverse" => true,
            Some(option) => {
                self.diagnostics.warning(
                    &option.at,
                    format!("unknown weight option '{}' is ignored", option.text),
                );
                false
            }
            None => false,
        };
        self.extra_args(statement, 2);
        Some((weight, reverse))
    }

    fn track_file(&mut self, name: &Word, block: Block<'_>) -> Option<Spanned<TrackFile>> {
        let mut file = TrackFile {
            name: name.text.to_string(),
            path: String::new(),
            weight: 1,
            weight_reverse: false,
            init: None,
        };
        let mut has_path = false;
        for statement in block {
            let statement = &statement;
            match statement.name() {
                "file" => {
                    if let Some(word) = self.value(statement) {
                        if has_path {
                            self.diagnostics.warning(
                                &word.at,
                                format!(
                                    "track_file {}: the file is already set; '{}' is ignored, as keepalived ignores it",
                                    name.text, word.text
                                ),
                            );
                        } else {
                            file.path = word.text.to_string();
                            has_path = true;
                        }
                    }
                }
                "weight" => {
                    if let Some((weight, reverse)) = self.section_weight(statement) {
                        file.weight = weight;
                        file.weight_reverse = reverse;
                    }
                }
                "init_file" => {
                    self.no_block(statement);
                    let mut init = TrackFileInit {
                        value: 0,
                        overwrite: false,
                    };
                    for word in &statement.args {
                        if word.text == "overwrite" {
                            init.overwrite = true;
                        } else if word
                            .text
                            .starts_with(|c: char| c.is_ascii_digit() || c == '-')
                        {
                            match values::integer(
                                word.text,
                                i64::from(i32::MIN),
                                i64::from(i32::MAX),
                            ) {
                                Ok(value) => {
                                    if !(-254..=254).contains(&value) {
                                        self.diagnostics.warning(
                                            &word.at,
                                            format!("init_file: {value} is outside the sensible range -254..254"),
                                        );
                                    }
                                    init.value = value;
                                }
                                Err(message) => self
                                    .diagnostics
                                    .error(&word.at, format!("init_file: {message}")),
                            }
                        } else {
                            self.diagnostics.warning(
                                &word.at,
                                format!("unknown init_file option '{}' is ignored", word.text),
                            );
                        }
                    }
                    file.init = Some(init);
                }
                _ => self.unknown(statement),
            }
        }
        if !has_path {
            self.diagnostics
                .error(&name.at, format!("track_file {} has no 'file'", name.text));
            return None;
        }
        Some(Spanned {
            value: file,
            at: name.at.clone(),
        })
    }

    fn track_process(&mut self, name: &Word, block: Block<'_>) -> Option<Spanned<TrackProcess>> {
        let mut process = TrackProcess {
            name: name.text.to_string(),
            process: String::new(),
            params: Vec::new(),
            param_match: None,
            full_command: false,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay_us: 0,
            terminate_delay_us: 0,
        };
        let mut has_process = false;
        for statement in block {
            let statement = &statement;
            match statement.name() {
                "process" => {
                    self.no_block(statement);
                    match statement.args.split_first() {
                        None => self
                            .diagnostics
                            .error(statement.at(), "'process' needs a process name"),
                        Some((word, _)) if has_process => self.diagnostics.warning(
                            &word.at,
                            format!(
                                "vrrp_track_process {}: the process is already set; '{}' is ignored, as keepalived ignores it",
                                name.text, word.text
                            ),
                        ),
                        Some((word, params)) => {
                            has_process = true;
                            process.process = word.text.to_string();
                            process.params = params.iter().map(|p| p.text.to_string()).collect();
                            if !params.is_empty() {
                                process.param_match.get_or_insert(ParamMatch::Exact);
                                process.full_command = true;
                            }
                        }
                    }
                }
                "param_match" => {
                    self.no_block(statement);
                    let mode = match statement.args.first().map(|w| w.text) {
                        None | Some("exact") => Some(ParamMatch::Exact),
                        Some("partial") => Some(ParamMatch::Partial),
                        Some("initial") => Some(ParamMatch::Initial),
                        Some(other) => {
                            self.diagnostics.error(
                                &statement.args[0].at,
                                format!(
                                    "param_match: '{other}' is none of exact, partial, initial"
                                ),
                            );
                            None
                        }
                    };
                    self.extra_args(statement, 1);
                    if let Some(mode) = mode {
                        process.param_match = Some(mode);
                        process.full_command = true;
                    }
                }
                "full_command" => {
                    self.bare_keyword(statement);
                    process.full_command = true;
                }
                "weight" => {
                    if let Some((weight, reverse)) = self.section_weight(statement) {
                        process.weight = weight;
                        process.weight_reverse = reverse;
                    }
                }
                "quorum" => {
                    if let Some(quorum) = self.integer::<u32>(statement, 1, 65535) {
                        if quorum > process.quorum_max {
                            self.diagnostics.error(
                                statement.at(),
                                format!(
                                    "quorum {quorum} is greater than quorum_max {}",
                                    process.quorum_max
                                ),
                            );
                        } else {
                            process.quorum = quorum;
                        }
                    }
                }
                "quorum_max" => {
                    if let Some(max) = self.integer::<u32>(statement, 0, 65535) {
                        // keepalived: quorum_max 0 (no such process may run) sets quorum to 0.
                        if (max != 0 || process.quorum > 1) && max < process.quorum {
                            self.diagnostics.error(
                                statement.at(),
                                format!("quorum_max {max} is less than quorum {}", process.quorum),
                            );
                        } else {
                            process.quorum_max = max;
                            if max == 0 {
                                process.quorum = 0;
                            } else if process.quorum == 0 {
                                process.quorum = 1;
                            }
                        }
                    }
                }
                keyword @ ("delay" | "terminate_delay" | "fork_delay") => {
                    let delay = self.parsed(statement, |text| {
                        let micros = values::seconds_as_micros(text)?;
                        if !(1..=3600 * 1_000_000).contains(&micros) {
                            return Err(format!(
                                "{text} is outside the range 0.000001..3600 seconds"
                            ));
                        }
                        Ok(micros)
                    });
                    if let Some(delay) = delay {
                        if keyword != "fork_delay" {
                            process.terminate_delay_us = delay.value;
                        }
                        if keyword != "terminate_delay" {
                            process.fork_delay_us = delay.value;
                        }
                    }
                }
                _ => self.unknown(statement),
            }
        }
        if !has_process {
            self.diagnostics.error(
                &name.at,
                format!("vrrp_track_process {} has no 'process'", name.text),
            );
            return None;
        }
        Some(Spanned {
            value: process,
            at: name.at.clone(),
        })
    }

    fn sync_group(&mut self, name: &Word, block: Block<'_>) -> RawSyncGroup {
        let mut group = RawSyncGroup {
            name: name.text.to_string(),
            at: name.at.clone(),
            members: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            track_processes: Vec::new(),
            notify: RawNotify::default(),
            tracking_weight: false,
            notify_priority_changes: None,
        };
        for statement in block {
            let statement = &statement;
            match statement.name() {
                "notify_priority_changes" => {
                    group.notify_priority_changes = Some(self.flag(statement))
                }
                "sync_group_tracking_weight" => {
                    self.bare_keyword(statement);
                    group.tracking_weight = true;
                }
                "global_tracking" => {
                    self.bare_keyword(statement);
                    self.diagnostics.warning(
                        statement.at(),
                        format!(
                            "vrrp_sync_group {}: global_tracking is deprecated (use track_interface, \
                             track_script on the sync group); it is read as sync_group_tracking_weight, \
                             as keepalived reads it",
                            group.name
                        ),
                    );
                    group.tracking_weight = true;
                }
                "group" => {
                    if let Some(members) = self.bare_block(statement) {
                        for member in members {
                            self.no_block(&member);
                            // keepalived accepts several names on one line here.
                            for word in std::iter::once(&member.keyword).chain(&member.args) {
                                group.members.push(Spanned {
                                    value: word.text.to_string(),
                                    at: word.at.clone(),
                                });
                            }
                        }
                    }
                }
                "track_interface" => {
                    if let Some(block) = self.bare_block(statement) {
                        group.track_interfaces = self.tracks(block, 253);
                    }
                }
                "track_script" => {
                    if let Some(block) = self.bare_block(statement) {
                        group.track_scripts = self.tracks(block, 253);
                    }
                }
                "track_file" => {
                    if let Some(block) = self.bare_block(statement) {
                        group.track_files = self.tracks(block, 254);
                    }
                }
                "track_process" => {
                    if let Some(block) = self.bare_block(statement) {
                        group.track_processes = self.tracks(block, 254);
                    }
                }
                "notify_master" | "notify_backup" | "notify_fault" | "notify_stop" | "notify" => {
                    self.notify(statement, &mut group.notify)
                }
                other if keywords::skipped_in(Section::VrrpSyncGroup, other) => {
                    self.ignored(statement)
                }
                _ => self.unknown(statement),
            }
        }
        group
    }
}

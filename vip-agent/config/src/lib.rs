//! keepalived.conf reader: lexer, parser, typed configuration, validation.
//!
//! The `vrrp_*` sections, `global_defs` and the `static_ipaddress`,
//! `static_routes` and `static_rules` blocks are read as keepalived 2.2.7
//! reads them; everything else keepalived knows is skipped with a warning. See
//! `vip-agent/docs/configuration.md` for the keyword reference.

pub mod check;
pub mod cli;
mod diagnostic;
mod interpret;
pub mod keywords;
mod lexer;
mod model;
mod names;
mod parser;
mod printer;
mod resolve;
mod routing;
mod routing_parse;
mod source;
mod values;

pub use diagnostic::{Diagnostic, Location, Severity};
pub use model::{
    max_advertised_addresses, AddressFamily, Command, Config, GarpSettings, GlobalDefs,
    InitialState, NotifyFifo, NotifyScripts, ParamMatch, PeerTtl, ScriptUser, SyncGroup, TrackFile,
    TrackFileInit, TrackProcess, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript,
    VirtualAddress, Vmac, VrrpInstance, VrrpScript, DEFAULT_DOWN_TIMER_ADVERTS, DEFAULT_MTU,
};
pub use routing::{
    rtax, NextHop, PortRange, Prefix, Route, RouteMetrics, RouteMode, RouteType, Rule, RuleAction,
    StaticAddress, PROTOCOL_KEEPALIVED, TABLE_MAIN,
};
use std::path::Path;

use diagnostic::Diagnostics;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadOptions {
    /// Turn every warning (ignored or unknown keyword, rounded value...) into an error.
    pub strict: bool,
}

/// A configuration that was read without errors, and what was noticed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Reads a keepalived.conf file (and what it includes). On failure the list
/// holds every error found, and the warnings as well, ordered by place.
pub fn load(path: &Path, options: LoadOptions) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diagnostics = Diagnostics::default();
    let tree = source::read_file(path, &mut diagnostics);
    let top = Location::whole(&path.display().to_string());
    finish(tree, &top, diagnostics, options)
}

/// Reads configuration text; `name` stands for the file in diagnostics.
/// `include` is not honoured since there is no directory to resolve it in.
pub fn load_str(text: &str, name: &str, options: LoadOptions) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diagnostics = Diagnostics::default();
    let tree = source::read_text(text, name, &mut diagnostics);
    finish(tree, &Location::whole(name), diagnostics, options)
}

/// Reads the contents of a configuration file as they are on disk (bytes that
/// are not UTF-8 are accepted in comments, as [`load`] does); `name` stands
/// for the file in diagnostics. Like [`load_str`], `include` is not honoured.
pub fn load_bytes(
    bytes: &[u8],
    name: &str,
    options: LoadOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let mut diagnostics = Diagnostics::default();
    let tree = source::read_bytes(bytes, name, &mut diagnostics);
    finish(tree, &Location::whole(name), diagnostics, options)
}

fn finish(
    tree: parser::Tree,
    top: &Location,
    mut diagnostics: Diagnostics,
    options: LoadOptions,
) -> Result<Loaded, Vec<Diagnostic>> {
    let raw = interpret::interpret(tree.top(), &mut diagnostics);
    drop(tree);
    let config = resolve::resolve(raw, top, &mut diagnostics);
    let mut items = diagnostics.items;
    if options.strict {
        for item in &mut items {
            item.severity = Severity::Error;
        }
    }
    items.sort_by(|a, b| (&a.file, a.line, a.col).cmp(&(&b.file, b.line, b.col)));
    items.dedup();
    if items.iter().any(Diagnostic::is_error) {
        return Err(items);
    }
    Ok(Loaded {
        config,
        warnings: items,
    })
}

impl Config {
    /// The configuration in keepalived syntax, every effective value written out.
    pub fn to_keepalived_string(&self) -> String {
        printer::to_keepalived_string(self)
    }
}

//! The control socket: a Unix stream socket that speaks one JSON object per
//! line. A client sends a [`Request`], the agent answers with one
//! [`Response`] line. Unknown fields are ignored on both sides, and the
//! request carries a protocol version, so either side can grow.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixStream,
};

pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// The state of every instance.
    Status,
    /// Re-read the configuration file (like SIGHUP).
    Reload,
    /// Take one instance (or all) out of the election, make-before-break.
    Resign {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Put resigned instances back into the election.
    Resume {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instance: Option<String>,
    },
    /// Stop the agent as SIGTERM does (make-before-break handover first).
    Stop,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    pub version: u32,
    #[serde(flatten)]
    pub command: Command,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    /// Errors (reload: every configuration error as file:line:col: message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<AgentStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AgentStatus {
    pub pid: u32,
    pub config: String,
    pub xdp_mode: String,
    pub instances: Vec<InstanceStatus>,
    /// Every XDP counter, summed over CPUs (absent with --xdp-mode off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xdp: Option<serde_json::Value>,
}

/// The fast path's counters for one instance: its (interface, VRID, family)
/// VRRP counters and its interface's ARP/NS counters, named as the maps
/// name them (`adverts_valid`, `drop_ttl`, `arp_replies_sent`, ...).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstanceXdp {
    pub vrrp: Option<serde_json::Value>,
    pub interface: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InstanceStatus {
    pub name: String,
    pub interface: String,
    pub ifindex: Option<u32>,
    pub vrid: u8,
    pub version: u8,
    pub state: String,
    pub priority: u8,
    pub effective_priority: u8,
    /// Address of the current Master, as far as this node knows.
    pub master: Option<String>,
    pub vips: Vec<String>,
    pub holds_vips: bool,
    pub adverts_sent: u64,
    pub adverts_received: u64,
    pub adverts_discarded: u64,
    pub became_master: u64,
    /// Why the instance is not running, when it is not (missing interface...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xdp: Option<InstanceXdp>,
}

/// Reads one request line as the agent's control socket receives it (the
/// bytes up to the newline, which may be missing or not UTF-8). The error is
/// the message the agent answers with.
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let request: Request =
        serde_json::from_slice(line).map_err(|err| format!("bad request: {err}"))?;
    // A newer client may mean something this agent would misread: refuse
    // rather than guess. Older versions are understood as they were.
    if request.version == 0 || request.version > PROTOCOL_VERSION {
        return Err(format!(
            "unsupported protocol version {} (this agent speaks 1 to {PROTOCOL_VERSION})",
            request.version
        ));
    }
    Ok(request)
}

/// Sends one request and reads the answer.
pub async fn request(socket: &Path, command: Command) -> anyhow::Result<Response> {
    use anyhow::Context;
    let stream = UnixStream::connect(socket)
        .await
        .with_context(|| format!("connecting to the agent at {}", socket.display()))?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(&Request {
        version: PROTOCOL_VERSION,
        command,
    })?;
    line.push('\n');
    write.write_all(line.as_bytes()).await?;
    write.shutdown().await?;
    let mut answer = String::new();
    BufReader::new(read)
        .read_line(&mut answer)
        .await
        .context("reading the agent's answer")?;
    serde_json::from_str(&answer).with_context(|| format!("agent answered {answer:?}"))
}

/// Table view of a status, for humans.
pub fn format_status(status: &AgentStatus) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "vip-agent pid {} config {} xdp {}",
        status.pid, status.config, status.xdp_mode
    );
    let _ = writeln!(
        out,
        "{:<12} {:<10} {:>4} {:>3} {:<7} {:>8} {:<18} {:<5} VIPs",
        "INSTANCE", "INTERFACE", "VRID", "VER", "STATE", "PRIO", "MASTER", "HOLDS"
    );
    for i in &status.instances {
        let prio = if i.priority == i.effective_priority {
            i.priority.to_string()
        } else {
            format!("{}({})", i.effective_priority, i.priority)
        };
        let _ = writeln!(
            out,
            "{:<12} {:<10} {:>4} {:>3} {:<7} {:>8} {:<18} {:<5} {}",
            i.name,
            i.interface,
            i.vrid,
            i.version,
            i.state,
            prio,
            i.master.as_deref().unwrap_or("-"),
            if i.holds_vips { "yes" } else { "no" },
            i.vips.join(" ")
        );
        if let Some(note) = &i.note {
            let _ = writeln!(out, "{:<12} note: {note}", "");
        }
        if let Some(xdp) = &i.xdp {
            for (what, counters) in [("vrrp", &xdp.vrrp), (i.interface.as_str(), &xdp.interface)] {
                if let Some(serde_json::Value::Object(fields)) = counters {
                    let listed: Vec<String> = fields
                        .iter()
                        .filter(|(_, v)| v.is_u64())
                        .filter(|(k, _)| !matches!(k.as_str(), "ifindex" | "vrid" | "last_seen_ns"))
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    let _ = writeln!(out, "{:<12} xdp {what}: {}", "", listed.join(" "));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wire_format_is_one_flat_json_object() {
        let line = serde_json::to_string(&Request {
            version: PROTOCOL_VERSION,
            command: Command::Reload,
        })
        .unwrap();
        assert_eq!(line, r#"{"version":1,"command":"reload"}"#);
        let parsed: Request =
            serde_json::from_str(r#"{"command":"status","version":1,"extra":true}"#).unwrap();
        assert_eq!(
            parsed.command,
            Command::Status,
            "unknown fields are ignored"
        );
    }

    #[test]
    fn instance_commands_name_their_instance_or_none() {
        let line = |command| {
            serde_json::to_string(&Request {
                version: PROTOCOL_VERSION,
                command,
            })
            .unwrap()
        };
        assert_eq!(
            line(Command::Resign {
                instance: Some("VI_1".into())
            }),
            r#"{"version":1,"command":"resign","instance":"VI_1"}"#
        );
        assert_eq!(
            line(Command::Resume { instance: None }),
            r#"{"version":1,"command":"resume"}"#
        );
        assert_eq!(line(Command::Stop), r#"{"version":1,"command":"stop"}"#);
        let parsed: Request = serde_json::from_str(r#"{"version":1,"command":"resign"}"#).unwrap();
        assert_eq!(parsed.command, Command::Resign { instance: None });
    }

    #[test]
    fn request_lines_are_read_as_the_socket_delivers_them() {
        let parsed = parse_request(b"{\"version\":1,\"command\":\"stop\"}\n").unwrap();
        assert_eq!(parsed.command, Command::Stop, "with its newline");
        let parsed =
            parse_request(br#"{"version":1,"command":"resign","instance":"VI_1"}"#).unwrap();
        assert_eq!(
            parsed.command,
            Command::Resign {
                instance: Some("VI_1".into())
            },
            "without a newline (the client closed first)"
        );
        let error =
            parse_request(b"{\"version\":1,\"command\":\"resign\",\"instance\":\"VI_\xe9\"}\n")
                .unwrap_err();
        assert!(
            error.starts_with("bad request:") && error.contains("unicode"),
            "not UTF-8: {error}"
        );
        let error = parse_request(b"").unwrap_err();
        assert!(error.starts_with("bad request:"), "empty: {error}");
        let error = parse_request(br#"{"version":2,"command":"status"}"#).unwrap_err();
        assert!(error.contains("unsupported protocol version 2"), "{error}");
        let error = parse_request(br#"{"version":0,"command":"status"}"#).unwrap_err();
        assert!(error.contains("unsupported protocol version 0"), "{error}");
        let error = parse_request(br#"{"version":1,"command":"launch"}"#).unwrap_err();
        assert!(error.contains("launch"), "unknown command: {error}");
    }

    #[test]
    fn response_omits_what_it_does_not_carry() {
        let ok = Response {
            ok: true,
            errors: Vec::new(),
            status: None,
        };
        assert_eq!(serde_json::to_string(&ok).unwrap(), r#"{"ok":true}"#);
        let parsed: Response =
            serde_json::from_str(r#"{"ok":false,"errors":["a.conf:5:14: bad"]}"#).unwrap();
        assert_eq!(parsed.errors, vec!["a.conf:5:14: bad".to_string()]);
        assert!(parsed.status.is_none());
    }

    #[test]
    fn status_table_shows_effective_and_configured_priority() {
        let status = AgentStatus {
            pid: 7,
            config: "k.conf".into(),
            xdp_mode: "skb".into(),
            instances: vec![InstanceStatus {
                name: "VI_1".into(),
                interface: "eth0".into(),
                vrid: 51,
                version: 2,
                state: "BACKUP".into(),
                priority: 150,
                effective_priority: 90,
                vips: vec!["10.0.0.70/32".into()],
                ..Default::default()
            }],
            xdp: None,
        };
        let table = format_status(&status);
        assert!(table.contains("90(150)"), "{table}");
        assert!(table.contains("10.0.0.70/32"));
    }
}

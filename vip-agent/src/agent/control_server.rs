//! The control socket's server side: one JSON request per connection,
//! handed to the event loop, and the status it answers with.

use std::{path::Path, time::Duration};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixListener,
    sync::{mpsc, oneshot},
};

use super::{core::Core, fastpath, RunOptions};
use crate::control::{self, AgentStatus, Command, Response};

pub type ControlRequest = (Command, oneshot::Sender<Response>);

pub fn bind_control_socket(path: &Path) -> Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    if path.exists() {
        // A live agent answers; a stale socket of a crashed one does not.
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "another agent is running with control socket {}",
                path.display()
            );
        }
        std::fs::remove_file(path).with_context(|| format!("removing stale {}", path.display()))?;
    }
    UnixListener::bind(path).with_context(|| format!("binding {}", path.display()))
}

pub async fn serve_control(listener: UnixListener, requests: mpsc::Sender<ControlRequest>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let requests = requests.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            // Bytes, not a String: a line that is not UTF-8 gets an answer
            // saying so rather than a closed connection.
            let mut line = Vec::new();
            let mut reader = BufReader::new(read);
            // Bounded: a client that never sends a line is dropped.
            let read =
                tokio::time::timeout(Duration::from_secs(5), reader.read_until(b'\n', &mut line))
                    .await;
            let response = match read {
                Ok(Ok(_)) => match control::parse_request(&line) {
                    Ok(request) => {
                        let (tx, rx) = oneshot::channel();
                        if requests.send((request.command, tx)).await.is_err() {
                            return;
                        }
                        match rx.await {
                            Ok(response) => response,
                            Err(_) => return,
                        }
                    }
                    Err(message) => Response {
                        ok: false,
                        errors: vec![message],
                        status: None,
                    },
                },
                _ => return,
            };
            if let Ok(mut text) = serde_json::to_string(&response) {
                text.push('\n');
                let _ = write.write_all(text.as_bytes()).await;
            }
        });
    }
}

/// The agent's status: every instance, with its fast-path counters.
pub fn agent_status(
    options: &RunOptions,
    core: &Core,
    fastpath: Option<&fastpath::FastPath>,
) -> AgentStatus {
    let counters = fastpath.and_then(fastpath::FastPath::counters);
    AgentStatus {
        pid: std::process::id(),
        config: options
            .config_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "<command line>".to_string()),
        xdp_mode: match fastpath {
            None => "loading".to_string(),
            Some(fastpath) if fastpath.enabled() => {
                format!("{:?}", options.xdp_mode).to_lowercase()
            }
            Some(_) => "off".to_string(),
        },
        instances: core
            .slots()
            .iter()
            .map(|slot| {
                let mut status = slot.status(core.system());
                if let (Some(counters), Some(ifindex)) = (&counters, status.ifindex) {
                    let vrrp =
                        counters.vrrp_for(ifindex, status.vrid, fastpath::family(slot.spec.ipv6()));
                    status.xdp = Some(control::InstanceXdp {
                        vrrp: vrrp.and_then(|c| serde_json::to_value(c).ok()),
                        interface: counters
                            .l2_for(ifindex)
                            .and_then(|c| serde_json::to_value(c).ok()),
                    });
                }
                status
            })
            .collect(),
        xdp: counters.as_ref().and_then(|c| serde_json::to_value(c).ok()),
    }
}

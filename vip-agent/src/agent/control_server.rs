//! The control socket's server side: one JSON request per connection,
//! handed to the event loop, and the status it answers with.

use std::{path::Path, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixListener,
    sync::{mpsc, oneshot, Semaphore},
};

use super::{core::Core, fastpath, RunOptions};
use crate::control::{self, AgentStatus, Command, Response};

pub type ControlRequest = (Command, oneshot::Sender<Response>);

/// A request is one short JSON line; anything longer is not a client of ours.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;

/// Connections served at once; more wait in the listen backlog, holding no
/// descriptor of the agent's.
pub const MAX_CONNECTIONS: usize = 32;

/// How long a client has to send its request, and to take the answer.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(2);

/// The connection slots [`serve_control`] serves clients in.
pub fn connection_slots() -> Arc<Semaphore> {
    Arc::new(Semaphore::new(MAX_CONNECTIONS))
}

/// Waits (at most `bound`) for the clients being served to get their
/// answers, once [`serve_control`] accepts no more: the answer to `stop`
/// is written before the agent exits.
pub async fn drain(slots: &Semaphore, bound: Duration) {
    let all = u32::try_from(MAX_CONNECTIONS).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(bound, slots.acquire_many(all)).await;
}

/// Binds the control socket, readable and writable by its owner only (root,
/// or the user the agent runs as). A socket left by a dead agent is
/// replaced; a live agent's socket, or any file that is not a socket, is
/// left as it is and the start refused.
pub fn bind_control_socket(path: &Path) -> Result<UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => anyhow::bail!(
            "{} exists and is not a socket: refusing to replace it (choose another --control-socket)",
            path.display()
        ),
        Ok(_) => {
            // A live agent answers; a stale socket of a crashed one does not.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                anyhow::bail!(
                    "another agent is running with control socket {}",
                    path.display()
                );
            }
            std::fs::remove_file(path)
                .with_context(|| format!("removing stale {}", path.display()))?;
        }
        Err(_) => {}
    }
    // Created with no permission for group and others from the start, so
    // there is no moment where another user could connect.
    let old_mask = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = UnixListener::bind(path);
    nix::sys::stat::umask(old_mask);
    let listener = bound.with_context(|| format!("binding {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    Ok(listener)
}

/// Serves control clients, at most [`MAX_CONNECTIONS`] at once, each bounded
/// in size and time. The event loop only ever sees whole requests through
/// `requests`, so no client can hold up the election.
pub async fn serve_control(
    listener: UnixListener,
    requests: mpsc::Sender<ControlRequest>,
    slots: Arc<Semaphore>,
) {
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors (EMFILE) and the like: retrying at once
                // would spin; the backlog keeps the clients meanwhile.
                tracing::warn!(error = %err, "accepting a control connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let requests = requests.clone();
        tokio::spawn(async move {
            let _slot = slot;
            serve_client(stream, requests).await;
        });
    }
}

async fn serve_client(stream: tokio::net::UnixStream, requests: mpsc::Sender<ControlRequest>) {
    use tokio::io::AsyncReadExt;
    let (read, mut write) = stream.into_split();
    let mut line = Vec::new();
    let mut reader = BufReader::new(read.take(MAX_REQUEST_BYTES));
    let read = tokio::time::timeout(CLIENT_TIMEOUT, reader.read_until(b'\n', &mut line)).await;
    // Nothing sent, a read error, or too slow: nothing to answer.
    let Ok(Ok(1..)) = read else {
        return;
    };
    let response = if !line.ends_with(b"\n") && reader.get_ref().limit() == 0 {
        refusal(format!("request longer than {MAX_REQUEST_BYTES} bytes"))
    } else {
        match control::parse_request(&line) {
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
            Err(message) => refusal(message),
        }
    };
    if let Ok(mut text) = serde_json::to_string(&response) {
        text.push('\n');
        let _ = tokio::time::timeout(CLIENT_TIMEOUT, write.write_all(text.as_bytes())).await;
    }
}

fn refusal(message: String) -> Response {
    Response {
        ok: false,
        errors: vec![message],
        status: None,
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

//! The daemon: one event loop that owns every instance's state machine and
//! carries out its actions against the kernel.
//!
//! Inputs are VRRP packets (one reader task per interface and family, shared
//! by the instances there), link events (rtnetlink), control requests, signals
//! and timers. The loop is the only place state changes, so instances, sync
//! of VIPs with the fast path, and status answers never race each other.

mod fastpath;
mod instance;
mod notify;
mod trackers;

use std::{
    collections::HashMap,
    net::IpAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::{Context, Result};
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::UnixListener,
    signal::unix::{signal, SignalKind},
    sync::{mpsc, oneshot},
    task::JoinHandle,
    time::Instant,
};

use crate::{
    config::{self, Config, LoadOptions},
    control::{self, AgentStatus, Command, Response},
    dataplane::XdpModeChoice,
    net::{
        netlink::{LinkEvent, Netlink},
        vrrp_socket::{ReceivedPacket, VrrpSocket},
    },
};

pub use fastpath::FastPath;
use instance::Slot;

/// Everything `vip-agent run` was told.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The file to (re)load; `None` when the instance came from flags.
    pub config_path: Option<PathBuf>,
    pub strict: bool,
    pub control_socket: PathBuf,
    pub bpffs_dir: PathBuf,
    pub xdp_mode: XdpModeChoice,
    pub force_xdp: bool,
    /// Valid lifetime of installed VIPs; the Master refreshes them.
    pub vip_lifetime: Duration,
    /// XDP stops answering ARP/NS when the heartbeat is older than this.
    pub fence_bound: Duration,
}

/// A shared socket: all instances on one interface and family read from it.
type SocketKey = (String, bool);

struct SocketEntry {
    socket: Arc<VrrpSocket>,
    ifindex: u32,
    reader: JoinHandle<()>,
}

impl Drop for SocketEntry {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

type ControlRequest = (Command, oneshot::Sender<Response>);

/// How often instances that cannot start yet (missing interface or address)
/// are retried, besides on every link event.
const RETRY_INTERVAL: Duration = Duration::from_secs(1);

pub struct Agent {
    options: RunOptions,
    config: Config,
    epoch: Instant,
    netlink: Netlink,
    fastpath: FastPath,
    slots: Vec<Slot>,
    sockets: HashMap<SocketKey, SocketEntry>,
    packets_tx: mpsc::Sender<(SocketKey, ReceivedPacket)>,
    next_heartbeat: Duration,
    next_retry: Duration,
    /// Up/down of every interface a `track_interface` names.
    tracked_links: HashMap<String, bool>,
    /// Verdict of every running `vrrp_script`.
    script_states: HashMap<String, bool>,
    script_tasks: Vec<JoinHandle<()>>,
    script_tx: mpsc::Sender<trackers::ScriptResult>,
}

/// Runs the agent until SIGTERM/SIGINT; returns after a clean shutdown.
pub async fn run(options: RunOptions, config: Config) -> Result<()> {
    let netlink = Netlink::connect().context("opening rtnetlink")?;
    let mut links = crate::net::netlink::monitor_links().context("subscribing to link events")?;
    let mut fastpath = FastPath::start(
        &options.bpffs_dir,
        options.xdp_mode,
        options.force_xdp,
        options.fence_bound,
    )?;
    let control = match bind_control_socket(&options.control_socket) {
        Ok(listener) => listener,
        Err(err) => {
            let _ = fastpath_shutdown(&mut Some(fastpath));
            return Err(err);
        }
    };
    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(16);
    let control_task = tokio::spawn(serve_control(control, control_tx));
    let (packets_tx, mut packets_rx) = mpsc::channel(1024);
    let (script_tx, mut script_rx) = mpsc::channel(64);

    let mut sigterm = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("SIGHUP handler")?;

    // Carry the fast path into the agent; an early error must still detach it.
    fastpath.heartbeat().ok();
    let mut agent = Agent {
        options,
        config: Config::default(),
        epoch: Instant::now(),
        netlink,
        fastpath,
        slots: Vec::new(),
        sockets: HashMap::new(),
        packets_tx,
        next_heartbeat: Duration::ZERO,
        next_retry: Duration::ZERO,
        tracked_links: HashMap::new(),
        script_states: HashMap::new(),
        script_tasks: Vec::new(),
        script_tx,
    };
    agent.remove_crash_leftovers(&config).await;
    agent.apply_config(config).await;
    tracing::info!(
        instances = agent.slots.len(),
        xdp = agent.fastpath.enabled(),
        "vip-agent running"
    );

    loop {
        let deadline = agent.epoch + agent.next_deadline();
        tokio::select! {
            Some((key, packet)) = packets_rx.recv() => agent.on_packet(&key, packet).await,
            Some(event) = links.recv() => agent.on_link_event(event).await,
            Some(result) = script_rx.recv() => {
                agent.script_states.insert(result.name, result.ok);
                agent.refresh_health().await;
            }
            Some((command, reply)) = control_rx.recv() => {
                let response = agent.on_control(command).await;
                let _ = reply.send(response);
            }
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                // Errors are logged by reload; the running configuration stays.
                let _ = agent.reload().await;
            }
            _ = sigterm.recv() => { tracing::info!("SIGTERM: shutting down"); break; }
            _ = sigint.recv() => { tracing::info!("SIGINT: shutting down"); break; }
            _ = tokio::time::sleep_until(deadline) => agent.on_timers().await,
        }
    }

    control_task.abort();
    let socket_path = agent.options.control_socket.clone();
    agent.shutdown().await?;
    let _ = std::fs::remove_file(&socket_path);
    Ok(())
}

fn fastpath_shutdown(fastpath: &mut Option<FastPath>) -> Result<()> {
    if let Some(fastpath) = fastpath.take() {
        fastpath.shutdown()?;
    }
    Ok(())
}

fn bind_control_socket(path: &Path) -> Result<UnixListener> {
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

async fn serve_control(listener: UnixListener, requests: mpsc::Sender<ControlRequest>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let requests = requests.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut line = String::new();
            let mut reader = BufReader::new(read);
            // Bounded: a client that never sends a line is dropped.
            let read =
                tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
            let response = match read {
                Ok(Ok(_)) => match serde_json::from_str::<control::Request>(&line) {
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
                    Err(err) => Response {
                        ok: false,
                        errors: vec![format!("bad request: {err}")],
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

impl Agent {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    fn next_deadline(&self) -> Duration {
        let mut next = self.next_heartbeat.min(self.next_retry);
        for slot in &self.slots {
            if let Some(deadline) = slot.next_deadline() {
                next = next.min(deadline);
            }
        }
        next
    }

    /// Installs a new configuration: instances that are unchanged keep
    /// running untouched, removed ones stop, changed and new ones start.
    async fn apply_config(&mut self, config: Config) {
        let now = self.now();
        let mut kept = Vec::new();
        let mut old = std::mem::take(&mut self.slots);
        for instance in &config.instances {
            if let Some(pos) = old.iter().position(|s| s.config == *instance) {
                kept.push(old.remove(pos));
            }
        }
        // Addresses the new configuration still wants must not blink.
        let wanted: Vec<IpAddr> = config
            .instances
            .iter()
            .flat_map(|i| {
                i.virtual_ipaddresses
                    .iter()
                    .chain(&i.virtual_ipaddresses_excluded)
            })
            .map(|v| v.address)
            .collect();
        let mut resumed = Vec::new();
        for mut slot in old {
            let successor = config.instances.iter().any(|i| {
                i.name == slot.config.name
                    && i.interface == slot.config.interface
                    && i.virtual_router_id == slot.config.virtual_router_id
                    && i.family == slot.config.family
            });
            if successor && slot.is_master() {
                tracing::info!(instance = %slot.config.name, "instance changed by reload; it stays Master");
                slot.hand_over(&mut self.io(), &wanted).await;
                resumed.push(slot.config.name.clone());
            } else {
                tracing::info!(instance = %slot.config.name, "instance removed or changed by reload");
                slot.stop(&mut self.io(), now, &wanted).await;
            }
        }
        self.slots = kept;
        self.config = config.clone();
        for instance in &config.instances {
            if self.slots.iter().any(|s| s.config == *instance) {
                continue;
            }
            let mut slot = Slot::new(instance.clone(), config.global.clone());
            slot.resume_as_master = resumed.contains(&instance.name);
            self.slots.push(slot);
        }
        // Keep the configuration's order for status output.
        self.slots.sort_by_key(|s| {
            config
                .instances
                .iter()
                .position(|i| i.name == s.config.name)
                .unwrap_or(usize::MAX)
        });
        self.restart_trackers().await;
        // Tracker states first, so an instance starts with its priority and
        // fault already known.
        self.refresh_health().await;
        self.start_pending().await;
        self.close_unused_sockets();
        self.refresh_health().await;
    }

    /// (Re)starts the `vrrp_script` runners the instances and sync groups
    /// use, and reads the state of every tracked interface.
    async fn restart_trackers(&mut self) {
        for task in self.script_tasks.drain(..) {
            task.abort();
        }
        let mut used_scripts: Vec<String> = Vec::new();
        let mut used_links: Vec<String> = Vec::new();
        for instance in &self.config.instances {
            used_scripts.extend(instance.track_scripts.iter().map(|t| t.name.clone()));
            used_links.extend(instance.track_interfaces.iter().map(|t| t.name.clone()));
        }
        for group in &self.config.sync_groups {
            used_scripts.extend(group.track_scripts.iter().map(|t| t.name.clone()));
            used_links.extend(group.track_interfaces.iter().map(|t| t.name.clone()));
        }
        self.script_states
            .retain(|name, _| used_scripts.contains(name));
        for script in &self.config.scripts {
            if used_scripts.contains(&script.name) {
                // A new script starts as `init_fail` says; a running one keeps
                // its verdict across the reload.
                let ok = *self
                    .script_states
                    .entry(script.name.clone())
                    .or_insert(!script.init_fail);
                self.script_tasks.push(trackers::spawn_script(
                    script.clone(),
                    self.config.global.script_user.clone(),
                    ok,
                    self.script_tx.clone(),
                ));
            }
        }
        self.tracked_links.clear();
        for name in used_links {
            let up = matches!(self.netlink.link_by_name(&name).await, Ok(Some(link)) if link.up);
            self.tracked_links.insert(name, up);
        }
    }

    /// Recomputes every instance's tracker weight and fault (sync groups
    /// pass a member's fault on to the others) and tells the state machines.
    async fn refresh_health(&mut self) {
        let now = self.now();
        for slot in &mut self.slots {
            let groups: Vec<&config::SyncGroup> = self
                .config
                .sync_groups
                .iter()
                .filter(|g| g.instances.contains(&slot.config.name))
                .collect();
            let interfaces = slot
                .config
                .track_interfaces
                .iter()
                .chain(groups.iter().flat_map(|g| g.track_interfaces.iter()))
                .map(|t| trackers::TrackerState {
                    weight: t.weight,
                    reverse: t.reverse,
                    ok: self.tracked_links.get(&t.name).copied().unwrap_or(false),
                });
            let scripts = slot
                .config
                .track_scripts
                .iter()
                .chain(groups.iter().flat_map(|g| g.track_scripts.iter()))
                .map(|t| trackers::TrackerState {
                    weight: t.weight,
                    reverse: t.reverse,
                    ok: self.script_states.get(&t.name).copied().unwrap_or(true),
                });
            let states: Vec<trackers::TrackerState> = interfaces.chain(scripts).collect();
            slot.set_trackers(&states);
        }
        let faulty: Vec<String> = self
            .slots
            .iter()
            .filter(|s| s.started() && s.own_fault())
            .map(|s| s.config.name.clone())
            .collect();
        for slot in &mut self.slots {
            let name = slot.config.name.clone();
            let sync_fault = self.config.sync_groups.iter().any(|g| {
                g.instances.contains(&name)
                    && g.instances.iter().any(|m| *m != name && faulty.contains(m))
            });
            slot.set_sync_fault(sync_fault);
        }
        for index in 0..self.slots.len() {
            let (slots, mut io) = self.slots_and_io();
            slots[index].apply_health(&mut io, now).await;
        }
    }

    /// VIPs with a finite lifetime when the agent starts: a crashed run of
    /// this agent added them (an operator's static address is permanent).
    /// Remove them before the election decides who holds them. Only at
    /// start: on a reload, finite-lifetime VIPs are this run's own.
    async fn remove_crash_leftovers(&mut self, config: &Config) {
        for inst in &config.instances {
            let vips = inst
                .virtual_ipaddresses
                .iter()
                .chain(&inst.virtual_ipaddresses_excluded);
            for vip in vips {
                let dev = vip.dev.as_deref().unwrap_or(&inst.interface);
                let Ok(Some(link)) = self.netlink.link_by_name(dev).await else {
                    continue;
                };
                let Ok(addresses) = self.netlink.addresses(link.ifindex).await else {
                    continue;
                };
                let found = addresses
                    .iter()
                    .find(|a| a.address == vip.address && a.prefix_len == vip.prefix_len);
                match found {
                    Some(a) if a.valid_lft.is_some() => {
                        tracing::warn!(
                            instance = %inst.name,
                            vip = %vip.address,
                            interface = dev,
                            "removing a VIP left behind by an earlier run"
                        );
                        if let Err(err) = self
                            .netlink
                            .del_vip(link.ifindex, vip.address, vip.prefix_len)
                            .await
                        {
                            tracing::warn!(error = %err, "removing leftover VIP");
                        }
                    }
                    Some(_) => tracing::warn!(
                        instance = %inst.name,
                        vip = %vip.address,
                        interface = dev,
                        "the VIP is configured on the interface permanently; leaving it alone"
                    ),
                    None => {}
                }
            }
        }
    }

    fn io(&mut self) -> instance::Io<'_> {
        self.slots_and_io().1
    }

    /// The instances and what they act through, borrowed apart so an
    /// instance can act while the agent holds the rest.
    fn slots_and_io(&mut self) -> (&mut Vec<Slot>, instance::Io<'_>) {
        (
            &mut self.slots,
            instance::Io {
                netlink: &self.netlink,
                fastpath: &mut self.fastpath,
                sockets: &self.sockets,
                vip_lifetime: self.options.vip_lifetime,
            },
        )
    }

    /// Starts every instance that is not running yet and can now.
    async fn start_pending(&mut self) {
        let now = self.now();
        for index in 0..self.slots.len() {
            if self.slots[index].started() {
                continue;
            }
            let Some(prepared) = self.slots[index].prepare(&self.netlink).await else {
                continue;
            };
            // XDP first: every advert the socket sees has been validated.
            if let Err(err) = self.fastpath.attach(&self.slots[index].config.interface) {
                tracing::error!(instance = %self.slots[index].config.name, error = %format!("{err:#}"), "XDP attach failed; the kernel path answers instead");
                self.slots[index].set_note(format!("XDP: {err:#}"));
            }
            let slot = &self.slots[index];
            if let Err(err) = self.fastpath.set_policy(
                prepared.link.ifindex,
                slot.config.virtual_router_id,
                prepared.ipv6,
                &slot.policy(),
            ) {
                tracing::warn!(instance = %slot.config.name, error = %format!("{err:#}"), "pushing the VRRP policy to XDP");
            }
            let key: SocketKey = (self.slots[index].config.interface.clone(), prepared.ipv6);
            if let Err(err) = self.ensure_socket(&key, prepared.link.ifindex) {
                self.slots[index].set_note(format!("cannot open the VRRP socket: {err:#}"));
                continue;
            }
            let (slots, mut io) = self.slots_and_io();
            slots[index].start(prepared, &mut io, now).await;
        }
    }

    fn ensure_socket(&mut self, key: &SocketKey, ifindex: u32) -> Result<()> {
        if let Some(entry) = self.sockets.get(key) {
            if entry.ifindex == ifindex {
                return Ok(());
            }
        }
        self.sockets.remove(key);
        let group = if self
            .slots
            .iter()
            .any(|s| s.config.interface == key.0 && s.multicast() && s.ipv6() == key.1)
        {
            Some(if key.1 {
                IpAddr::V6(self.config.global.mcast_group6)
            } else {
                IpAddr::V4(self.config.global.mcast_group4)
            })
        } else {
            None
        };
        let socket = Arc::new(
            VrrpSocket::open(&key.0, ifindex, key.1, group)
                .with_context(|| format!("VRRP socket on {}", key.0))?,
        );
        let reader = {
            let socket = socket.clone();
            let tx = self.packets_tx.clone();
            let key = key.clone();
            tokio::spawn(async move {
                loop {
                    match socket.recv().await {
                        Ok(packet) => {
                            if tx.send((key.clone(), packet)).await.is_err() {
                                break;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(interface = %key.0, error = %err, "VRRP socket receive");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            })
        };
        self.sockets.insert(
            key.clone(),
            SocketEntry {
                socket,
                ifindex,
                reader,
            },
        );
        Ok(())
    }

    fn close_unused_sockets(&mut self) {
        let used: Vec<SocketKey> = self
            .slots
            .iter()
            .filter(|s| s.started())
            .map(|s| (s.config.interface.clone(), s.ipv6()))
            .collect();
        self.sockets.retain(|key, _| used.contains(key));
    }

    async fn on_packet(&mut self, key: &SocketKey, packet: ReceivedPacket) {
        let Some(&vrid) = packet.payload.get(1) else {
            return;
        };
        let now = self.now();
        for index in 0..self.slots.len() {
            let slot = &self.slots[index];
            if !slot.started()
                || slot.config.interface != key.0
                || slot.ipv6() != key.1
                || slot.config.virtual_router_id != vrid
            {
                continue;
            }
            let (slots, mut io) = self.slots_and_io();
            slots[index].on_packet(&packet, &mut io, now).await;
        }
    }

    async fn on_link_event(&mut self, event: LinkEvent) {
        let now = self.now();
        let name = match &event {
            LinkEvent::Changed(link) => link.name.clone(),
            LinkEvent::Removed { name, .. } => name.clone(),
        };
        if matches!(event, LinkEvent::Removed { .. }) {
            self.fastpath.forget(&name);
            self.sockets.retain(|key, _| key.0 != name);
        }
        if let Some(up) = self.tracked_links.get_mut(&name) {
            *up = matches!(&event, LinkEvent::Changed(link) if link.up);
        }
        for index in 0..self.slots.len() {
            if self.slots[index].config.interface != name {
                continue;
            }
            if let LinkEvent::Changed(link) = &event {
                // The interface may have been re-created: a new index needs
                // a new socket and a new XDP attachment.
                if self.slots[index].started() && link.up {
                    let key = (name.clone(), self.slots[index].ipv6());
                    if let Err(err) = self.ensure_socket(&key, link.ifindex) {
                        tracing::warn!(interface = %name, error = %format!("{err:#}"), "reopening the VRRP socket");
                    }
                    if let Err(err) = self.fastpath.attach(&name) {
                        tracing::warn!(interface = %name, error = %format!("{err:#}"), "re-attaching XDP");
                    }
                }
            }
            let (slots, mut io) = self.slots_and_io();
            slots[index].on_link_event(&event, &mut io, now).await;
        }
        self.start_pending().await;
        self.refresh_health().await;
    }

    async fn on_timers(&mut self) {
        let now = self.now();
        if now >= self.next_heartbeat {
            if let Err(err) = self.fastpath.heartbeat() {
                tracing::warn!(error = %err, "XDP heartbeat");
            }
            // Four beats per bound: one late wakeup never fences a live agent.
            self.next_heartbeat = now + self.options.fence_bound / 4;
        }
        if now >= self.next_retry {
            self.next_retry = now + RETRY_INTERVAL;
            if self.slots.iter().any(|s| !s.started()) {
                self.start_pending().await;
            }
        }
        for index in 0..self.slots.len() {
            let (slots, mut io) = self.slots_and_io();
            slots[index].on_timers(&mut io, now).await;
        }
    }

    async fn on_control(&mut self, command: Command) -> Response {
        match command {
            Command::Status => Response {
                ok: true,
                errors: Vec::new(),
                status: Some(self.status()),
            },
            Command::Reload => match self.reload().await {
                Ok(()) => Response {
                    ok: true,
                    errors: Vec::new(),
                    status: None,
                },
                Err(errors) => Response {
                    ok: false,
                    errors,
                    status: None,
                },
            },
        }
    }

    /// Re-reads the configuration file. On any error the running
    /// configuration and every VIP stay as they are.
    async fn reload(&mut self) -> std::result::Result<(), Vec<String>> {
        let Some(path) = self.options.config_path.clone() else {
            let message =
                "the agent runs an instance given by flags: there is no file to reload".to_string();
            tracing::warn!("{message}");
            return Err(vec![message]);
        };
        match config::load(
            &path,
            LoadOptions {
                strict: self.options.strict,
            },
        ) {
            Ok(loaded) => {
                for warning in &loaded.warnings {
                    tracing::warn!("{warning}");
                }
                self.apply_config(loaded.config).await;
                tracing::info!(instances = self.slots.len(), "configuration reloaded");
                Ok(())
            }
            Err(diagnostics) => {
                let errors: Vec<String> = diagnostics.iter().map(|d| d.to_string()).collect();
                for error in &errors {
                    tracing::error!("reload rejected: {error}");
                }
                tracing::error!("keeping the running configuration");
                Err(errors)
            }
        }
    }

    fn status(&self) -> AgentStatus {
        let counters = self.fastpath.counters();
        AgentStatus {
            pid: std::process::id(),
            config: self
                .options
                .config_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "<command line>".to_string()),
            xdp_mode: if self.fastpath.enabled() {
                format!("{:?}", self.options.xdp_mode).to_lowercase()
            } else {
                "off".to_string()
            },
            instances: self
                .slots
                .iter()
                .map(|slot| {
                    let mut status = slot.status();
                    if let (Some(counters), Some(ifindex)) = (&counters, status.ifindex) {
                        let vrrp =
                            counters.vrrp_for(ifindex, status.vrid, fastpath::family(slot.ipv6()));
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

    /// SIGTERM: every Master resigns (priority 0), VIPs go, XDP detaches.
    async fn shutdown(mut self) -> Result<()> {
        let now = self.now();
        let mut slots = std::mem::take(&mut self.slots);
        for slot in &mut slots {
            slot.stop(&mut self.io(), now, &[]).await;
        }
        self.sockets.clear();
        for task in self.script_tasks.drain(..) {
            task.abort();
        }
        self.fastpath.shutdown()?;
        tracing::info!("vip-agent stopped");
        Ok(())
    }
}

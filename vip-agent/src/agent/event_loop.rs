//! The event loop: the only place the agent's state changes. It takes one
//! input at a time (VRRP packets from the reader tasks, link and address
//! events, script verdicts, control requests, signals, timers), asks the
//! [`Core`] what to do, and has the [`Executor`] do it.

use std::time::Duration;

use anyhow::{Context, Result};
use tokio::{
    signal::unix::{signal, SignalKind},
    sync::mpsc,
    time::Instant,
};

use super::{
    control_server::{self, ControlRequest},
    core::{Core, CoreOptions, PreviousRun, RETRY_INTERVAL},
    effect::Effect,
    executor::Executor,
    fastpath::FastPath,
    metrics::{self, MetricsRequest},
    ownership::{self, PinDirLock, RouterClaims},
    routing, script_security,
    service_notify::{Phase, ServiceNotifier},
    sockets::SocketRegistry,
    system::SystemView,
    RunOptions,
};
use crate::{
    config::{self, Config, LoadOptions},
    control::{Command, Response},
    dataplane::{self, Bpffs, XdpModeChoice},
    net::netlink::{self, Monitored, Netlink},
};

/// Feedback answers at most this many rounds of effects: an opened socket
/// starts instances, which ask for no socket that is being opened.
const MAX_FEEDBACK_ROUNDS: usize = 16;

struct Agent {
    options: RunOptions,
    /// The routers this agent runs, claimed against other agents.
    claims: RouterClaims,
    _pin_dir_lock: Option<PinDirLock>,
    epoch: Instant,
    core: Core,
    executor: Executor,
    service: ServiceNotifier,
    /// Re-reading links and addresses after lost events failed: when to
    /// try again.
    resync_retry: Option<Instant>,
}

/// Runs the agent until SIGTERM/SIGINT; returns after a clean shutdown.
pub async fn run(options: RunOptions, mut config: Config) -> Result<()> {
    // As keepalived, when the configuration is read.
    script_security::vet(&mut config);
    // Before anything else: a second agent for the same routers refuses here
    // and changes nothing (not the live agent's VIPs, pins or socket).
    let mut claims = RouterClaims::default();
    claims.set(&ownership::router_keys(&config), "not starting")?;
    let netlink = Netlink::connect().context("opening rtnetlink")?;
    // Subscribe before the dump, so no change falls between the two.
    let mut net_events =
        netlink::monitor(netlink.port()).context("subscribing to link and address events")?;
    // Routes and rules only when there are some to watch (a busy router's
    // routing changes would be read for nothing otherwise); before any is
    // installed, so that no removal goes unheard.
    let mut route_events = if routing::watches_routing(&config) {
        Some(
            netlink::monitor_routes(netlink.port())
                .context("subscribing to route and rule events")?,
        )
    } else {
        None
    };
    let (links, addresses) = netlink
        .dump()
        .await
        .context("reading links and addresses")?;
    let metrics_listener = match options.metrics_listen {
        Some(address) => Some(metrics::bind(address).await?),
        None => None,
    };
    // The control socket first: it tells a live agent from a dead one, and
    // only a dead one's pinned fast path may be taken over.
    let control = control_server::bind_control_socket(&options.control_socket)?;
    let pin_dir_lock = if options.xdp_mode == XdpModeChoice::Off {
        None
    } else {
        match prepare_bpffs(&options.bpffs_dir) {
            Ok(lock) => Some(lock),
            Err(err) => {
                let _ = std::fs::remove_file(&options.control_socket);
                return Err(err);
            }
        }
    };
    let inherited = FastPath::inherit(&options.bpffs_dir, options.xdp_mode);
    let load = {
        let (dir, mode, force, bound) = (
            options.bpffs_dir.clone(),
            options.xdp_mode,
            options.force_xdp,
            options.fence_bound,
        );
        move || FastPath::start(&dir, mode, force, bound)
    };
    // After a crash the program loads in the background: a run resuming as
    // Master must advertise before any Backup's timer fires, and loading
    // takes about a second. The crashed run's pinned program still validates
    // adverts and answers ARP/NS meanwhile. A fresh start loads first, so
    // every advert the sockets see has been validated by this run's program.
    let (fastpath, mut loading) = if inherited.is_some() {
        (None, Some(tokio::task::spawn_blocking(load)))
    } else {
        match load() {
            Ok(fastpath) => (Some(fastpath), None),
            Err(err) => {
                let _ = std::fs::remove_file(&options.control_socket);
                if let Some(lock) = pin_dir_lock {
                    lock.abandon();
                }
                return Err(err);
            }
        }
    };
    let previous = inherited.map(|inherited| PreviousRun {
        heartbeat_age: Duration::from_nanos(
            dataplane::monotonic_ns().saturating_sub(inherited.heartbeat_ns),
        ),
        owned: inherited.owned,
        interfaces: inherited.interfaces,
    });
    if let Some(previous) = &previous {
        tracing::info!(
            heartbeat_age = ?previous.heartbeat_age,
            owned = previous.owned.len(),
            "an earlier run ended without a clean stop"
        );
    }
    let (control_tx, mut control_rx) = mpsc::channel::<ControlRequest>(16);
    let control_slots = control_server::connection_slots();
    let control_task = tokio::spawn(control_server::serve_control(
        control,
        control_tx,
        control_slots.clone(),
    ));
    // Without --metrics-listen the sender is dropped and the arm never fires.
    let (metrics_tx, mut metrics_rx) = mpsc::channel::<MetricsRequest>(4);
    let metrics_task = metrics_listener.map(|l| tokio::spawn(metrics::serve(l, metrics_tx)));
    let (packets_tx, mut packets_rx) = mpsc::channel(1024);
    let (script_tx, mut script_rx) = mpsc::channel(64);
    let (tracker_tx, mut tracker_rx) = mpsc::channel(64);

    let mut sigterm = signal(SignalKind::terminate()).context("SIGTERM handler")?;
    let mut sigint = signal(SignalKind::interrupt()).context("SIGINT handler")?;
    let mut sighup = signal(SignalKind::hangup()).context("SIGHUP handler")?;

    let core_options = CoreOptions {
        vip_lifetime: options.vip_lifetime,
        fence_bound: options.fence_bound,
    };
    let pin_dir = options.bpffs_dir.clone();
    let service = ServiceNotifier::new(&options.service);
    let mut agent = Agent {
        options,
        claims,
        _pin_dir_lock: pin_dir_lock,
        epoch: Instant::now(),
        core: Core::new(core_options, SystemView::new(links, addresses)),
        executor: Executor::new(
            netlink,
            fastpath,
            pin_dir,
            SocketRegistry::new(packets_tx),
            script_tx,
            tracker_tx,
        ),
        service,
        resync_retry: None,
    };
    let effects = agent.core.start(config, previous.as_ref(), agent.now());
    agent.carry_out(effects).await;
    tracing::info!(
        instances = agent.core.slots().len(),
        xdp = agent.executor.fastpath.as_ref().map(FastPath::enabled),
        "vip-agent running"
    );

    // SIGTERM starts a make-before-break handover; the loop runs on until
    // every resigning Master has heard its successor (or its bound passed).
    let mut stopping = false;
    loop {
        // Every round ends here, so the watchdog pings only while the loop
        // goes round: a hung loop is restarted by systemd.
        agent.tell_service(loading.is_some(), stopping);
        let next = agent.core.next_deadline();
        let next = agent.service.next_watchdog().map_or(next, |w| w.min(next));
        let deadline = agent.epoch + next;
        // The time is read when an input arrives, not before waiting for it.
        let effects = tokio::select! {
            Some((key, packet)) = packets_rx.recv() => agent.core.on_packet(&key, &packet, agent.now()),
            Some(monitored) = net_events.recv() => match monitored {
                Monitored::Event(event) => agent.core.on_net_event(&event, agent.now()),
                Monitored::Lost => agent.resync().await,
            },
            _ = sleep_until_some(agent.resync_retry), if agent.resync_retry.is_some() => agent.resync().await,
            Some(event) = async { route_events.as_mut().expect("guarded by the condition").recv().await }, if route_events.is_some() => {
                agent.core.on_net_event(&event, agent.now())
            }
            Some(result) = script_rx.recv() => agent.core.on_script(result, agent.now()),
            Some(report) = tracker_rx.recv() => agent.core.on_tracker(report, agent.now()),
            Some((command, reply)) = control_rx.recv() => {
                if command == Command::Stop && !stopping {
                    tracing::info!("stop requested: handing over, then shutting down");
                    stopping = true;
                }
                let (response, effects) = agent.on_control(command);
                agent.watch_routing(&mut route_events);
                agent.carry_out(effects).await;
                let _ = reply.send(response);
                if stopping && !agent.core.handing_over() {
                    break;
                }
                continue;
            }
            Some(reply) = metrics_rx.recv() => {
                let now = agent.now();
                let _ = reply.send(metrics::snapshot(&agent.core, agent.executor.fastpath.as_ref(), now));
                continue;
            }
            _ = sighup.recv() => {
                tracing::info!("SIGHUP: reloading the configuration");
                // Errors are logged by reload; the running configuration stays.
                let effects = agent.reload().unwrap_or_default();
                agent.watch_routing(&mut route_events);
                effects
            }
            _ = sigterm.recv() => {
                if stopping { tracing::info!("SIGTERM again: stopping now"); break; }
                tracing::info!("SIGTERM: handing over, then shutting down");
                stopping = true;
                agent.core.begin_shutdown(agent.now())
            }
            _ = sigint.recv() => {
                if stopping { tracing::info!("SIGINT again: stopping now"); break; }
                tracing::info!("SIGINT: handing over, then shutting down");
                stopping = true;
                agent.core.begin_shutdown(agent.now())
            }
            _ = tokio::time::sleep_until(deadline) => agent.core.on_timers(agent.now()),
            loaded = async { loading.as_mut().expect("guarded by the condition").await }, if loading.is_some() => {
                loading = None;
                agent.fast_path_loaded(loaded).await;
                Vec::new()
            }
        };
        agent.carry_out(effects).await;
        if stopping && !agent.core.handing_over() {
            break;
        }
    }

    control_task.abort();
    // The answer to `stop` (and to whatever came with it) gets written.
    control_server::drain(&control_slots, Duration::from_millis(500)).await;
    if let Some(task) = metrics_task {
        task.abort();
    }
    agent.tell_service(loading.is_some(), true);
    if let Some(still_loading) = loading.take() {
        agent.fast_path_loaded(still_loading.await).await;
    }
    let effects = agent.core.shutdown(agent.now());
    agent.carry_out(effects).await;
    agent
        .executor
        .shutdown()
        .context("detaching the XDP program")?;
    let _ = std::fs::remove_file(&agent.options.control_socket);
    tracing::info!("vip-agent stopped");
    Ok(())
}

/// Mounts a bpf filesystem for the pins where there is none (and says what
/// that means when the mount is private to this process), then locks the
/// pin directory for this run.
fn prepare_bpffs(pin_dir: &std::path::Path) -> Result<PinDirLock> {
    mount_bpffs(pin_dir)?;
    Ok(PinDirLock::claim(pin_dir)?)
}

fn mount_bpffs(pin_dir: &std::path::Path) -> Result<()> {
    match dataplane::ensure_bpffs(pin_dir)? {
        Bpffs::Present => {}
        Bpffs::Mounted {
            mount_point,
            private: false,
        } => tracing::info!(
            mount_point = %mount_point.display(),
            "no bpf filesystem was mounted for the pins: mounted one"
        ),
        Bpffs::Mounted {
            mount_point,
            private: true,
        } => tracing::warn!(
            mount_point = %mount_point.display(),
            pid = std::process::id(),
            "no bpf filesystem was mounted for the pins: mounted one in this process's own \
             mount namespace (as `ip netns exec` gives it); bpftool sees the pins only from \
             inside it (`nsenter --mount --target PID bpftool ...`), and they end with the \
             process, so a crashed run cannot be resumed from them; \
             `nsenter --net=/run/netns/NAME` keeps the host's /sys/fs/bpf"
        ),
    }
    Ok(())
}

/// Sleeps until `at`; forever without one (the select arm is off then).
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Agent {
    fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    /// Link and address events were lost: reads links and addresses again
    /// and has the core catch up with what changed. A failed read is
    /// retried after [`RETRY_INTERVAL`]; events meanwhile are taken in as
    /// usual.
    async fn resync(&mut self) -> Vec<Effect> {
        match self.executor.netlink.dump().await {
            Ok((links, addresses)) => {
                self.resync_retry = None;
                let (effects, missed) = self.core.resync(links, addresses, self.now());
                tracing::info!(
                    missed,
                    "links and addresses read again after lost events; caught up"
                );
                effects
            }
            Err(err) => {
                tracing::error!(
                    error = %err,
                    "re-reading links and addresses after lost events; retrying in {RETRY_INTERVAL:?}"
                );
                self.resync_retry = Some(Instant::now() + RETRY_INTERVAL);
                Vec::new()
            }
        }
    }

    /// A reload brought the first routes or rules to watch: subscribe to
    /// their notifications before they are installed.
    fn watch_routing(&self, route_events: &mut Option<mpsc::UnboundedReceiver<netlink::NetEvent>>) {
        if route_events.is_some() || !routing::watches_routing(self.core.config()) {
            return;
        }
        match netlink::monitor_routes(self.executor.netlink.port()) {
            Ok(events) => *route_events = Some(events),
            Err(err) => {
                tracing::error!(error = %err, "subscribing to route and rule events; their removal goes unnoticed")
            }
        }
    }

    /// Tells systemd what is new: readiness, instance states, the stop, a
    /// watchdog ping.
    fn tell_service(&mut self, fast_path_loading: bool, stopping: bool) {
        let phase = Phase {
            fast_path_loading,
            sockets_pending: self.core.sockets_pending(),
            stopping,
        };
        let now = self.now();
        let instances = self
            .core
            .slots()
            .iter()
            .map(|slot| (slot.name(), slot.state_label()));
        self.service.after_round(phase, instances, now);
    }

    /// The background load ended: the fast path takes over the deferred
    /// effects, or, if it failed, the kernel path answers.
    async fn fast_path_loaded(
        &mut self,
        loaded: std::result::Result<Result<FastPath>, tokio::task::JoinError>,
    ) {
        let fastpath = match loaded {
            Ok(Ok(fastpath)) => fastpath,
            Ok(Err(err)) => {
                tracing::error!(error = %format!("{err:#}"), "loading the XDP program failed; the kernel path answers instead");
                FastPath::off()
            }
            Err(err) => {
                tracing::error!(error = %err, "loading the XDP program failed; the kernel path answers instead");
                FastPath::off()
            }
        };
        tracing::info!(xdp = fastpath.enabled(), "fast path loaded");
        if !fastpath.enabled() {
            warn_unenforced_no_accept(self.core.config());
        }
        let feedback = self.executor.fast_path_ready(fastpath).await;
        let now = self.now();
        let effects = feedback
            .into_iter()
            .flat_map(|fb| self.core.feedback(fb, now))
            .collect();
        self.carry_out(effects).await;
    }

    /// Executes effects and the effects of what the executor reports back.
    async fn carry_out(&mut self, mut effects: Vec<Effect>) {
        for _ in 0..MAX_FEEDBACK_ROUNDS {
            effects = self.core.spare_permanent_addresses(effects);
            if effects.is_empty() {
                return;
            }
            let feedback = self.executor.execute(effects).await;
            let now = self.now();
            effects = feedback
                .into_iter()
                .flat_map(|fb| self.core.feedback(fb, now))
                .collect();
        }
        tracing::error!("effects still pending after {MAX_FEEDBACK_ROUNDS} rounds; dropped");
    }

    fn on_control(&mut self, command: Command) -> (Response, Vec<Effect>) {
        match command {
            Command::Status => (
                Response {
                    ok: true,
                    errors: Vec::new(),
                    status: Some(control_server::agent_status(
                        &self.options,
                        &self.core,
                        self.executor.fastpath.as_ref(),
                    )),
                },
                Vec::new(),
            ),
            Command::Stop => Self::answer(Ok(self.core.begin_shutdown(self.now()))),
            Command::Resign { instance } => {
                let now = self.now();
                Self::answer(
                    self.core
                        .resign(instance.as_deref(), now)
                        .map_err(|e| vec![e]),
                )
            }
            Command::Resume { instance } => {
                let now = self.now();
                Self::answer(
                    self.core
                        .resume(instance.as_deref(), now)
                        .map_err(|e| vec![e]),
                )
            }
            Command::Reload => Self::answer(self.reload()),
        }
    }

    fn answer(result: std::result::Result<Vec<Effect>, Vec<String>>) -> (Response, Vec<Effect>) {
        match result {
            Ok(effects) => (
                Response {
                    ok: true,
                    errors: Vec::new(),
                    status: None,
                },
                effects,
            ),
            Err(errors) => (
                Response {
                    ok: false,
                    errors,
                    status: None,
                },
                Vec::new(),
            ),
        }
    }

    /// Re-reads the configuration file. On any error the running
    /// configuration and every VIP stay as they are.
    fn reload(&mut self) -> std::result::Result<Vec<Effect>, Vec<String>> {
        let Some(path) = self.options.config_path.clone() else {
            let message =
                "the agent runs an instance given by flags: there is no file to reload".to_string();
            tracing::warn!("{message}");
            return Err(vec![message]);
        };
        self.service.reloading();
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
                if let Err(err) = self
                    .claims
                    .set(&ownership::router_keys(&loaded.config), "reload rejected")
                {
                    tracing::error!("{err}");
                    tracing::error!("keeping the running configuration");
                    return Err(vec![err.to_string()]);
                }
                let mut config = loaded.config;
                script_security::vet(&mut config);
                let effects = self.core.apply_config(config, self.now());
                if self
                    .executor
                    .fastpath
                    .as_ref()
                    .is_some_and(|f| !f.enabled())
                {
                    warn_unenforced_no_accept(self.core.config());
                }
                tracing::info!(
                    instances = self.core.slots().len(),
                    "configuration reloaded"
                );
                Ok(effects)
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
}

/// `no_accept` is enforced by the XDP program (keepalived needs a firewall
/// for it): without the program, every instance it leaves open is named.
fn warn_unenforced_no_accept(config: &Config) {
    for instance in config.instances.iter().filter(|i| !i.accepts_traffic()) {
        tracing::warn!(
            instance = %instance.name,
            "no_accept is enforced by the XDP fast path, which is off: \
             a Master accepts traffic to these VIPs as with accept"
        );
    }
}

//! `--metrics-listen`: the agent's state and counters in the Prometheus text
//! format (0.0.4), served at `GET /metrics`.
//!
//! A scrape never touches the election: the HTTP side asks the event loop
//! for a [`Snapshot`] over a channel (the loop answers between two inputs,
//! as it answers `vip-agent status`) and renders it on its own task.
//! Connections are bounded in number, request size and time, so a slow or
//! hostile client costs at most a few idle sockets. [`render`] is a pure
//! function of the snapshot.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    net::SocketAddr,
    sync::Arc,
    time::{Duration, SystemTime},
};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::{body::Incoming, header, server::conn::http1, service::service_fn, Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus::{GaugeVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use tokio::{
    net::TcpListener,
    sync::{mpsc, oneshot, Semaphore},
};

use super::{
    core::Core,
    fastpath::FastPath,
    instance::{Counters, DiscardCause},
};
use crate::dataplane::{self, Family};

/// A scrape's request to the event loop: where to send the snapshot.
pub type MetricsRequest = oneshot::Sender<Snapshot>;

/// Connections served at once; more wait in the listen backlog.
const MAX_CONNECTIONS: usize = 8;
/// A client must have sent its request headers within this.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection (request, snapshot, response) ends after this, whatever state it is in.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);
/// Request headers larger than this are refused (hyper's smallest buffer).
const MAX_REQUEST_BYTES: usize = 8192;
/// The event loop answers between two inputs; a loop that does not answer
/// within this gets a 503 rather than a client waiting on it.
const SNAPSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// Every state `vip-agent status` names; the state metric has one series per
/// state, 1 for the current one.
const STATES: [&str; 6] = ["INIT", "BACKUP", "MASTER", "FAULT", "RESIGNING", "RESIGNED"];

/// What one scrape shows, taken by the event loop in one go.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub instances: Vec<InstanceSnapshot>,
    /// `None` without a fast path (`--xdp-mode off`, or still loading).
    pub xdp: Option<XdpSnapshot>,
}

#[derive(Clone, Debug, Default)]
pub struct InstanceSnapshot {
    pub name: String,
    pub interface: String,
    pub vrid: u8,
    /// As `vip-agent status` names it: one of [`STATES`].
    pub state: String,
    pub priority: u8,
    pub effective_priority: u8,
    /// Every configured VIP (`address/prefix`) and whether it is held.
    pub vips: Vec<(String, bool)>,
    pub counters: Counters,
    /// Time since the last state change; `None` before the first.
    pub since_transition: Option<Duration>,
}

#[derive(Clone, Debug, Default)]
pub struct XdpSnapshot {
    pub counters: dataplane::Counters,
    /// Names of the interfaces the counters are keyed by (ifindex).
    pub interfaces: BTreeMap<u32, String>,
    /// Age of the heartbeat the program checks; `None`: it never beat.
    pub heartbeat_age: Option<Duration>,
    pub fence_bound: Duration,
}

impl XdpSnapshot {
    /// The program answers no ARP/NS for the VIPs: the heartbeat is older
    /// than the bound (or was never written).
    pub fn fenced(&self) -> bool {
        self.heartbeat_age.is_none_or(|age| age > self.fence_bound)
    }
}

/// The event loop's answer to a scrape, at agent time `now`.
pub fn snapshot(core: &Core, fastpath: Option<&FastPath>, now: Duration) -> Snapshot {
    let instances = core
        .slots()
        .iter()
        .map(|slot| {
            let status = slot.status(core.system());
            InstanceSnapshot {
                name: status.name,
                interface: status.interface,
                vrid: status.vrid,
                state: status.state,
                priority: status.priority,
                effective_priority: status.effective_priority,
                vips: slot.vips_held(core.system()),
                counters: slot.counters.clone(),
                since_transition: slot.counters.last_transition.map(|t| now.saturating_sub(t)),
            }
        })
        .collect();
    let xdp = fastpath.filter(|f| f.enabled()).and_then(|fastpath| {
        let counters = fastpath.counters()?;
        let liveness = fastpath.liveness()?;
        let interfaces = counters
            .l2
            .iter()
            .map(|c| c.ifindex)
            .chain(counters.vrrp.iter().map(|c| c.ifindex))
            .filter_map(|ifindex| Some((ifindex, core.system().link(ifindex)?.name.clone())))
            .collect();
        Some(XdpSnapshot {
            counters,
            interfaces,
            heartbeat_age: (liveness.heartbeat_ns != 0).then(|| {
                Duration::from_nanos(
                    dataplane::monotonic_ns().saturating_sub(liveness.heartbeat_ns),
                )
            }),
            fence_bound: Duration::from_nanos(liveness.bound_ns),
        })
    });
    Snapshot { instances, xdp }
}

/// A fresh registry per scrape: every value comes from the snapshot, so the
/// metrics library only names, types and encodes them.
#[derive(Default)]
struct Exposition {
    registry: Registry,
}

impl Exposition {
    fn counter(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> prometheus::Result<IntCounterVec> {
        let metric = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn gauge(&self, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntGaugeVec> {
        let metric = IntGaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn seconds(&self, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<GaugeVec> {
        let metric = GaugeVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(metric.clone()))?;
        Ok(metric)
    }

    fn encode(&self) -> prometheus::Result<String> {
        TextEncoder::new().encode_to_string(&self.registry.gather())
    }
}

const INSTANCE_LABELS: [&str; 3] = ["vrrp_instance", "interface", "vrid"];

/// The snapshot in the Prometheus text format. `wall_clock` is the time the
/// snapshot was taken, for the timestamp of the last state change.
pub fn render(snapshot: &Snapshot, wall_clock: SystemTime) -> prometheus::Result<String> {
    let e = Exposition::default();
    e.gauge(
        "vip_agent_build_info",
        "Always 1; the version label is the running vip-agent's.",
        &["version"],
    )?
    .with_label_values(&[env!("CARGO_PKG_VERSION")])
    .set(1);
    render_instances(&e, &snapshot.instances, wall_clock)?;
    e.gauge(
        "vip_agent_xdp_enabled",
        "1 while the XDP fast path is loaded and answers ARP/NS for held VIPs, 0 without it (--xdp-mode off, or still loading).",
        &[],
    )?
    .with_label_values::<&str>(&[])
    .set(i64::from(snapshot.xdp.is_some()));
    if let Some(xdp) = &snapshot.xdp {
        render_xdp(&e, xdp)?;
    }
    e.encode()
}

fn render_instances(
    e: &Exposition,
    instances: &[InstanceSnapshot],
    wall_clock: SystemTime,
) -> prometheus::Result<()> {
    fn with(labels: &[&'static str]) -> Vec<&'static str> {
        INSTANCE_LABELS.iter().chain(labels).copied().collect()
    }
    let state = e.gauge(
        "vip_agent_vrrp_state",
        "State of the VRRP instance: 1 for the current state, 0 for the others (INIT, BACKUP, MASTER, FAULT, RESIGNING, RESIGNED).",
        &with(&["state"]),
    )?;
    let priority = e.gauge(
        "vip_agent_vrrp_priority",
        "Configured priority of the VRRP instance (1-255).",
        &INSTANCE_LABELS,
    )?;
    let effective = e.gauge(
        "vip_agent_vrrp_effective_priority",
        "Priority the instance advertises now: configured plus tracker weights, 0 while resigning.",
        &INSTANCE_LABELS,
    )?;
    let transitions = e.counter(
        "vip_agent_vrrp_transitions_total",
        "State changes of the VRRP instance, by old state, new state and reason.",
        &with(&["from", "to", "reason"]),
    )?;
    let since = e.seconds(
        "vip_agent_vrrp_last_transition_age_seconds",
        "Seconds since the instance's last state change (absent before the first).",
        &INSTANCE_LABELS,
    )?;
    let at = e.seconds(
        "vip_agent_vrrp_last_transition_timestamp_seconds",
        "Unix time of the instance's last state change (absent before the first).",
        &INSTANCE_LABELS,
    )?;
    let sent = e.counter(
        "vip_agent_vrrp_adverts_sent_total",
        "VRRP advertisements sent by the instance (one per destination).",
        &INSTANCE_LABELS,
    )?;
    let received = e.counter(
        "vip_agent_vrrp_adverts_received_total",
        "VRRP advertisements for the instance's VRID that decoded, including those the election then discarded.",
        &INSTANCE_LABELS,
    )?;
    let discarded = e.counter(
        "vip_agent_vrrp_adverts_discarded_total",
        "VRRP advertisements the instance discarded, by reason: not_peer, ttl, version, type, length, checksum, auth, family (undecodable or not from a unicast peer), wrong_vrid, interval_mismatch, own_advert, not_running (refused by the election).",
        &with(&["reason"]),
    )?;
    let zero_sent = e.counter(
        "vip_agent_vrrp_priority_zero_adverts_sent_total",
        "Priority-0 advertisements sent: the instance resigned as Master (stop, resign, fault).",
        &INSTANCE_LABELS,
    )?;
    let zero_received = e.counter(
        "vip_agent_vrrp_priority_zero_adverts_received_total",
        "Priority-0 advertisements received: another Master resigned.",
        &INSTANCE_LABELS,
    )?;
    let vip_held = e.gauge(
        "vip_agent_vrrp_vip_held",
        "1 while the instance holds the VIP (installed by it and on its interface), 0 otherwise.",
        &with(&["vip"]),
    )?;
    for i in instances {
        let vrid = i.vrid.to_string();
        let labels = [i.name.as_str(), i.interface.as_str(), vrid.as_str()];
        let plus = |extra: &[&'_ str]| -> Vec<String> {
            labels.iter().chain(extra).map(|s| s.to_string()).collect()
        };
        let current = STATES.contains(&i.state.as_str());
        for s in STATES
            .iter()
            .copied()
            .chain((!current).then_some(i.state.as_str()))
        {
            state
                .with_label_values(&plus(&[s]))
                .set(i64::from(s == i.state));
        }
        priority
            .with_label_values(&labels)
            .set(i64::from(i.priority));
        effective
            .with_label_values(&labels)
            .set(i64::from(i.effective_priority));
        let c = &i.counters;
        for (t, count) in &c.transitions {
            transitions
                .with_label_values(&plus(&[t.from, t.to, t.reason]))
                .inc_by(*count);
        }
        if let Some(age) = i.since_transition {
            since.with_label_values(&labels).set(age.as_secs_f64());
            let when = wall_clock
                .checked_sub(age)
                .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok());
            if let Some(when) = when {
                at.with_label_values(&labels).set(when.as_secs_f64());
            }
        }
        sent.with_label_values(&labels).inc_by(c.adverts_sent);
        received
            .with_label_values(&labels)
            .inc_by(c.adverts_received);
        for cause in DiscardCause::ALL {
            discarded
                .with_label_values(&plus(&[cause.name()]))
                .inc_by(c.discarded(cause));
        }
        zero_sent
            .with_label_values(&labels)
            .inc_by(c.priority_zero_sent);
        zero_received
            .with_label_values(&labels)
            .inc_by(c.priority_zero_received);
        for (vip, held) in &i.vips {
            vip_held
                .with_label_values(&plus(&[vip.as_str()]))
                .set(i64::from(*held));
        }
    }
    Ok(())
}

fn render_xdp(e: &Exposition, xdp: &XdpSnapshot) -> prometheus::Result<()> {
    let none: [&str; 0] = [];
    e.gauge(
        "vip_agent_xdp_fenced",
        "1 while the fast path is fenced: the agent's heartbeat is older than the bound, so XDP drops ARP/NS for the VIPs instead of answering.",
        &[],
    )?
    .with_label_values(&none)
    .set(i64::from(xdp.fenced()));
    if let Some(age) = xdp.heartbeat_age {
        e.seconds(
            "vip_agent_xdp_heartbeat_age_seconds",
            "Age of the heartbeat the XDP program checks (written every quarter of the fencing bound).",
            &[],
        )?
        .with_label_values(&none)
        .set(age.as_secs_f64());
    }
    e.seconds(
        "vip_agent_xdp_fence_bound_seconds",
        "Fencing bound (--xdp-fence-ms): XDP stops answering for the VIPs when the heartbeat is older.",
        &[],
    )?
    .with_label_values(&none)
    .set(xdp.fence_bound.as_secs_f64());

    let interface_counter = |name: &str, help: &str| e.counter(name, help, &["interface"]);
    let arp_requests = interface_counter(
        "vip_agent_xdp_arp_requests_total",
        "ARP requests the XDP program saw on the interface (= answered + passed + fenced).",
    )?;
    let arp_answered = interface_counter(
        "vip_agent_xdp_arp_replies_sent_total",
        "ARP replies the XDP program sent for a held VIP.",
    )?;
    let arp_passed = interface_counter(
        "vip_agent_xdp_arp_requests_passed_total",
        "ARP requests passed to the kernel: not for a held VIP, or gratuitous.",
    )?;
    let arp_fenced = interface_counter(
        "vip_agent_xdp_arp_requests_fenced_total",
        "ARP requests for a held VIP dropped because the heartbeat was stale (fenced): neither XDP nor the kernel answers.",
    )?;
    let arp_other = interface_counter(
        "vip_agent_xdp_arp_other_frames_total",
        "ARP frames other than requests (replies, other hardware or protocol types), passed.",
    )?;
    let ns_seen = interface_counter(
        "vip_agent_xdp_neighbor_solicitations_total",
        "IPv6 Neighbor Solicitations the XDP program saw on the interface (= answered + passed + fenced).",
    )?;
    let na_sent = interface_counter(
        "vip_agent_xdp_neighbor_advertisements_sent_total",
        "Neighbor Advertisements the XDP program sent for a held VIP.",
    )?;
    let ns_passed = interface_counter(
        "vip_agent_xdp_neighbor_solicitations_passed_total",
        "Neighbor Solicitations passed to the kernel: target not held here or not answerable.",
    )?;
    let ns_fenced = interface_counter(
        "vip_agent_xdp_neighbor_solicitations_fenced_total",
        "Neighbor Solicitations for a held VIP dropped because the heartbeat was stale (fenced).",
    )?;
    let vrrp_short = interface_counter(
        "vip_agent_xdp_vrrp_short_frames_total",
        "VRRP frames too short to read the VRID, passed to the kernel.",
    )?;
    let vrrp_fragments = interface_counter(
        "vip_agent_xdp_vrrp_fragments_dropped_total",
        "Fragmented IPv4 VRRP frames dropped (adverts are never fragmented).",
    )?;
    let no_accept = interface_counter(
        "vip_agent_xdp_no_accept_dropped_total",
        "IPv4/IPv6 packets to a VIP held by a non-owner master without accept, dropped.",
    )?;
    for c in &xdp.counters.l2 {
        let Some(name) = xdp.interfaces.get(&c.ifindex) else {
            continue;
        };
        let labels = [name.as_str()];
        for (metric, value) in [
            (&arp_requests, c.arp_requests_seen),
            (&arp_answered, c.arp_replies_sent),
            (&arp_passed, c.arp_passed),
            (&arp_fenced, c.arp_fenced),
            (&arp_other, c.arp_other),
            (&ns_seen, c.ns_seen),
            (&na_sent, c.na_sent),
            (&ns_passed, c.ns_passed),
            (&ns_fenced, c.ns_fenced),
            (&vrrp_short, c.vrrp_short),
            (&vrrp_fragments, c.vrrp_fragments),
            (&no_accept, c.no_accept_dropped),
        ] {
            metric.with_label_values(&labels).inc_by(value);
        }
    }

    let vrrp_labels = ["interface", "vrid", "family"];
    let frames = e.counter(
        "vip_agent_xdp_vrrp_frames_total",
        "VRRP frames the XDP program saw for the (interface, VRID, family) (= valid + dropped + unconfigured).",
        &vrrp_labels,
    )?;
    let valid = e.counter(
        "vip_agent_xdp_vrrp_adverts_valid_total",
        "VRRP advertisements that passed every check in XDP and went on to the agent.",
        &vrrp_labels,
    )?;
    let dropped = e.counter(
        "vip_agent_xdp_vrrp_dropped_total",
        "VRRP frames dropped in XDP, by reason: ttl, version, type, length, checksum, auth, not_peer.",
        &["interface", "vrid", "family", "reason"],
    )?;
    let unconfigured = e.counter(
        "vip_agent_xdp_vrrp_unconfigured_total",
        "VRRP frames passed unvalidated: no instance of this node runs the (interface, VRID, family).",
        &vrrp_labels,
    )?;
    for c in &xdp.counters.vrrp {
        let Some(name) = xdp.interfaces.get(&c.ifindex) else {
            continue;
        };
        let vrid = c.vrid.to_string();
        let family = match c.family {
            Some(Family::V6) => "ipv6",
            _ => "ipv4",
        };
        let labels = [name.as_str(), vrid.as_str(), family];
        frames.with_label_values(&labels).inc_by(c.frames);
        valid.with_label_values(&labels).inc_by(c.adverts_valid);
        unconfigured
            .with_label_values(&labels)
            .inc_by(c.unconfigured);
        for (reason, value) in [
            ("ttl", c.drop_ttl),
            ("version", c.drop_version),
            ("type", c.drop_type),
            ("length", c.drop_length),
            ("checksum", c.drop_checksum),
            ("auth", c.drop_auth),
            ("not_peer", c.drop_not_peer),
        ] {
            dropped
                .with_label_values(&[name.as_str(), vrid.as_str(), family, reason])
                .inc_by(value);
        }
    }
    Ok(())
}

/// Binds the metrics listener (before the loop starts, so a taken port is
/// an error at start, not a warning later).
pub async fn bind(address: SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(address)
        .await
        .with_context(|| format!("binding the metrics listener on {address}"))
}

/// What a request gets, by method and path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
    MethodNotAllowed,
}

fn route(method: &Method, path: &str) -> Route {
    match (method, path) {
        (&Method::GET, "/metrics") => Route::Metrics,
        (_, "/metrics") => Route::MethodNotAllowed,
        _ => Route::NotFound,
    }
}

/// Serves `GET /metrics` until the task is aborted.
pub async fn serve(listener: TcpListener, requests: mpsc::Sender<MetricsRequest>) {
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        // A permit before accepting: connections beyond the bound wait in
        // the kernel's backlog instead of costing a task each.
        let Ok(permit) = connections.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of file descriptors, most likely: wait instead of spinning.
                tracing::warn!(error = %err, "accepting a metrics connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let requests = requests.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let service = service_fn(move |request| answer(request, requests.clone()));
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST_BYTES)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
        });
    }
}

type HttpResponse = hyper::Response<Full<Bytes>>;

async fn answer(
    request: hyper::Request<Incoming>,
    requests: mpsc::Sender<MetricsRequest>,
) -> std::result::Result<HttpResponse, Infallible> {
    let response = match route(request.method(), request.uri().path()) {
        Route::Metrics => match scrape(&requests).await {
            Ok(body) => text(StatusCode::OK, TEXT_FORMAT, body),
            Err(message) => text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, message),
        },
        Route::MethodNotAllowed => {
            let mut response = text(
                StatusCode::METHOD_NOT_ALLOWED,
                PLAIN,
                "only GET is served\n".into(),
            );
            response
                .headers_mut()
                .insert(header::ALLOW, header::HeaderValue::from_static("GET"));
            response
        }
        Route::NotFound => text(
            StatusCode::NOT_FOUND,
            PLAIN,
            "not found: the metrics are at /metrics\n".into(),
        ),
    };
    Ok(response)
}

/// Prometheus text format 0.0.4 (what `promtool check metrics` parses).
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";
const PLAIN: &str = "text/plain; charset=utf-8";

fn text(status: StatusCode, content_type: &'static str, body: String) -> HttpResponse {
    let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}

/// Asks the event loop for a snapshot and renders it.
async fn scrape(requests: &mpsc::Sender<MetricsRequest>) -> std::result::Result<String, String> {
    let ask = async {
        let (reply, snapshot) = oneshot::channel();
        requests.send(reply).await.ok()?;
        snapshot.await.ok()
    };
    let snapshot = match tokio::time::timeout(SNAPSHOT_TIMEOUT, ask).await {
        Ok(Some(snapshot)) => snapshot,
        Ok(None) => return Err("the agent is stopping\n".into()),
        Err(_) => return Err("the agent did not answer in time\n".into()),
    };
    render(&snapshot, SystemTime::now()).map_err(|err| {
        tracing::error!(error = %err, "rendering the metrics");
        format!("rendering the metrics: {err}\n")
    })
}

#[cfg(test)]
mod tests;

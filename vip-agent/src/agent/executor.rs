//! Carries out the core's effects, in order, against the kernel: netlink for
//! addresses, the XDP maps, the VRRP and packet sockets, and child processes
//! for scripts. Failures are logged; the few the core must know about come
//! back as [`Feedback`].

use std::{collections::HashMap, path::PathBuf};

use tokio::{sync::mpsc, task::JoinHandle};

use super::{
    effect::{Effect, Feedback},
    fastpath::FastPath,
    notify,
    scripts::{self, ScriptResult},
    sockets::SocketRegistry,
    trackers::{self, TrackerReport},
};
use crate::net::{announce::FrameSender, netlink::Netlink, vmac::Vmacs};

pub struct Executor {
    pub netlink: Netlink,
    /// `None` while the program loads in the background after a crash
    /// (see [`super::event_loop`]); its effects wait in `deferred`, and the
    /// heartbeat renews the crashed run's instead.
    pub fastpath: Option<FastPath>,
    deferred: Vec<Effect>,
    pin_dir: PathBuf,
    pub sockets: SocketRegistry,
    /// Packet sockets for ARP/NA, opened on first use per interface index.
    frames: HashMap<u32, FrameSender>,
    scripts: Vec<JoinHandle<()>>,
    script_results: mpsc::Sender<ScriptResult>,
    /// The `track_file` and `vrrp_track_process` runners.
    trackers: Vec<JoinHandle<()>>,
    tracker_reports: mpsc::Sender<TrackerReport>,
    fifos: notify::NotifyFifos,
    vmacs: Vmacs,
}

impl Executor {
    pub fn new(
        netlink: Netlink,
        fastpath: Option<FastPath>,
        pin_dir: PathBuf,
        sockets: SocketRegistry,
        script_results: mpsc::Sender<ScriptResult>,
        tracker_reports: mpsc::Sender<TrackerReport>,
    ) -> Self {
        Self {
            netlink,
            fastpath,
            deferred: Vec::new(),
            pin_dir,
            sockets,
            frames: HashMap::new(),
            scripts: Vec::new(),
            script_results,
            trackers: Vec::new(),
            tracker_reports,
            fifos: notify::NotifyFifos::default(),
            vmacs: Vmacs::default(),
        }
    }

    pub async fn execute(&mut self, effects: Vec<Effect>) -> Vec<Feedback> {
        let mut feedback = Vec::new();
        for effect in effects {
            if let Some(fb) = self.carry_out(effect).await {
                feedback.push(fb);
            }
        }
        // An earlier run's attachment changes program only after the whole
        // batch: the policies and ownership decided with it are in the maps.
        if let Some(fastpath) = &mut self.fastpath {
            fastpath.take_over_adopted();
        }
        feedback
    }

    /// The program has loaded: the fast-path effects decided meanwhile are
    /// carried out now, in order.
    pub async fn fast_path_ready(&mut self, fastpath: FastPath) -> Vec<Feedback> {
        self.fastpath = Some(fastpath);
        let deferred = std::mem::take(&mut self.deferred);
        self.execute(deferred).await
    }

    async fn carry_out(&mut self, effect: Effect) -> Option<Feedback> {
        if effect.needs_fast_path() {
            return match &mut self.fastpath {
                Some(fastpath) => Self::on_fast_path(fastpath, effect),
                None => {
                    self.while_loading(effect);
                    None
                }
            };
        }
        match effect {
            Effect::EnsureVmac(spec) => {
                return Some(match self.vmacs.ensure(&self.netlink, &spec).await {
                    Ok(link) => {
                        tracing::info!(interface = %spec.name, base = %spec.base, ifindex = link.ifindex, "VMAC up");
                        Feedback::VmacReady { link }
                    }
                    Err(err) => {
                        let error = format!("{err:#}");
                        tracing::warn!(interface = %spec.name, error, "making the VMAC");
                        Feedback::VmacFailed {
                            name: spec.name.clone(),
                            error,
                        }
                    }
                });
            }
            Effect::RemoveVmac { name } => {
                if let Err(err) = self.vmacs.remove(&self.netlink, &name).await {
                    tracing::warn!(interface = %name, error = %format!("{err:#}"), "removing the VMAC");
                }
            }
            Effect::OpenSocket { key, spec } => {
                return Some(match self.sockets.open(&key, spec) {
                    Ok(()) => Feedback::SocketOpened { key, spec },
                    Err(err) => {
                        let error = format!("{err:#}");
                        tracing::warn!(interface = %key.interface, error, "opening the VRRP socket");
                        Feedback::SocketFailed { key, error }
                    }
                });
            }
            Effect::CloseSocket { key } => self.sockets.close(&key),
            Effect::SendAdvert {
                key,
                source,
                destination,
                ttl,
                payload,
            } => {
                if let Err(err) = self
                    .sockets
                    .send(&key, &payload, source, destination, ttl)
                    .await
                {
                    tracing::warn!(interface = %key.interface, %destination, error = %format!("{err:#}"), "sending the advert");
                }
            }
            Effect::AddVip {
                ifindex,
                address,
                prefix_len,
                label,
                lifetime,
            } => {
                if let Err(err) = self
                    .netlink
                    .add_vip(ifindex, address, prefix_len, label.as_deref(), lifetime)
                    .await
                {
                    tracing::warn!(vip = %address, error = %err, "adding or refreshing the VIP");
                }
            }
            Effect::DelVip {
                ifindex,
                address,
                prefix_len,
            } => {
                if let Err(err) = self.netlink.del_vip(ifindex, address, prefix_len).await {
                    tracing::error!(vip = %address, error = %err, "removing the VIP");
                }
            }
            Effect::AddRoute(spec) => {
                if let Err(err) = self.netlink.add_route(&spec).await {
                    tracing::warn!(route = %spec.route.destination, table = spec.route.table, error = %err, "adding the route");
                    return Some(Feedback::RouteFailed { route: spec });
                }
            }
            Effect::DelRoute(spec) => {
                if let Err(err) = self.netlink.del_route(&spec).await {
                    tracing::warn!(route = %spec.route.destination, table = spec.route.table, error = %err, "removing the route");
                }
            }
            Effect::AddRule(rule) => {
                if let Err(err) = self.netlink.add_rule(&rule).await {
                    tracing::warn!(priority = rule.priority, error = %err, "adding the rule");
                }
            }
            Effect::DelRule(rule) => {
                if let Err(err) = self.netlink.del_rule(&rule).await {
                    tracing::warn!(priority = rule.priority, error = %err, "removing the rule");
                }
            }
            Effect::AddStaticAddress {
                ifindex,
                address,
                prefix_len,
                label,
            } => {
                if let Err(err) = self
                    .netlink
                    .add_static_address(ifindex, address, prefix_len, label.as_deref())
                    .await
                {
                    tracing::warn!(%address, error = %err, "adding the static address");
                    return Some(Feedback::StaticAddressFailed { ifindex, address });
                }
            }
            Effect::DelStaticAddress {
                ifindex,
                address,
                prefix_len,
            } => {
                if let Err(err) = self.netlink.del_vip(ifindex, address, prefix_len).await {
                    tracing::warn!(%address, error = %err, "removing the static address");
                }
            }
            Effect::SendFrames { ifindex, frames } => self.send_frames(ifindex, &frames),
            Effect::LinkGone { ifindex } => {
                self.frames.remove(&ifindex);
            }
            Effect::Notify {
                scripts,
                default_user,
                kind,
                name,
                state,
                priority,
            } => {
                self.fifos
                    .write(&notify::fifo_line(kind, &name, state, priority));
                notify::run(
                    &scripts,
                    default_user.as_ref(),
                    kind,
                    &name,
                    state,
                    priority,
                );
            }
            Effect::NotifyFifos(settings) => self.fifos.configure(*settings),
            Effect::EndFifoScripts => self.fifos.end_scripts(),
            Effect::CloseFifos => self.fifos.close(),
            Effect::RunScripts {
                scripts,
                default_user,
            } => {
                for task in self.scripts.drain(..) {
                    task.abort();
                }
                for (script, ok) in scripts {
                    self.scripts.push(scripts::spawn_script(
                        script,
                        default_user.clone(),
                        ok,
                        self.script_results.clone(),
                    ));
                }
            }
            Effect::RunTrackers {
                files,
                processes,
                reload,
            } => {
                for task in self.trackers.drain(..) {
                    task.abort();
                }
                let reports = &self.tracker_reports;
                self.trackers.extend(
                    trackers::spawn_file_trackers(files, reload, reports.clone())
                        .into_iter()
                        .chain(trackers::spawn_process_trackers(processes, reports.clone())),
                );
            }
            // Handled above.
            _ => {}
        }
        None
    }

    fn on_fast_path(fastpath: &mut FastPath, effect: Effect) -> Option<Feedback> {
        match effect {
            Effect::AttachXdp { interface } => {
                if let Err(err) = fastpath.attach(&interface) {
                    let error = format!("{err:#}");
                    tracing::error!(
                        interface,
                        error,
                        "XDP attach failed; the kernel path answers instead"
                    );
                    return Some(Feedback::XdpFailed { interface, error });
                }
            }
            Effect::ForgetXdp { interface } => fastpath.forget(&interface),
            Effect::DetachXdp { interface } => {
                if let Err(err) = fastpath.detach(&interface) {
                    tracing::warn!(interface, error = %format!("{err:#}"), "detaching XDP");
                }
            }
            Effect::SetPolicy {
                ifindex,
                vrid,
                ipv6,
                policy,
            } => {
                if let Err(err) = fastpath.set_policy(ifindex, vrid, ipv6, &policy) {
                    tracing::warn!(ifindex, vrid, error = %format!("{err:#}"), "pushing the VRRP policy to XDP");
                }
            }
            Effect::RemovePolicy {
                ifindex,
                vrid,
                ipv6,
            } => {
                if let Err(err) = fastpath.remove_policy(ifindex, vrid, ipv6) {
                    tracing::warn!(ifindex, vrid, error = %format!("{err:#}"), "removing the VRRP policy from XDP");
                }
            }
            Effect::SetOwned {
                ifindex,
                vip,
                mac,
                vrid,
                accept,
            } => {
                if let Err(err) = fastpath.set_owned(ifindex, vip, mac, vrid, accept) {
                    tracing::warn!(%vip, error = %format!("{err:#}"), "XDP ownership");
                }
            }
            Effect::ClearOwned { ifindex, vip } => {
                if let Err(err) = fastpath.clear_owned(ifindex, vip) {
                    tracing::warn!(%vip, error = %format!("{err:#}"), "clearing XDP ownership");
                }
            }
            Effect::Heartbeat => {
                if let Err(err) = fastpath.heartbeat() {
                    tracing::warn!(error = %err, "XDP heartbeat");
                }
            }
            _ => {}
        }
        None
    }

    /// While the program loads, fast-path effects wait for it, and the
    /// heartbeat keeps the crashed run's pinned fast path unfenced instead.
    fn while_loading(&mut self, effect: Effect) {
        if effect == Effect::Heartbeat {
            if let Err(err) = crate::dataplane::bridge_heartbeat(&self.pin_dir) {
                tracing::warn!(error = %err, "renewing the earlier run's heartbeat");
            }
        } else {
            self.deferred.push(effect);
        }
    }

    fn send_frames(&mut self, ifindex: u32, frames: &[Vec<u8>]) {
        let sender = match self.frames.entry(ifindex) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => match FrameSender::open(ifindex) {
                Ok(sender) => e.insert(sender),
                Err(err) => {
                    tracing::warn!(ifindex, error = %err, "packet socket for ARP/NA");
                    return;
                }
            },
        };
        for frame in frames {
            if let Err(err) = sender.send(frame) {
                tracing::warn!(ifindex, error = %err, "sending gratuitous ARP/NA");
                // A re-created interface needs a new packet socket.
                self.frames.remove(&ifindex);
                return;
            }
        }
    }

    /// Ends what the executor runs: script runners, sockets, the fast path.
    pub fn shutdown(mut self) -> anyhow::Result<()> {
        for task in self.scripts.drain(..).chain(self.trackers.drain(..)) {
            task.abort();
        }
        self.fifos.close();
        self.sockets.clear();
        match self.fastpath {
            Some(fastpath) => fastpath.shutdown(),
            None => Ok(()),
        }
    }
}

//! Carries out the core's effects, in order, against the kernel: netlink for
//! addresses, the XDP maps, the VRRP and packet sockets, and child processes
//! for scripts. Failures are logged; the few the core must know about come
//! back as [`Feedback`].

use std::collections::HashMap;

use tokio::{sync::mpsc, task::JoinHandle};

use super::{
    effect::{Effect, Feedback},
    fastpath::FastPath,
    notify,
    scripts::{self, ScriptResult},
    sockets::SocketRegistry,
};
use crate::net::{announce::FrameSender, netlink::Netlink};

pub struct Executor {
    pub netlink: Netlink,
    pub fastpath: FastPath,
    pub sockets: SocketRegistry,
    /// Packet sockets for ARP/NA, opened on first use per interface index.
    frames: HashMap<u32, FrameSender>,
    scripts: Vec<JoinHandle<()>>,
    script_results: mpsc::Sender<ScriptResult>,
}

impl Executor {
    pub fn new(
        netlink: Netlink,
        fastpath: FastPath,
        sockets: SocketRegistry,
        script_results: mpsc::Sender<ScriptResult>,
    ) -> Self {
        Self {
            netlink,
            fastpath,
            sockets,
            frames: HashMap::new(),
            scripts: Vec::new(),
            script_results,
        }
    }

    pub async fn execute(&mut self, effects: Vec<Effect>) -> Vec<Feedback> {
        let mut feedback = Vec::new();
        for effect in effects {
            if let Some(fb) = self.carry_out(effect).await {
                feedback.push(fb);
            }
        }
        feedback
    }

    async fn carry_out(&mut self, effect: Effect) -> Option<Feedback> {
        match effect {
            Effect::AttachXdp { interface } => {
                if let Err(err) = self.fastpath.attach(&interface) {
                    let error = format!("{err:#}");
                    tracing::error!(
                        interface,
                        error,
                        "XDP attach failed; the kernel path answers instead"
                    );
                    return Some(Feedback::XdpFailed { interface, error });
                }
            }
            Effect::ForgetXdp { interface } => self.fastpath.forget(&interface),
            Effect::DetachXdp { interface } => {
                if let Err(err) = self.fastpath.detach(&interface) {
                    tracing::warn!(interface, error = %format!("{err:#}"), "detaching XDP");
                }
            }
            Effect::SetPolicy {
                ifindex,
                vrid,
                ipv6,
                policy,
            } => {
                if let Err(err) = self.fastpath.set_policy(ifindex, vrid, ipv6, &policy) {
                    tracing::warn!(ifindex, vrid, error = %format!("{err:#}"), "pushing the VRRP policy to XDP");
                }
            }
            Effect::RemovePolicy {
                ifindex,
                vrid,
                ipv6,
            } => {
                if let Err(err) = self.fastpath.remove_policy(ifindex, vrid, ipv6) {
                    tracing::warn!(ifindex, vrid, error = %format!("{err:#}"), "removing the VRRP policy from XDP");
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
                payload,
            } => {
                if let Err(err) = self.sockets.send(&key, &payload, source, destination).await {
                    tracing::warn!(interface = %key.interface, %destination, error = %format!("{err:#}"), "sending the advert");
                }
            }
            Effect::SetOwned {
                ifindex,
                vip,
                mac,
                vrid,
            } => {
                if let Err(err) = self.fastpath.set_owned(ifindex, vip, mac, vrid) {
                    tracing::warn!(%vip, error = %format!("{err:#}"), "XDP ownership");
                }
            }
            Effect::ClearOwned { ifindex, vip } => {
                if let Err(err) = self.fastpath.clear_owned(ifindex, vip) {
                    tracing::warn!(%vip, error = %format!("{err:#}"), "clearing XDP ownership");
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
            Effect::SendFrames { ifindex, frames } => self.send_frames(ifindex, &frames),
            Effect::Notify {
                scripts,
                instance,
                state,
                priority,
            } => notify::run(&scripts, &instance, state, priority),
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
            Effect::Heartbeat => {
                if let Err(err) = self.fastpath.heartbeat() {
                    tracing::warn!(error = %err, "XDP heartbeat");
                }
            }
        }
        None
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
        for task in self.scripts.drain(..) {
            task.abort();
        }
        self.sockets.clear();
        self.fastpath.shutdown()
    }
}

//! The daemon's view of the XDP fast path: attach once per interface, push
//! VRRP policy and VIP ownership, keep the liveness heartbeat fresh. With
//! `--xdp-mode off` every call is a no-op and the kernel path does the work.

use std::{collections::BTreeSet, net::IpAddr, path::Path, time::Duration};

use anyhow::{Context, Result};

use vip_common::Liveness;

use crate::dataplane::{self, Counters, Dataplane, Family, Inherited, VrrpPolicy, XdpModeChoice};

pub struct FastPath {
    dataplane: Option<Dataplane>,
    mode: XdpModeChoice,
    force: bool,
    attached: BTreeSet<String>,
}

impl FastPath {
    /// What a run that died without a clean stop left under `pin_dir`, read
    /// before anything replaces it; its heartbeat is renewed once if its
    /// fast path is not fenced yet, so it goes on answering while this run
    /// loads its own.
    pub fn inherit(pin_dir: &Path, mode: XdpModeChoice) -> Option<Inherited> {
        if mode == XdpModeChoice::Off {
            return None;
        }
        let inherited = dataplane::inherit(pin_dir)
            .inspect_err(|err| tracing::warn!(error = %err, "reading what an earlier run pinned"))
            .ok()
            .flatten()?;
        match dataplane::bridge_heartbeat(pin_dir) {
            Ok(true) => {
                tracing::info!("the earlier run's fast path goes on answering while this one loads")
            }
            Ok(false) => {}
            Err(err) => tracing::warn!(error = %err, "renewing the earlier run's heartbeat"),
        }
        Some(inherited)
    }

    /// Loads the program (about a second, most of it the kernel's verifier)
    /// and takes over what an earlier run pinned.
    pub fn start(
        pin_dir: &Path,
        mode: XdpModeChoice,
        force: bool,
        fence_bound: Duration,
    ) -> Result<Self> {
        let dataplane = if mode == XdpModeChoice::Off {
            None
        } else {
            let mut dataplane =
                Dataplane::load_pinned(pin_dir).context("loading the XDP program")?;
            dataplane
                .set_fence_bound(fence_bound)
                .context("writing the XDP fencing bound")?;
            dataplane.heartbeat().context("writing the XDP heartbeat")?;
            Some(dataplane)
        };
        let attached = dataplane
            .iter()
            .flat_map(|d| d.attachments())
            .map(|a| a.interface.clone())
            .collect();
        Ok(Self {
            dataplane,
            mode,
            force,
            attached,
        })
    }

    /// No fast path: the kernel answers ARP/NS.
    pub fn off() -> Self {
        Self {
            dataplane: None,
            mode: XdpModeChoice::Off,
            force: false,
            attached: BTreeSet::new(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.dataplane.is_some()
    }

    /// Attaches to `interface` unless already attached there.
    pub fn attach(&mut self, interface: &str) -> Result<()> {
        let Some(dataplane) = &mut self.dataplane else {
            return Ok(());
        };
        if self.attached.contains(interface) {
            return Ok(());
        }
        if !dataplane.adopt(interface) {
            dataplane
                .attach(interface, self.mode, self.force)
                .with_context(|| format!("attaching XDP to {interface}"))?;
        }
        self.attached.insert(interface.to_string());
        Ok(())
    }

    /// Takes over the earlier run's attachments [`FastPath::attach`]
    /// adopted, now that the effects before it have written the maps.
    pub fn take_over_adopted(&mut self) {
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.take_over_adopted(self.mode);
        }
    }

    /// No instance uses `interface` any more.
    pub fn detach(&mut self, interface: &str) -> Result<()> {
        self.attached.remove(interface);
        if let Some(dataplane) = &mut self.dataplane {
            dataplane
                .detach(interface)
                .with_context(|| format!("detaching XDP from {interface}"))?;
        }
        Ok(())
    }

    /// The interface went away: its attachment died with it.
    pub fn forget(&mut self, interface: &str) {
        self.attached.remove(interface);
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.forget(interface);
        }
    }

    pub fn set_policy(
        &mut self,
        ifindex: u32,
        vrid: u8,
        ipv6: bool,
        policy: &VrrpPolicy,
    ) -> Result<()> {
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.set_vrrp_policy(ifindex, vrid, family(ipv6), policy)?;
        }
        Ok(())
    }

    pub fn remove_policy(&mut self, ifindex: u32, vrid: u8, ipv6: bool) -> Result<()> {
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.remove_vrrp_policy(ifindex, vrid, family(ipv6))?;
        }
        Ok(())
    }

    pub fn set_owned(
        &mut self,
        ifindex: u32,
        vip: IpAddr,
        mac: [u8; 6],
        vrid: u8,
        accept: bool,
    ) -> Result<()> {
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.set_owned(ifindex, vip, mac, vrid, accept)?;
        }
        Ok(())
    }

    pub fn clear_owned(&mut self, ifindex: u32, vip: IpAddr) -> Result<()> {
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.clear_owned(ifindex, vip)?;
        }
        Ok(())
    }

    pub fn heartbeat(&mut self) -> Result<()> {
        if let Some(dataplane) = &mut self.dataplane {
            dataplane.heartbeat()?;
        }
        Ok(())
    }

    pub fn counters(&self) -> Option<Counters> {
        let dataplane = self.dataplane.as_ref()?;
        match dataplane.counters() {
            Ok(counters) => Some(counters),
            Err(err) => {
                tracing::warn!(error = %err, "reading XDP counters");
                None
            }
        }
    }

    /// The heartbeat and bound the program fences by (`None` without XDP).
    pub fn liveness(&self) -> Option<Liveness> {
        let dataplane = self.dataplane.as_ref()?;
        match dataplane.liveness() {
            Ok(liveness) => Some(liveness),
            Err(err) => {
                tracing::warn!(error = %err, "reading the XDP heartbeat");
                None
            }
        }
    }

    pub fn shutdown(self) -> Result<()> {
        if let Some(dataplane) = self.dataplane {
            dataplane.shutdown().context("detaching the XDP program")?;
        }
        Ok(())
    }
}

pub fn family(ipv6: bool) -> Family {
    if ipv6 {
        Family::V6
    } else {
        Family::V4
    }
}

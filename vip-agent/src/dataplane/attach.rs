//! Attaching the program to interfaces: the mode, a foreign program in
//! the way, and attachments pinned so they outlive the process, taken over
//! by the next run.

use super::*;

/// How an attachment is held.
pub(super) enum AttachedLink {
    /// By the program object: it detaches when the process ends.
    Process(XdpLinkId),
    /// Pinned: it outlives the process until a clean stop unpins it.
    Pinned(PinnedLink),
}

/// Pin of the attachment to `interface`.
pub(super) fn link_pin(pin_dir: &Path, interface: &str) -> PathBuf {
    pin_dir.join(format!("{LINK_PIN_PREFIX}{interface}"))
}

pub(super) const LINK_PIN_PREFIX: &str = "link_";

/// True if `err` says the interface already runs an XDP program.
fn is_busy(err: &aya::programs::ProgramError) -> bool {
    match err {
        aya::programs::ProgramError::SyscallError(e) => matches!(
            e.io_error.raw_os_error(),
            Some(libc::EBUSY) | Some(libc::EEXIST)
        ),
        _ => {
            let text = err.to_string();
            text.contains("busy") || text.contains("exists")
        }
    }
}

/// Removes whatever XDP program (generic or driver mode) is attached to
/// `interface` through netlink. A program held by another process's bpf_link
/// cannot be removed this way; the retried attach then reports it.
fn remove_foreign_xdp(interface: &str) -> Result<(), DataplaneError> {
    let mut errors = Vec::new();
    for mode in ["xdpgeneric", "xdpdrv"] {
        match std::process::Command::new("ip")
            .args(["link", "set", "dev", interface, mode, "off"])
            .output()
        {
            Ok(out) if out.status.success() => {}
            Ok(out) => errors.push(String::from_utf8_lossy(&out.stderr).trim().to_string()),
            Err(err) => errors.push(format!("running ip: {err}")),
        }
    }
    if errors.len() == 2 {
        return Err(DataplaneError::ForceDetach {
            interface: interface.to_string(),
            message: errors.join("; "),
        });
    }
    Ok(())
}

impl Dataplane {
    /// Attaches the program to `interface` in the mode `choice` resolves to.
    /// If another XDP program is already attached there, refuses unless
    /// `force`, which removes that program first.
    pub fn attach(
        &mut self,
        interface: &str,
        choice: XdpModeChoice,
        force: bool,
    ) -> Result<&Attachment, DataplaneError> {
        let ifindex = nix::net::if_::if_nametoindex(interface)
            .map_err(|_| DataplaneError::UnknownInterface(interface.to_string()))?;
        let pin = link_pin(&self.pin_dir, interface);
        let resolved = resolve_xdp_mode(interface, choice);
        if let Some(why) = &resolved.note {
            tracing::warn!(interface, mode = ?resolved.mode, "{why}");
        }
        let first = match self.attach_mode(ifindex, resolved.mode) {
            Err(err) if is_busy(&err) => {
                if !force {
                    return Err(DataplaneError::XdpInUse {
                        interface: interface.to_string(),
                    });
                }
                tracing::warn!(
                    interface,
                    "--force: replacing the XDP program on the interface"
                );
                remove_foreign_xdp(interface)?;
                self.attach_mode(ifindex, resolved.mode)
            }
            other => other,
        };
        let (mode, link) = match first {
            Ok(link) => (resolved.mode, link),
            // auto: a driver without native XDP support falls back to skb.
            Err(err) if choice == XdpModeChoice::Auto && resolved.mode == XdpModeChoice::Native => {
                tracing::warn!(
                    interface,
                    error = %err,
                    "native XDP is not available here; using skb (generic) mode"
                );
                let link = self
                    .attach_mode(ifindex, XdpModeChoice::Skb)
                    .map_err(|source| DataplaneError::Attach {
                        interface: interface.to_string(),
                        mode: XdpModeChoice::Skb,
                        source,
                    })?;
                (XdpModeChoice::Skb, link)
            }
            Err(source) if is_busy(&source) => {
                return Err(DataplaneError::XdpInUse {
                    interface: interface.to_string(),
                })
            }
            Err(source) => {
                return Err(DataplaneError::Attach {
                    interface: interface.to_string(),
                    mode: resolved.mode,
                    source,
                })
            }
        };
        let attachment = Attachment {
            interface: interface.to_string(),
            ifindex,
            mode,
        };
        tracing::info!(interface, ifindex, ?mode, "XDP program attached");
        let link = self.hold(link, &pin)?;
        self.attachments.push((attachment, link));
        Ok(&self.attachments.last().expect("just pushed").0)
    }

    /// Keeps a new attachment the way this dataplane holds them.
    fn hold(&mut self, link: XdpLinkId, pin: &Path) -> Result<AttachedLink, DataplaneError> {
        if !self.pin_links {
            return Ok(AttachedLink::Process(link));
        }
        let program = self.program()?;
        let owned = program.take_link(link)?;
        match FdLink::try_from(owned) {
            Ok(fd_link) => {
                let pinned = fd_link.pin(pin).map_err(|source| DataplaneError::Pin {
                    path: pin.to_path_buf(),
                    source,
                })?;
                Ok(AttachedLink::Pinned(pinned))
            }
            // A netlink attachment cannot be pinned; it ends with the process.
            Err(_) => Err(DataplaneError::NotPinnable),
        }
    }

    /// Replaces the program of a crashed run's pinned attachment by this
    /// one, atomically (`bpf_link_update`): the interface never runs
    /// without XDP.
    pub(super) fn take_over(
        &mut self,
        pin: &Path,
        choice: XdpModeChoice,
    ) -> Result<(), DataplaneError> {
        let fd_link = PinnedLink::from_pin(pin)
            .map_err(|e| DataplaneError::TakeOver {
                path: pin.to_path_buf(),
                message: e.to_string(),
            })?
            .unpin()
            .map_err(|source| DataplaneError::PinDir {
                path: pin.to_path_buf(),
                source,
            })?;
        let info = fd_link.info().map_err(|e| DataplaneError::TakeOver {
            path: pin.to_path_buf(),
            message: e.to_string(),
        })?;
        let xdp_link = XdpLink::try_from(fd_link).map_err(|e| DataplaneError::TakeOver {
            path: pin.to_path_buf(),
            message: e.to_string(),
        })?;
        let program = self.program()?;
        let id = program.attach_to_link(xdp_link)?;
        let interface = pin
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(LINK_PIN_PREFIX))
            .unwrap_or_default()
            .to_string();
        let ifindex = nix::net::if_::if_nametoindex(interface.as_str())
            .map_err(|_| DataplaneError::UnknownInterface(interface.clone()))?;
        let link = self.hold(id, pin)?;
        tracing::info!(
            interface,
            ifindex,
            link = info.id(),
            "took over the XDP attachment of an earlier run"
        );
        let attachment = Attachment {
            mode: resolve_xdp_mode(&interface, choice).mode,
            interface,
            ifindex,
        };
        self.attachments.push((attachment, link));
        Ok(())
    }

    /// Claims the crashed run's attachment to `interface`, if there is one,
    /// for [`Dataplane::take_over_adopted`]; false when there is none (the
    /// program is then attached afresh).
    pub fn adopt(&mut self, interface: &str) -> bool {
        match self.inherited.remove(interface) {
            Some(pin) => {
                self.adopted.push(pin);
                true
            }
            None => false,
        }
    }

    /// Replaces the old program by this one on every adopted attachment.
    /// Called once the effects that wrote the maps have run: from then on
    /// every frame meets this run's policies and ownership.
    pub fn take_over_adopted(&mut self, choice: XdpModeChoice) {
        for pin in std::mem::take(&mut self.adopted) {
            if let Err(err) = self.take_over(&pin, choice) {
                tracing::warn!(pin = %pin.display(), error = %err, "the pinned attachment of an earlier run cannot be taken over; removing it");
                let _ = fs::remove_file(&pin);
            }
        }
    }

    /// Detaches the program from `interface` (no instance uses it any more)
    /// and removes the attachment's pin.
    pub fn detach(&mut self, interface: &str) -> Result<(), DataplaneError> {
        if let Some(pin) = self.inherited.remove(interface) {
            // The old program's attachment ends with its last reference.
            fs::remove_file(&pin).map_err(|source| DataplaneError::PinDir { path: pin, source })?;
            tracing::info!(interface, "the earlier run's XDP program detached");
            return Ok(());
        }
        let Some(pos) = self
            .attachments
            .iter()
            .position(|(a, _)| a.interface == interface)
        else {
            return Ok(());
        };
        let (_, link) = self.attachments.remove(pos);
        match link {
            AttachedLink::Process(id) => self.program()?.detach(id)?,
            AttachedLink::Pinned(pinned) => {
                drop(pinned.unpin().map_err(|source| DataplaneError::PinDir {
                    path: link_pin(&self.pin_dir, interface),
                    source,
                })?)
            }
        }
        tracing::info!(interface, "XDP program detached");
        Ok(())
    }

    /// The interface went away, and the attachment with it: drop its pin.
    pub fn forget(&mut self, interface: &str) {
        self.attachments.retain(|(a, _)| a.interface != interface);
        self.inherited.remove(interface);
        let _ = fs::remove_file(link_pin(&self.pin_dir, interface));
    }

    fn attach_mode(
        &mut self,
        ifindex: u32,
        mode: XdpModeChoice,
    ) -> Result<aya::programs::xdp::XdpLinkId, aya::programs::ProgramError> {
        let flags = match mode {
            XdpModeChoice::Native => XdpMode::Driver,
            XdpModeChoice::Skb => XdpMode::Skb,
            XdpModeChoice::Auto | XdpModeChoice::Off => XdpMode::Default,
        };
        let program: &mut Xdp = self
            .ebpf
            .program_mut(PROGRAM_NAME)
            .ok_or(aya::programs::ProgramError::NotLoaded)?
            .try_into()?;
        program.attach_to_if_index(ifindex, flags)
    }
}

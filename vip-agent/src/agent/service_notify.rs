//! Telling systemd how the agent is doing (`Type=notify`, sd_notify(3)'s
//! datagram protocol): `READY=1` once the fast path is settled and the
//! instances have their sockets, `STATUS=` with each instance's state
//! whenever one changes, `WATCHDOG=1` from the event loop's own progress
//! (a hung loop stops it, and systemd restarts the agent), `RELOADING=1`
//! around a reload and `STOPPING=1` when the handover to stop begins.
//!
//! What to say and when is decided by [`Announcer`] without I/O; the
//! [`ServiceNotifier`] sends it. Without `NOTIFY_SOCKET` (not started by
//! systemd) nothing is sent and nothing is decided.

use std::{
    ffi::OsStr,
    fmt::Write as _,
    io,
    os::unix::{
        ffi::OsStrExt,
        net::{SocketAddr, UnixDatagram},
    },
    time::Duration,
};

/// The variables systemd sets for a notify service. Taken out of the
/// process environment at start, so scripts the agent runs inherit none.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceEnvironment {
    pub notify_socket: Option<std::ffi::OsString>,
    pub watchdog_usec: Option<String>,
    pub watchdog_pid: Option<String>,
}

const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";
const WATCHDOG_USEC: &str = "WATCHDOG_USEC";
const WATCHDOG_PID: &str = "WATCHDOG_PID";

impl ServiceEnvironment {
    /// Reads and removes the variables (sd_notify's `unset_environment`).
    /// Call it before any thread starts: changing the environment races
    /// with threads reading it.
    pub fn take_from_process() -> Self {
        let taken = Self {
            notify_socket: std::env::var_os(NOTIFY_SOCKET),
            watchdog_usec: std::env::var(WATCHDOG_USEC).ok(),
            watchdog_pid: std::env::var(WATCHDOG_PID).ok(),
        };
        for name in [NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID] {
            std::env::remove_var(name);
        }
        taken
    }
}

/// Where `NOTIFY_SOCKET` points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotifyAddress {
    Path(std::path::PathBuf),
    /// `@name`: a Linux abstract socket, without the `@`.
    Abstract(Vec<u8>),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ServiceEnvError {
    #[error("NOTIFY_SOCKET={0:?} is neither an absolute path nor an abstract address (@name)")]
    NotifySocket(String),
    #[error("WATCHDOG_USEC={0:?} is not a positive number of microseconds")]
    WatchdogUsec(String),
    #[error("WATCHDOG_PID={0:?} is not a process id")]
    WatchdogPid(String),
}

/// `NOTIFY_SOCKET` as systemd sets it: an absolute path, or `@` and an
/// abstract name. (`vsock:` addresses of systemd 254+ are not supported.)
pub fn parse_notify_address(value: &OsStr) -> Result<NotifyAddress, ServiceEnvError> {
    let bytes = value.as_bytes();
    match bytes.first() {
        Some(b'/') => Ok(NotifyAddress::Path(value.into())),
        Some(b'@') if bytes.len() > 1 => Ok(NotifyAddress::Abstract(bytes[1..].to_vec())),
        _ => Err(ServiceEnvError::NotifySocket(
            value.to_string_lossy().into_owned(),
        )),
    }
}

/// The watchdog timeout systemd asks this process to honour, as
/// sd_watchdog_enabled(3) reads it: none without `WATCHDOG_USEC`, none when
/// `WATCHDOG_PID` names another process, an error for values that are not
/// numbers (or zero).
pub fn watchdog_timeout(
    usec: Option<&str>,
    pid: Option<&str>,
    own_pid: u32,
) -> Result<Option<Duration>, ServiceEnvError> {
    let Some(usec) = usec else {
        return Ok(None);
    };
    let timeout = match usec.trim().parse::<u64>() {
        Ok(0) | Err(_) => return Err(ServiceEnvError::WatchdogUsec(usec.to_string())),
        Ok(n) => Duration::from_micros(n),
    };
    if let Some(pid) = pid {
        match pid.trim().parse::<u32>() {
            Ok(p) if p > 0 && p == own_pid => {}
            Ok(p) if p > 0 => return Ok(None),
            _ => return Err(ServiceEnvError::WatchdogPid(pid.to_string())),
        }
    }
    Ok(Some(timeout))
}

/// Above this many instances `STATUS=` counts states instead of naming
/// every instance, so the line stays readable in `systemctl status`.
pub const STATUS_NAMES_UP_TO: usize = 8;

/// The order states are counted in when the status line counts them.
const STATE_ORDER: [&str; 6] = ["MASTER", "BACKUP", "FAULT", "INIT", "RESIGNING", "RESIGNED"];

/// "2 instances: VI_1 MASTER, VI_2 BACKUP"; past [`STATUS_NAMES_UP_TO`]
/// instances "12 instances: 5 MASTER, 7 BACKUP".
pub fn status_line<'a, 'b>(instances: impl Iterator<Item = (&'a str, &'b str)> + Clone) -> String {
    let count = instances.clone().count();
    let mut line = match count {
        0 => return "no instances".to_string(),
        1 => "1 instance: ".to_string(),
        n => format!("{n} instances: "),
    };
    if count <= STATUS_NAMES_UP_TO {
        let named: Vec<String> = instances
            .map(|(name, state)| format!("{name} {state}"))
            .collect();
        line.push_str(&named.join(", "));
        return line;
    }
    let mut counted: Vec<(&'b str, usize)> = Vec::new();
    for (_, state) in instances {
        match counted.iter_mut().find(|(s, _)| *s == state) {
            Some((_, n)) => *n += 1,
            None => counted.push((state, 1)),
        }
    }
    counted.sort_by_key(|(state, _)| {
        STATE_ORDER
            .iter()
            .position(|s| s == state)
            .unwrap_or(STATE_ORDER.len())
    });
    for (i, (state, n)) in counted.iter().enumerate() {
        let _ = write!(line, "{}{n} {state}", if i == 0 { "" } else { ", " });
    }
    line
}

/// What the agent is doing, as far as systemd is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phase {
    /// The XDP program still loads in the background (after a crash).
    pub fast_path_loading: bool,
    /// Sockets were asked for and not answered yet.
    pub sockets_pending: bool,
    /// The stop has begun (SIGTERM, SIGINT, `vip-agent stop`).
    pub stopping: bool,
}

impl Phase {
    /// Ready means: the fast path this run answers with is settled (loaded,
    /// or its load failed and the kernel path answers) and every instance
    /// that can start has its socket. An instance waiting for a missing
    /// interface does not hold readiness back: it may never appear.
    pub fn ready(&self) -> bool {
        !self.fast_path_loading && !self.sockets_pending
    }
}

/// Decides the notifications; holds what was said already.
#[derive(Debug)]
pub struct Announcer {
    ready_sent: bool,
    stopping_sent: bool,
    /// RELOADING=1 was sent; READY=1 follows after the reload's round.
    reloading: bool,
    /// Every instance's name and state when STATUS= was last sent.
    last_states: Option<Vec<(String, &'static str)>>,
    last_prefix: &'static str,
    /// Half the watchdog timeout, as sd_watchdog_enabled(3) advises.
    watchdog_period: Option<Duration>,
    next_watchdog: Duration,
}

impl Announcer {
    pub fn new(watchdog_timeout: Option<Duration>) -> Self {
        Self {
            ready_sent: false,
            stopping_sent: false,
            reloading: false,
            last_states: None,
            last_prefix: "",
            watchdog_period: watchdog_timeout.map(|t| t / 2),
            next_watchdog: Duration::ZERO,
        }
    }

    /// When the loop must wake up next for the watchdog, if it runs.
    pub fn next_watchdog(&self) -> Option<Duration> {
        self.watchdog_period.map(|_| self.next_watchdog)
    }

    /// The datagram to send after a round of the loop (at `now`), if
    /// anything is new: READY=1 the first time the phase is ready,
    /// STOPPING=1 once, STATUS= when an instance's state (or the phase)
    /// changed, WATCHDOG=1 when its period has passed.
    pub fn after_round<'a>(
        &mut self,
        phase: Phase,
        instances: impl Iterator<Item = (&'a str, &'static str)> + Clone,
        now: Duration,
    ) -> Option<String> {
        let mut message = String::new();
        if phase.stopping && !self.stopping_sent {
            self.stopping_sent = true;
            message.push_str("STOPPING=1\n");
        } else if !phase.stopping && (!self.ready_sent || self.reloading) && phase.ready() {
            self.ready_sent = true;
            self.reloading = false;
            message.push_str("READY=1\n");
        }
        let prefix = if phase.stopping {
            "stopping, handing over: "
        } else if phase.fast_path_loading {
            "loading the XDP program: "
        } else {
            ""
        };
        let same = prefix == self.last_prefix
            && self.last_states.as_ref().is_some_and(|last| {
                last.len() == instances.clone().count()
                    && last.iter().zip(instances.clone()).all(
                        |((name, state), (now_name, now_state))| {
                            name == now_name && *state == now_state
                        },
                    )
            });
        if !same {
            self.last_states = Some(instances.clone().map(|(n, s)| (n.to_string(), s)).collect());
            self.last_prefix = prefix;
            let _ = writeln!(message, "STATUS={prefix}{}", status_line(instances));
        }
        if let Some(period) = self.watchdog_period {
            if now >= self.next_watchdog {
                self.next_watchdog = now + period;
                message.push_str("WATCHDOG=1\n");
            }
        }
        (!message.is_empty()).then_some(message)
    }

    /// A reload begins: RELOADING=1 with the CLOCK_MONOTONIC time in
    /// microseconds (systemd 253 wants it for `Type=notify-reload`; 252
    /// ignores it). READY=1 follows in the round that carried the reload
    /// out, whether the file was applied or rejected: the agent runs on
    /// either way.
    pub fn reloading(&mut self, monotonic_usec: u64) -> String {
        self.reloading = true;
        format!("RELOADING=1\nMONOTONIC_USEC={monotonic_usec}\n")
    }
}

/// The socket to systemd and what to tell it; inert when the agent was not
/// started by systemd.
pub struct ServiceNotifier {
    socket: Option<(UnixDatagram, SocketAddr)>,
    announcer: Announcer,
}

impl ServiceNotifier {
    /// Connects to `NOTIFY_SOCKET`; a bad value or an unusable socket is
    /// logged and the agent runs without notifications.
    pub fn new(env: &ServiceEnvironment) -> Self {
        let inert = Self {
            socket: None,
            announcer: Announcer::new(None),
        };
        let Some(value) = &env.notify_socket else {
            return inert;
        };
        let socket = match parse_notify_address(value).and_then(|address| {
            open(&address).map_err(|err| {
                ServiceEnvError::NotifySocket(format!("{}: {err}", value.to_string_lossy()))
            })
        }) {
            Ok(socket) => socket,
            Err(err) => {
                tracing::warn!(error = %err, "not notifying systemd");
                return inert;
            }
        };
        let watchdog = match watchdog_timeout(
            env.watchdog_usec.as_deref(),
            env.watchdog_pid.as_deref(),
            std::process::id(),
        ) {
            Ok(timeout) => timeout,
            Err(err) => {
                tracing::warn!(error = %err, "no systemd watchdog");
                None
            }
        };
        tracing::info!(watchdog = ?watchdog, "notifying systemd");
        Self {
            socket: Some(socket),
            announcer: Announcer::new(watchdog),
        }
    }

    /// See [`Announcer::next_watchdog`]; `None` when not notifying.
    pub fn next_watchdog(&self) -> Option<Duration> {
        self.socket.as_ref()?;
        self.announcer.next_watchdog()
    }

    /// See [`Announcer::after_round`].
    pub fn after_round<'a>(
        &mut self,
        phase: Phase,
        instances: impl Iterator<Item = (&'a str, &'static str)> + Clone,
        now: Duration,
    ) {
        if self.socket.is_some() {
            let message = self.announcer.after_round(phase, instances, now);
            self.send(message);
        }
    }

    /// See [`Announcer::reloading`].
    pub fn reloading(&mut self) {
        if self.socket.is_some() {
            let usec = crate::dataplane::monotonic_ns() / 1000;
            let message = self.announcer.reloading(usec);
            self.send(Some(message));
        }
    }

    fn send(&self, message: Option<String>) {
        let (Some((socket, address)), Some(message)) = (&self.socket, message) else {
            return;
        };
        // Non-blocking: a busy manager costs a notification, never the loop.
        if let Err(err) = socket.send_to_addr(message.as_bytes(), address) {
            tracing::debug!(error = %err, message, "notifying systemd");
        }
    }
}

fn open(address: &NotifyAddress) -> io::Result<(UnixDatagram, SocketAddr)> {
    let address = match address {
        NotifyAddress::Path(path) => SocketAddr::from_pathname(path)?,
        NotifyAddress::Abstract(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name)?
        }
    };
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    Ok((socket, address))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STARTED: Phase = Phase {
        fast_path_loading: false,
        sockets_pending: false,
        stopping: false,
    };

    fn states(
        list: &'static [(&'static str, &'static str)],
    ) -> impl Iterator<Item = (&'static str, &'static str)> + Clone {
        list.iter().copied()
    }

    #[test]
    fn notify_socket_is_a_path_or_an_abstract_name() {
        assert_eq!(
            parse_notify_address(OsStr::new("/run/systemd/notify")),
            Ok(NotifyAddress::Path("/run/systemd/notify".into()))
        );
        assert_eq!(
            parse_notify_address(OsStr::new("@/org/freedesktop/systemd1/notify/123")),
            Ok(NotifyAddress::Abstract(
                b"/org/freedesktop/systemd1/notify/123".to_vec()
            ))
        );
        for bad in ["", "@", "relative/path", "vsock:2:1234"] {
            assert!(
                matches!(
                    parse_notify_address(OsStr::new(bad)),
                    Err(ServiceEnvError::NotifySocket(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn watchdog_follows_sd_watchdog_enabled() {
        let s = Duration::from_secs;
        assert_eq!(watchdog_timeout(None, None, 7), Ok(None));
        assert_eq!(watchdog_timeout(Some("5000000"), None, 7), Ok(Some(s(5))));
        assert_eq!(
            watchdog_timeout(Some("5000000"), Some("7"), 7),
            Ok(Some(s(5)))
        );
        // Meant for another process (the agent was started by a wrapper).
        assert_eq!(watchdog_timeout(Some("5000000"), Some("8"), 7), Ok(None));
        // Without WATCHDOG_USEC the pid says nothing.
        assert_eq!(watchdog_timeout(None, Some("7"), 7), Ok(None));
        for bad in ["0", "", "5s", "-1"] {
            assert_eq!(
                watchdog_timeout(Some(bad), None, 7),
                Err(ServiceEnvError::WatchdogUsec(bad.to_string()))
            );
        }
        assert_eq!(
            watchdog_timeout(Some("100"), Some("x"), 7),
            Err(ServiceEnvError::WatchdogPid("x".to_string()))
        );
        assert_eq!(
            watchdog_timeout(Some("100"), Some("0"), 7),
            Err(ServiceEnvError::WatchdogPid("0".to_string()))
        );
    }

    #[test]
    fn status_names_a_few_instances_and_counts_many() {
        assert_eq!(status_line(states(&[])), "no instances");
        assert_eq!(
            status_line(states(&[("VI_1", "MASTER")])),
            "1 instance: VI_1 MASTER"
        );
        assert_eq!(
            status_line(states(&[("VI_1", "MASTER"), ("VI_2", "BACKUP")])),
            "2 instances: VI_1 MASTER, VI_2 BACKUP"
        );
        static MANY: [(&str, &str); 10] = [
            ("a", "BACKUP"),
            ("b", "MASTER"),
            ("c", "FAULT"),
            ("d", "BACKUP"),
            ("e", "MASTER"),
            ("f", "INIT"),
            ("g", "BACKUP"),
            ("h", "RESIGNED"),
            ("i", "BACKUP"),
            ("j", "MASTER"),
        ];
        assert_eq!(
            status_line(MANY.iter().copied()),
            "10 instances: 3 MASTER, 4 BACKUP, 1 FAULT, 1 INIT, 1 RESIGNED"
        );
    }

    #[test]
    fn ready_once_the_fast_path_is_settled_and_the_sockets_are_open() {
        let mut announcer = Announcer::new(None);
        let loading = Phase {
            fast_path_loading: true,
            ..STARTED
        };
        let two = &[("VI_1", "BACKUP"), ("VI_2", "BACKUP")];
        assert_eq!(
            announcer.after_round(loading, states(two), Duration::ZERO),
            Some("STATUS=loading the XDP program: 2 instances: VI_1 BACKUP, VI_2 BACKUP\n".into())
        );
        let opening = Phase {
            sockets_pending: true,
            ..STARTED
        };
        assert_eq!(
            announcer.after_round(opening, states(two), Duration::ZERO),
            Some("STATUS=2 instances: VI_1 BACKUP, VI_2 BACKUP\n".into())
        );
        assert_eq!(
            announcer.after_round(STARTED, states(two), Duration::ZERO),
            Some("READY=1\n".into())
        );
        // Nothing new: nothing said.
        assert_eq!(
            announcer.after_round(STARTED, states(two), Duration::ZERO),
            None
        );
        let changed = &[("VI_1", "MASTER"), ("VI_2", "BACKUP")];
        assert_eq!(
            announcer.after_round(STARTED, states(changed), Duration::ZERO),
            Some("STATUS=2 instances: VI_1 MASTER, VI_2 BACKUP\n".into())
        );
    }

    #[test]
    fn first_round_ready_says_ready_and_status_together() {
        let mut announcer = Announcer::new(None);
        assert_eq!(
            announcer.after_round(STARTED, states(&[("VI_1", "BACKUP")]), Duration::ZERO),
            Some("READY=1\nSTATUS=1 instance: VI_1 BACKUP\n".into())
        );
    }

    #[test]
    fn watchdog_pings_at_half_the_timeout_only_when_the_loop_goes_round() {
        let ms = Duration::from_millis;
        let mut announcer = Announcer::new(Some(ms(1000)));
        let one = &[("VI_1", "BACKUP")];
        assert_eq!(announcer.next_watchdog(), Some(ms(0)));
        assert_eq!(
            announcer.after_round(STARTED, states(one), ms(0)),
            Some("READY=1\nSTATUS=1 instance: VI_1 BACKUP\nWATCHDOG=1\n".into())
        );
        assert_eq!(announcer.next_watchdog(), Some(ms(500)));
        assert_eq!(announcer.after_round(STARTED, states(one), ms(499)), None);
        assert_eq!(
            announcer.after_round(STARTED, states(one), ms(500)),
            Some("WATCHDOG=1\n".into())
        );
        // A round after a long stall pings once and schedules from now.
        assert_eq!(
            announcer.after_round(STARTED, states(one), ms(5000)),
            Some("WATCHDOG=1\n".into())
        );
        assert_eq!(announcer.next_watchdog(), Some(ms(5500)));
        assert_eq!(Announcer::new(None).next_watchdog(), None);
    }

    #[test]
    fn stopping_is_said_once_and_never_followed_by_ready() {
        let mut announcer = Announcer::new(None);
        let stopping = Phase {
            stopping: true,
            fast_path_loading: true,
            ..STARTED
        };
        let one = &[("VI_1", "RESIGNING")];
        assert_eq!(
            announcer.after_round(stopping, states(one), Duration::ZERO),
            Some("STOPPING=1\nSTATUS=stopping, handing over: 1 instance: VI_1 RESIGNING\n".into())
        );
        let settled = Phase {
            fast_path_loading: false,
            ..stopping
        };
        assert_eq!(
            announcer.after_round(settled, states(one), Duration::ZERO),
            None
        );
    }

    #[test]
    fn a_reload_is_bracketed_by_reloading_and_ready() {
        let mut announcer = Announcer::new(None);
        let one = &[("VI_1", "MASTER")];
        announcer.after_round(STARTED, states(one), Duration::ZERO);
        assert_eq!(
            announcer.reloading(1_234_567),
            "RELOADING=1\nMONOTONIC_USEC=1234567\n"
        );
        let two = &[("VI_1", "MASTER"), ("VI_2", "BACKUP")];
        assert_eq!(
            announcer.after_round(STARTED, states(two), Duration::ZERO),
            Some("READY=1\nSTATUS=2 instances: VI_1 MASTER, VI_2 BACKUP\n".into())
        );
        assert_eq!(
            announcer.after_round(STARTED, states(two), Duration::ZERO),
            None
        );
    }

    #[test]
    fn a_reload_before_ready_waits_for_readiness_and_a_stop_cancels_it() {
        let mut announcer = Announcer::new(None);
        let loading = Phase {
            fast_path_loading: true,
            ..STARTED
        };
        announcer.reloading(1);
        assert_eq!(
            announcer.after_round(loading, states(&[]), Duration::ZERO),
            Some("STATUS=loading the XDP program: no instances\n".into())
        );
        assert_eq!(
            announcer.after_round(STARTED, states(&[]), Duration::ZERO),
            Some("READY=1\nSTATUS=no instances\n".into())
        );
        announcer.reloading(2);
        let stopping = Phase {
            stopping: true,
            ..STARTED
        };
        assert_eq!(
            announcer.after_round(stopping, states(&[]), Duration::ZERO),
            Some("STOPPING=1\nSTATUS=stopping, handing over: no instances\n".into())
        );
        assert_eq!(
            announcer.after_round(stopping, states(&[]), Duration::ZERO),
            None
        );
    }

    #[test]
    fn notifications_reach_a_path_socket_and_an_abstract_one() {
        use std::os::linux::net::SocketAddrExt;
        let dir = std::env::temp_dir().join(format!("vip-agent-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify");
        let _ = std::fs::remove_file(&path);
        let by_path = UnixDatagram::bind(&path).unwrap();
        let name = format!("vip-agent-notify-test-{}", std::process::id());
        let by_name =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        for (receiver, value) in [
            (&by_path, path.clone().into_os_string()),
            (&by_name, format!("@{name}").into()),
        ] {
            receiver
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut notifier = ServiceNotifier::new(&ServiceEnvironment {
                notify_socket: Some(value),
                watchdog_usec: Some("2000000".into()),
                watchdog_pid: None,
            });
            assert_eq!(notifier.next_watchdog(), Some(Duration::ZERO));
            notifier.after_round(STARTED, states(&[("VI_1", "BACKUP")]), Duration::ZERO);
            let mut buf = [0u8; 256];
            let n = receiver.recv(&mut buf).unwrap();
            assert_eq!(
                std::str::from_utf8(&buf[..n]).unwrap(),
                "READY=1\nSTATUS=1 instance: VI_1 BACKUP\nWATCHDOG=1\n"
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn without_notify_socket_nothing_is_scheduled() {
        let notifier = ServiceNotifier::new(&ServiceEnvironment {
            notify_socket: None,
            watchdog_usec: Some("2000000".into()),
            watchdog_pid: None,
        });
        assert_eq!(notifier.next_watchdog(), None);
    }
}

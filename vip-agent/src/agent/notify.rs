//! keepalived-style notifications of state changes, of instances and of
//! sync groups: the `notify_master`, `notify_backup`, `notify_fault`,
//! `notify_stop` scripts run without arguments; `notify` runs with
//! `INSTANCE|GROUP <name> <MASTER|BACKUP|FAULT|STOP> <priority>` (0 for a
//! group); and the notify FIFOs ([`NotifyFifos`]) get one line per change,
//! `INSTANCE "VI_1" MASTER 100`, as keepalived 2.2.7 writes it. Scripts
//! run detached from the event loop; a failing script is logged, never
//! fatal, and a FIFO nobody reads never holds the loop up.

use std::{
    ffi::CString,
    fs::File,
    io::{ErrorKind, Write},
    os::unix::{ffi::OsStrExt, fs::FileTypeExt, fs::OpenOptionsExt},
    path::{Path, PathBuf},
    process::Stdio,
};

use nix::{sys::stat::Mode, unistd::Pid};

use super::run_as::{self, RunAs};
use crate::config::{Command, NotifyFifo, NotifyScripts, ScriptUser};

/// keepalived's names of the states (and the one event) a notification tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
    /// A reload removed the instance and it has `notify_deleted` (without
    /// it keepalived tells `FAULT`).
    Deleted,
    /// A Master heard a lower priority Master (a FIFO line only, as
    /// keepalived's `notify_master_rx_lower_pri` event).
    MasterRxLowerPri,
    /// The effective priority of a Master (`MASTER_PRIORITY`) or of an
    /// instance in any other state (`BACKUP_PRIORITY`) changed, with
    /// `notify_priority_changes` (a FIFO line only, as in keepalived).
    MasterPriority,
    BackupPriority,
}

impl NotifyState {
    pub fn keyword(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
            NotifyState::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            NotifyState::MasterPriority => "MASTER_PRIORITY",
            NotifyState::BackupPriority => "BACKUP_PRIORITY",
        }
    }

    /// A state change (not an event that leaves the state as it was).
    pub fn is_state(self) -> bool {
        matches!(
            self,
            NotifyState::Master | NotifyState::Backup | NotifyState::Fault | NotifyState::Stop
        )
    }
}

/// What changed state: an instance, or a sync group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotifyKind {
    Instance,
    Group,
}

impl NotifyKind {
    pub fn keyword(self) -> &'static str {
        match self {
            NotifyKind::Instance => "INSTANCE",
            NotifyKind::Group => "GROUP",
        }
    }
}

/// keepalived's FIFO line (`notify_fifo` in vrrp_notify.c):
/// `TYPE "NAME" STATE PRIORITY`, newline-terminated.
pub fn fifo_line(kind: NotifyKind, name: &str, state: NotifyState, priority: u8) -> String {
    format!(
        "{} \"{name}\" {} {priority}\n",
        kind.keyword(),
        state.keyword()
    )
}

/// `sh -c 'COMMAND "$@"' vip-agent-notify ARGS...`: the arguments are
/// handed over without a second round of word splitting.
fn shell(command: &Command, args: &[String]) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(format!("{} \"$@\"", command.command))
        .arg("vip-agent-notify")
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(false);
    cmd
}

fn spawn(command: &Command, default_user: Option<&ScriptUser>, args: &[String]) {
    let run_as = match run_as::for_script(
        command.user.as_deref(),
        command.group.as_deref(),
        default_user,
    ) {
        Ok(run_as) => run_as,
        Err(err) => {
            tracing::warn!(script = %command.command, error = %err, "not running the notify script");
            return;
        }
    };
    let mut cmd = shell(command, args);
    run_as::apply(&mut cmd, run_as);
    let script = command.command.clone();
    match cmd.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                match child.wait().await {
                    Ok(status) if !status.success() => {
                        tracing::warn!(script, %status, "notify script failed")
                    }
                    Err(err) => tracing::warn!(script, error = %err, "notify script"),
                    Ok(_) => {}
                }
            });
        }
        Err(err) => tracing::warn!(script, error = %err, "could not start notify script"),
    }
}

/// Runs the scripts configured for `state` of `name`, as `default_user`
/// (`script_user`) unless a script names its own user.
pub fn run(
    scripts: &NotifyScripts,
    default_user: Option<&ScriptUser>,
    kind: NotifyKind,
    name: &str,
    state: NotifyState,
    priority: u8,
) {
    let specific = match state {
        NotifyState::Master => &scripts.master,
        NotifyState::Backup => &scripts.backup,
        NotifyState::Fault => &scripts.fault,
        NotifyState::Stop => &scripts.stop,
        NotifyState::Deleted => &scripts.deleted,
        // keepalived's send_event_notify: its own script alone, no arguments.
        NotifyState::MasterRxLowerPri => {
            if let Some(command) = &scripts.master_rx_lower_pri {
                spawn(command, default_user, &[]);
            }
            return;
        }
        NotifyState::MasterPriority | NotifyState::BackupPriority => return,
    };
    if let Some(command) = specific {
        spawn(command, default_user, &[]);
    }
    if let Some(command) = &scripts.any {
        spawn(
            command,
            default_user,
            &[
                kind.keyword().to_string(),
                name.to_string(),
                state.keyword().to_string(),
                priority.to_string(),
            ],
        );
    }
}

/// The FIFOs and their reader scripts, as configured.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FifoSettings {
    pub fifos: Vec<NotifyFifo>,
    pub default_user: Option<ScriptUser>,
}

impl FifoSettings {
    pub fn of(global: &crate::config::GlobalDefs) -> Self {
        Self {
            fifos: global
                .notify_fifo
                .iter()
                .chain(&global.vrrp_notify_fifo)
                .cloned()
                .collect(),
            default_user: global.script_user.clone(),
        }
    }
}

/// One open FIFO. It is opened read-write and non-blocking, as keepalived
/// opens it: a write never waits for a reader, and lines written while
/// nobody reads wait in the pipe (64 KiB) for the next reader; past that
/// they are dropped and counted.
struct OpenFifo {
    config: NotifyFifo,
    path: PathBuf,
    file: File,
    /// The agent made it, so it removes it when done with it.
    created: bool,
    script: Option<tokio::process::Child>,
    dropped: u64,
}

/// The notify FIFOs the agent writes to.
#[derive(Default)]
pub struct NotifyFifos {
    open: Vec<OpenFifo>,
    settings: FifoSettings,
}

impl NotifyFifos {
    /// Takes the configuration in: a FIFO that stays as it was stays open
    /// (and its script running; one that has ended is started again), the
    /// others are closed, removed if the agent made them, and opened anew.
    pub fn configure(&mut self, settings: FifoSettings) {
        if settings == self.settings {
            for fifo in &mut self.open {
                fifo.restart_script_if_ended(&settings.default_user);
            }
            return;
        }
        let mut previous = std::mem::take(&mut self.open);
        for config in &settings.fifos {
            if let Some(pos) = previous.iter().position(|f| f.config == *config) {
                if self.settings.default_user == settings.default_user {
                    let mut fifo = previous.remove(pos);
                    fifo.restart_script_if_ended(&settings.default_user);
                    self.open.push(fifo);
                    continue;
                }
            }
            // The same path under another owner or script: let go of it first.
            if let Some(pos) = previous.iter().position(|f| f.config.path == config.path) {
                previous.remove(pos).close();
            }
            match OpenFifo::open(config, settings.default_user.as_ref()) {
                Ok(fifo) => self.open.push(fifo),
                Err(err) => {
                    tracing::warn!(fifo = %config.path, error = %err, "notify FIFO not used")
                }
            }
        }
        for fifo in previous {
            fifo.close();
        }
        self.settings = settings;
    }

    /// Writes one line to every FIFO.
    pub fn write(&mut self, line: &str) {
        for fifo in &mut self.open {
            fifo.write(line);
        }
    }

    /// Ends the reader scripts, as keepalived ends them when it stops
    /// (before it writes the STOP lines, which other readers still get).
    pub fn end_scripts(&mut self) {
        for fifo in &mut self.open {
            fifo.end_script();
        }
    }

    /// Closes every FIFO (removing the ones the agent made).
    pub fn close(&mut self) {
        for fifo in self.open.drain(..) {
            fifo.close();
        }
        self.settings = FifoSettings::default();
    }
}

impl OpenFifo {
    fn open(config: &NotifyFifo, default_user: Option<&ScriptUser>) -> Result<Self, String> {
        let path = PathBuf::from(&config.path);
        let created = make_fifo(&path, config)?;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|err| {
                if created {
                    let _ = std::fs::remove_file(&path);
                }
                format!("opening {}: {err}", path.display())
            })?;
        tracing::info!(fifo = %path.display(), created, "notify FIFO open");
        let mut fifo = OpenFifo {
            config: config.clone(),
            path,
            file,
            created,
            script: None,
            dropped: 0,
        };
        fifo.start_script(default_user);
        Ok(fifo)
    }

    /// keepalived starts the script with the FIFO's path as its last argument.
    fn start_script(&mut self, default_user: Option<&ScriptUser>) {
        let Some(script) = &self.config.script else {
            return;
        };
        let run_as = match run_as::for_script(
            script.user.as_deref(),
            script.group.as_deref(),
            default_user,
        ) {
            Ok(run_as) => run_as,
            Err(err) => {
                tracing::warn!(script = %script.command, error = %err, "not running the notify FIFO script");
                return;
            }
        };
        let mut cmd = shell(script, std::slice::from_ref(&self.config.path));
        run_as::apply(&mut cmd, run_as);
        // Its own process group: ended with whatever it started.
        cmd.process_group(0).kill_on_drop(false);
        match cmd.spawn() {
            Ok(child) => self.script = Some(child),
            Err(err) => {
                tracing::warn!(script = %script.command, error = %err, "could not start the notify FIFO script")
            }
        }
    }

    fn restart_script_if_ended(&mut self, default_user: &Option<ScriptUser>) {
        let ended = match &mut self.script {
            Some(child) => child.try_wait().ok().flatten().is_some(),
            None => true,
        };
        if ended {
            if let Some(child) = &mut self.script {
                if let Ok(Some(status)) = child.try_wait() {
                    tracing::info!(fifo = %self.path.display(), %status, "notify FIFO script ended; starting it again");
                }
            }
            self.script = None;
            self.start_script(default_user.as_ref());
        }
    }

    fn write(&mut self, line: &str) {
        // Lines are shorter than PIPE_BUF, so each goes in whole or not at all.
        match self.file.write(line.as_bytes()) {
            Ok(_) => {}
            Err(err) if err.kind() == ErrorKind::WouldBlock => {
                self.dropped += 1;
                // The first of a run of drops, then every hundredth.
                if self.dropped % 100 == 1 {
                    tracing::warn!(fifo = %self.path.display(), dropped = self.dropped, "notify FIFO is full (nobody reads it): line dropped");
                }
            }
            Err(err) => {
                tracing::warn!(fifo = %self.path.display(), error = %err, "writing to the notify FIFO")
            }
        }
    }

    fn end_script(&mut self) {
        let Some(mut child) = self.script.take() else {
            return;
        };
        if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::killpg(Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
        }
        // Reaped in the background; it is in a group of its own.
        tokio::spawn(async move {
            let _ = child.wait().await;
        });
    }

    fn close(mut self) {
        self.end_script();
        // Removed before it is closed, as keepalived does: a script that
        // opens the path again in a loop cannot open this one.
        if self.created {
            if let Err(err) = std::fs::remove_file(&self.path) {
                tracing::warn!(fifo = %self.path.display(), error = %err, "removing the notify FIFO");
            }
        }
        if self.dropped > 0 {
            tracing::warn!(fifo = %self.path.display(), dropped = self.dropped, "notify FIFO closed; lines were dropped while it was full");
        }
    }
}

/// Makes the FIFO when the path is free, owned by its `USER [GROUP]`;
/// returns whether it made it. A path that is there must be a FIFO
/// (keepalived would write into a plain file; the agent refuses to).
fn make_fifo(path: &Path, config: &NotifyFifo) -> Result<bool, String> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_fifo() => return Ok(false),
        Ok(_) => return Err(format!("{} exists and is not a FIFO", path.display())),
        Err(err) if err.kind() == ErrorKind::NotFound => {}
        Err(err) => return Err(format!("{}: {err}", path.display())),
    }
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| format!("{}: a path with a NUL byte", path.display()))?;
    // keepalived's mode (0644) under its umask (077): the owner's alone.
    nix::unistd::mkfifo(c_path.as_c_str(), Mode::S_IRUSR | Mode::S_IWUSR)
        .map_err(|err| format!("creating the FIFO {}: {err}", path.display()))?;
    if let Some(user) = &config.user {
        let owner = run_as::resolve(user, config.group.as_deref());
        let changed = owner.and_then(|RunAs { uid, gid }| {
            let own = run_as::own();
            let uid = (uid != own.uid).then_some(nix::unistd::Uid::from_raw(uid));
            let gid = (gid != own.gid).then_some(nix::unistd::Gid::from_raw(gid));
            nix::unistd::chown(path, uid, gid).map_err(|err| err.to_string())
        });
        if let Err(err) = changed {
            tracing::warn!(fifo = %path.display(), error = %err, "could not give the notify FIFO its owner");
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_keepalived_s() {
        assert_eq!(
            fifo_line(NotifyKind::Instance, "VI_1", NotifyState::Master, 100),
            "INSTANCE \"VI_1\" MASTER 100\n"
        );
        assert_eq!(
            fifo_line(NotifyKind::Group, "G", NotifyState::Backup, 0),
            "GROUP \"G\" BACKUP 0\n"
        );
        assert_eq!(
            fifo_line(
                NotifyKind::Instance,
                "VI_1",
                NotifyState::MasterRxLowerPri,
                150
            ),
            "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 150\n"
        );
        assert_eq!(
            fifo_line(
                NotifyKind::Instance,
                "VI_1",
                NotifyState::BackupPriority,
                90
            ),
            "INSTANCE \"VI_1\" BACKUP_PRIORITY 90\n"
        );
    }

    fn settings(path: &Path) -> FifoSettings {
        FifoSettings {
            fifos: vec![NotifyFifo {
                path: path.display().to_string(),
                user: Some("daemon".into()),
                group: Some("adm".into()),
                script: None,
            }],
            default_user: None,
        }
    }

    #[tokio::test]
    async fn a_fifo_nobody_reads_never_blocks_and_is_removed_when_made_here() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile_dir();
        let path = dir.join("notify.fifo");
        let mut fifos = NotifyFifos::default();
        fifos.configure(settings(&path));
        let meta = std::fs::symlink_metadata(&path).expect("made");
        assert!(meta.file_type().is_fifo());
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!((meta.uid(), meta.gid()), (1, 4), "USER GROUP own it");
        // Far more than the pipe holds: every write returns at once.
        let line = fifo_line(NotifyKind::Instance, "VI_1", NotifyState::Backup, 100);
        for _ in 0..10_000 {
            fifos.write(&line);
        }
        let dropped = fifos.open[0].dropped;
        assert!(dropped > 0 && dropped < 10_000, "{dropped}");
        fifos.close();
        assert!(!path.exists());
        // A path that is there and no FIFO is left alone.
        std::fs::write(&path, "data").unwrap();
        fifos.configure(settings(&path));
        assert!(fifos.open.is_empty());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "data");
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vip-agent-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}

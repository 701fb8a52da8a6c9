//! `track_file` and `vrrp_track_process` runners: each reports what it
//! observes (a file's integer, a process tracker's quorum) to the core,
//! which [`super::health`] turns into priority or fault.
//!
//! Files are watched with inotify on their directory (close after write,
//! delete, rename), as keepalived watches them, so a change applies at once.
//!
//! Processes: keepalived learns of process starts and exits from the netlink
//! process connector, which the kernel serves only to the initial network
//! namespace. The agent runs inside network namespaces (tests, containers),
//! so it does not use it: it scans `/proc` at start, holds a pidfd for every
//! matching process (readable when that process exits, so an exit is seen
//! at once, in any namespace), and scans `/proc` again every
//! [`RESCAN_INTERVAL`] for processes that started since.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    ffi::OsString,
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd},
    path::{Path, PathBuf},
    time::Duration,
};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use tokio::{
    io::{unix::AsyncFd, Interest},
    sync::mpsc,
    task::JoinHandle,
    time::Instant,
};

use crate::config::{TrackFile, TrackProcess};

/// How often `/proc` is scanned again for processes that started.
pub const RESCAN_INTERVAL: Duration = Duration::from_secs(1);

/// What a tracker runner observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrackerReport {
    /// The integer a `track_file` now holds.
    File { name: String, value: i64 },
    /// Whether a `vrrp_track_process` has its quorum (after its delays).
    Process { name: String, up: bool },
}

/// The integer in a track file's first bytes, read as keepalived 2.2.7
/// reads it (C `strtol` with base 0: leading blanks, a sign, `0x` hex,
/// `0` octal, anything after the number ignored, no number at all is 0).
/// `None`: a number outside -2^31..=2^31, which keepalived ignores (the
/// previous value stays).
pub fn file_value(bytes: &[u8]) -> Option<i64> {
    let text = &bytes[..bytes.len().min(127)];
    let mut rest = text
        .iter()
        .position(|b| !b" \t\n\r\x0b\x0c".contains(b))
        .map_or(&text[text.len()..], |start| &text[start..]);
    let negative = match rest.first() {
        Some(b'-') => {
            rest = &rest[1..];
            true
        }
        Some(b'+') => {
            rest = &rest[1..];
            false
        }
        _ => false,
    };
    let (radix, digits) = match rest {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, &rest[2..]),
        [b'0', ..] => (8, rest),
        _ => (10, rest),
    };
    let mut value: i64 = 0;
    for byte in digits {
        let Some(digit) = char::from(*byte).to_digit(radix) else {
            break;
        };
        value = value
            .checked_mul(i64::from(radix))
            .and_then(|v| v.checked_add(i64::from(digit)))?;
    }
    let value = if negative { -value } else { value };
    (i64::from(i32::MIN)..=i64::from(i32::MAX) + 1)
        .contains(&value)
        .then_some(value)
}

/// Reads a track file: a missing or unreadable file counts as 0.
fn read_file_value(path: &Path) -> Option<i64> {
    use std::io::Read;
    let mut buf = [0u8; 127];
    let Ok(mut file) = std::fs::File::open(path) else {
        return Some(0);
    };
    match file.read(&mut buf) {
        Ok(len) => file_value(&buf[..len]),
        Err(_) => Some(0),
    }
}

/// `init_file`: writes the value when the file is missing, or with
/// `overwrite` also over a regular file that exists (not on a reload).
pub fn init_file(file: &TrackFile, reload: bool) {
    let Some(init) = file.init else {
        return;
    };
    let path = Path::new(&file.path);
    match std::fs::metadata(path) {
        Ok(_) if !init.overwrite || reload => return,
        Ok(meta) if !meta.is_file() => {
            tracing::warn!(track_file = %file.name, path = %file.path, "init_file: not a regular file; left alone");
            return;
        }
        _ => {}
    }
    if let Err(err) = std::fs::write(path, format!("{}\n", init.value)) {
        tracing::warn!(track_file = %file.name, path = %file.path, error = %err, "init_file: could not write the file");
    }
}

/// Watches `files` and reports each one's value at start and on every change.
pub fn spawn_file_trackers(
    files: Vec<TrackFile>,
    reload: bool,
    reports: mpsc::Sender<TrackerReport>,
) -> Option<JoinHandle<()>> {
    if files.is_empty() {
        return None;
    }
    for file in &files {
        init_file(file, reload);
    }
    Some(tokio::spawn(async move {
        if let Err(err) = watch_files(&files, &reports).await {
            tracing::warn!(error = %err, "track_file: watching the files stopped");
        }
    }))
}

struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

async fn watch_files(
    files: &[TrackFile],
    reports: &mpsc::Sender<TrackerReport>,
) -> anyhow::Result<()> {
    let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    let flags = AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVE;
    // Watch descriptor -> (file name in the directory, tracker index).
    let mut watched: HashMap<i32, Vec<(OsString, usize)>> = HashMap::new();
    for (index, file) in files.iter().enumerate() {
        let path = resolved(Path::new(&file.path));
        let dir = match path.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let Some(name) = path.file_name() else {
            tracing::warn!(track_file = %file.name, path = %file.path, "not a file path; counts as 0");
            continue;
        };
        match inotify.add_watch(&dir, flags) {
            Ok(wd) => watched
                .entry(wd.as_raw())
                .or_default()
                .push((name.to_os_string(), index)),
            Err(err) => {
                tracing::warn!(track_file = %file.name, dir = %dir.display(), error = %err, "cannot watch the file's directory; counts as 0");
            }
        }
    }
    let mut last: Vec<Option<i64>> = vec![None; files.len()];
    for (index, file) in files.iter().enumerate() {
        let value = read_file_value(Path::new(&file.path)).unwrap_or(0);
        report_file(files, index, value, &mut last, reports).await;
    }
    // SAFETY: the inotify descriptor is owned by the AsyncFd from here on
    // and always reports the same descriptor.
    let fd = unsafe { AsyncFd::register_with_interest(InotifyFd(inotify), Interest::READABLE) }
        .map_err(|e| anyhow::anyhow!("registering the inotify descriptor: {e}"))?;
    loop {
        let mut guard = fd.readable().await?;
        let events = match guard.get_inner().0.read_events() {
            Ok(events) => events,
            Err(nix::errno::Errno::EAGAIN) => {
                guard.clear_ready();
                continue;
            }
            Err(err) => return Err(err.into()),
        };
        for event in events {
            if event.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                // Events were lost: read every file again.
                for (index, file) in files.iter().enumerate() {
                    if let Some(value) = read_file_value(&resolved(Path::new(&file.path))) {
                        report_file(files, index, value, &mut last, reports).await;
                    }
                }
                continue;
            }
            if event.mask.contains(AddWatchFlags::IN_ISDIR) {
                continue;
            }
            let Some(name) = &event.name else {
                continue;
            };
            let Some(entries) = watched.get(&event.wd.as_raw()) else {
                continue;
            };
            let gone = event
                .mask
                .intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM);
            for (file_name, index) in entries.clone() {
                if file_name != *name {
                    continue;
                }
                // A file that went away counts as 0, as in keepalived.
                let value = if gone {
                    Some(0)
                } else {
                    read_file_value(&resolved(Path::new(&files[index].path)))
                };
                match value {
                    Some(value) => report_file(files, index, value, &mut last, reports).await,
                    None => {
                        tracing::info!(track_file = %files[index].name, "the number read is out of range; ignored")
                    }
                }
            }
        }
    }
}

/// The path with its symbolic links resolved, as keepalived resolves it
/// (the file's, or when it does not exist yet its directory's), so the
/// directory watched is the one the file really is in.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(real) = std::fs::canonicalize(path) {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => std::fs::canonicalize(dir)
            .map(|dir| dir.join(name))
            .unwrap_or_else(|_| path.to_path_buf()),
        _ => path.to_path_buf(),
    }
}

async fn report_file(
    files: &[TrackFile],
    index: usize,
    value: i64,
    last: &mut [Option<i64>],
    reports: &mpsc::Sender<TrackerReport>,
) {
    if last[index] == Some(value) {
        return;
    }
    last[index] = Some(value);
    tracing::info!(track_file = %files[index].name, value, "track_file value");
    let _ = reports
        .send(TrackerReport::File {
            name: files[index].name.clone(),
            value,
        })
        .await;
}

/// A process tracker's quorum as reported, with `fork_delay` /
/// `terminate_delay` applied: a change counts once it has lasted the delay
/// (a change back within it cancels it). The first count is reported at once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QuorumFilter {
    reported: Option<bool>,
    /// The quorum the count gives and when it will count.
    pending: Option<(bool, Duration)>,
}

impl QuorumFilter {
    /// Takes in the number of matching processes at `now`; what to report.
    pub fn update(&mut self, tracker: &TrackProcess, count: usize, now: Duration) -> Option<bool> {
        let up = tracker.has_quorum(count);
        let Some(reported) = self.reported else {
            self.reported = Some(up);
            return Some(up);
        };
        if up == reported {
            self.pending = None;
            return None;
        }
        let delay_us = if up {
            tracker.fork_delay_us
        } else {
            tracker.terminate_delay_us
        };
        if delay_us == 0 {
            self.pending = None;
            self.reported = Some(up);
            return Some(up);
        }
        if self.pending.is_none() {
            self.pending = Some((up, now + Duration::from_micros(delay_us)));
        }
        None
    }

    /// When a pending change will count.
    pub fn deadline(&self) -> Option<Duration> {
        self.pending.map(|(_, at)| at)
    }

    /// The pending change, once its delay is over.
    pub fn poll(&mut self, now: Duration) -> Option<bool> {
        match self.pending {
            Some((up, at)) if at <= now => {
                self.pending = None;
                self.reported = Some(up);
                Some(up)
            }
            _ => None,
        }
    }
}

/// One process as `/proc` shows it.
struct ProcessInfo {
    comm: String,
    argv: Vec<String>,
}

/// `/proc/PID/stat`'s name and state, `/proc/PID/cmdline`'s words (read
/// only when `cmdline`); `None` for a zombie or a process that went away.
fn process_info(pid: i32, cmdline: bool) -> Option<ProcessInfo> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    let stat = String::from_utf8_lossy(&stat);
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    if stat.get(close + 2..close + 3) == Some("Z") {
        return None;
    }
    let argv = if cmdline {
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let raw = raw.strip_suffix(&[0]).unwrap_or(&raw);
        if raw.is_empty() {
            Vec::new()
        } else {
            raw.split(|b| *b == 0)
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect()
        }
    } else {
        Vec::new()
    };
    Some(ProcessInfo { comm, argv })
}

/// The pids of `/proc` matching each tracker (by index).
fn scan(trackers: &[TrackProcess]) -> Vec<BTreeSet<i32>> {
    let cmdline = trackers
        .iter()
        .any(|t| t.full_command || t.param_match.is_some());
    let mut found = vec![BTreeSet::new(); trackers.len()];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Some(info) = process_info(pid, cmdline) else {
            continue;
        };
        let argv: Vec<&str> = info.argv.iter().map(String::as_str).collect();
        for (index, tracker) in trackers.iter().enumerate() {
            if tracker.matches(&info.comm, &argv) {
                found[index].insert(pid);
            }
        }
    }
    found
}

/// A pidfd: readable once its process has exited.
fn pidfd_open(pid: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the descriptor was just created and is owned by nothing else.
    let fd = RawFd::try_from(fd).map_err(|_| std::io::Error::other("pidfd out of range"))?;
    // SAFETY: the descriptor was just created and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Counts the processes of `trackers` and reports each one's quorum.
pub fn spawn_process_trackers(
    trackers: Vec<TrackProcess>,
    reports: mpsc::Sender<TrackerReport>,
) -> Option<JoinHandle<()>> {
    if trackers.is_empty() {
        return None;
    }
    Some(tokio::spawn(track_processes(trackers, reports)))
}

async fn track_processes(trackers: Vec<TrackProcess>, reports: mpsc::Sender<TrackerReport>) {
    let epoch = Instant::now();
    let (exit_tx, mut exit_rx) = mpsc::unbounded_channel::<i32>();
    // Every process some tracker counts, with the task awaiting its exit.
    let mut watching: BTreeMap<i32, JoinHandle<()>> = BTreeMap::new();
    let mut members: Vec<BTreeSet<i32>> = vec![BTreeSet::new(); trackers.len()];
    let mut filters: Vec<QuorumFilter> = vec![QuorumFilter::default(); trackers.len()];
    let mut rescan = tokio::time::interval(RESCAN_INTERVAL);
    rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let deadline = filters.iter().filter_map(QuorumFilter::deadline).min();
        let sleep_until = deadline.map_or(epoch + Duration::from_secs(86400 * 365), |d| epoch + d);
        tokio::select! {
            _ = rescan.tick() => {
                let found = scan(&trackers);
                for pid in found.iter().flatten() {
                    if watching.contains_key(pid) {
                        continue;
                    }
                    match watch_exit(*pid, exit_tx.clone()) {
                        Some(task) => {
                            watching.insert(*pid, task);
                        }
                        // Gone already, or no pidfd: the next scan decides.
                        None => continue,
                    }
                }
                members = found
                    .into_iter()
                    .map(|set| set.into_iter().filter(|p| watching.contains_key(p)).collect())
                    .collect();
                let counted: BTreeSet<i32> = members.iter().flatten().copied().collect();
                watching.retain(|pid, task| {
                    let keep = counted.contains(pid);
                    if !keep {
                        task.abort();
                    }
                    keep
                });
            }
            Some(pid) = exit_rx.recv() => {
                watching.remove(&pid);
                for set in &mut members {
                    set.remove(&pid);
                }
            }
            _ = tokio::time::sleep_until(sleep_until) => {}
        }
        let now = epoch.elapsed();
        for (index, tracker) in trackers.iter().enumerate() {
            let count = members[index].len();
            let change = filters[index]
                .update(tracker, count, now)
                .or_else(|| filters[index].poll(now));
            if let Some(up) = change {
                tracing::info!(track_process = %tracker.name, processes = count, quorum = up, "track_process quorum");
                if reports
                    .send(TrackerReport::Process {
                        name: tracker.name.clone(),
                        up,
                    })
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// A task that sends `pid` once that process exits.
fn watch_exit(pid: i32, exits: mpsc::UnboundedSender<i32>) -> Option<JoinHandle<()>> {
    let fd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(err) => {
            if err.raw_os_error() != Some(libc::ESRCH) {
                tracing::warn!(pid, error = %err, "track_process: no pidfd for the process");
            }
            return None;
        }
    };
    // SAFETY: the pidfd is owned by the AsyncFd from here on; an OwnedFd
    // always reports the same descriptor.
    let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }.ok()?;
    Some(tokio::spawn(async move {
        let _ = fd.readable().await;
        let _ = exits.send(pid);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ParamMatch;

    #[test]
    fn file_values_are_read_as_strtol_reads_them() {
        assert_eq!(file_value(b"5\n"), Some(5));
        assert_eq!(file_value(b"  -12 apples"), Some(-12));
        assert_eq!(file_value(b"+7"), Some(7));
        assert_eq!(file_value(b"0x1f"), Some(31));
        assert_eq!(file_value(b"010"), Some(8), "a leading 0 is octal");
        assert_eq!(file_value(b"09"), Some(0), "9 is no octal digit");
        assert_eq!(file_value(b"0x"), Some(0));
        assert_eq!(file_value(b""), Some(0));
        assert_eq!(file_value(b"abc"), Some(0));
        assert_eq!(file_value(b"2147483648"), Some(2_147_483_648));
        assert_eq!(file_value(b"-2147483648"), Some(-2_147_483_648));
        assert_eq!(file_value(b"2147483649"), None, "out of range: ignored");
        assert_eq!(file_value(b"-99999999999999999999999"), None);
    }

    fn tracker(quorum: u32, quorum_max: u32, fork_us: u64, terminate_us: u64) -> TrackProcess {
        TrackProcess {
            name: "p".into(),
            process: "sleep".into(),
            params: Vec::new(),
            param_match: None,
            full_command: false,
            weight: 0,
            weight_reverse: false,
            quorum,
            quorum_max,
            fork_delay_us: fork_us,
            terminate_delay_us: terminate_us,
        }
    }

    #[test]
    fn quorum_is_between_quorum_and_quorum_max() {
        let t = tracker(2, 3, 0, 0);
        assert!(!t.has_quorum(1));
        assert!(t.has_quorum(2) && t.has_quorum(3));
        assert!(!t.has_quorum(4), "more than quorum_max");
        let none_may_run = tracker(0, 0, 0, 0);
        assert!(none_may_run.has_quorum(0) && !none_may_run.has_quorum(1));
        assert!(tracker(1, u32::MAX, 0, 0).has_quorum(100_000));
    }

    #[test]
    fn the_quorum_filter_waits_out_the_delays() {
        let t = tracker(1, u32::MAX, 2_000_000, 1_000_000);
        let mut f = QuorumFilter::default();
        let s = Duration::from_secs;
        assert_eq!(f.update(&t, 1, s(0)), Some(true), "the first count at once");
        assert_eq!(f.update(&t, 0, s(10)), None);
        assert_eq!(f.deadline(), Some(s(11)));
        assert_eq!(f.poll(s(10)), None);
        assert_eq!(f.poll(s(11)), Some(false), "lost after terminate_delay");
        assert_eq!(f.update(&t, 1, s(20)), None);
        assert_eq!(f.update(&t, 0, s(21)), None, "back within the delay");
        assert_eq!(f.deadline(), None, "cancels the change");
        assert_eq!(f.update(&t, 2, s(30)), None);
        assert_eq!(f.poll(s(32)), Some(true), "gained after fork_delay");
        let no_delay = tracker(1, u32::MAX, 0, 0);
        let mut f = QuorumFilter::default();
        assert_eq!(f.update(&no_delay, 0, s(0)), Some(false));
        assert_eq!(f.update(&no_delay, 0, s(1)), None, "no change, nothing");
        assert_eq!(f.update(&no_delay, 3, s(2)), Some(true));
    }

    fn by_params(process: &str, params: &[&str], mode: Option<ParamMatch>) -> TrackProcess {
        TrackProcess {
            process: process.into(),
            params: params.iter().map(|p| p.to_string()).collect(),
            param_match: mode,
            full_command: true,
            ..tracker(1, u32::MAX, 0, 0)
        }
    }

    #[test]
    fn processes_match_by_name_or_command_line() {
        let by_name = tracker(1, u32::MAX, 0, 0);
        assert!(by_name.matches("sleep", &[]));
        assert!(!by_name.matches("sleepy", &[]), "exact, not a pattern");
        let full = TrackProcess {
            param_match: None,
            ..by_params("/bin/sleep", &[], None)
        };
        assert!(
            full.matches("sleep", &["/bin/sleep", "1000"]),
            "any parameters"
        );
        assert!(
            !full.matches("sleep", &["sleep", "1000"]),
            "argv[0] compared"
        );

        let exact = by_params("sleep", &["1000", "x"], Some(ParamMatch::Exact));
        assert!(exact.matches("sleep", &["sleep", "1000", "x"]));
        assert!(!exact.matches("sleep", &["sleep", "1000"]));
        assert!(!exact.matches("sleep", &["sleep", "1000", "x", "y"]));
        assert!(!exact.matches("sleep", &["sleep", "1000", "xy"]));
        let no_params = by_params("sleep", &[], Some(ParamMatch::Exact));
        assert!(no_params.matches("sleep", &["sleep"]));
        assert!(!no_params.matches("sleep", &["sleep", "1"]));

        let partial = by_params("sleep", &["1000"], Some(ParamMatch::Partial));
        assert!(partial.matches("sleep", &["sleep", "1000", "more"]));
        assert!(!partial.matches("sleep", &["sleep", "10000"]));
        assert!(!partial.matches("sleep", &["sleep"]));

        let initial = by_params("sleep", &["a", "10"], Some(ParamMatch::Initial));
        assert!(
            initial.matches("sleep", &["sleep", "a", "1000"]),
            "last one a prefix"
        );
        assert!(initial.matches("sleep", &["sleep", "a", "10", "more"]));
        assert!(
            !initial.matches("sleep", &["sleep", "ab", "10"]),
            "others exact"
        );
        assert!(!initial.matches("sleep", &["sleep", "a"]));
    }

    async fn next_report(rx: &mut mpsc::Receiver<TrackerReport>) -> TrackerReport {
        tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("a report within 20 s")
            .expect("the runner is running")
    }

    fn file_report(name: &str, value: i64) -> TrackerReport {
        TrackerReport::File {
            name: name.into(),
            value,
        }
    }

    /// Real inotify on a real directory: every write, removal and rename
    /// is reported; `init_file` creates a missing file.
    #[tokio::test]
    async fn a_watched_file_reports_each_change() {
        let dir = std::env::temp_dir().join(format!("vip-agent-track-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("weight");
        let created = dir.join("created");
        std::fs::write(&path, "3\n").unwrap();
        let file = |name: &str, path: &Path, init| TrackFile {
            name: name.into(),
            path: path.display().to_string(),
            weight: 1,
            weight_reverse: false,
            init,
        };
        let files = vec![
            file("w", &path, None),
            file(
                "c",
                &created,
                Some(crate::config::TrackFileInit {
                    value: 7,
                    overwrite: false,
                }),
            ),
        ];
        let (tx, mut rx) = mpsc::channel(16);
        let task = spawn_file_trackers(files, false, tx).unwrap();
        assert_eq!(next_report(&mut rx).await, file_report("w", 3));
        assert_eq!(next_report(&mut rx).await, file_report("c", 7));
        assert_eq!(std::fs::read_to_string(&created).unwrap(), "7\n");
        std::fs::write(&path, "-5").unwrap();
        assert_eq!(next_report(&mut rx).await, file_report("w", -5));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(next_report(&mut rx).await, file_report("w", 0));
        let staged = dir.join("staged");
        std::fs::write(&staged, "0x10").unwrap();
        std::fs::rename(&staged, &path).unwrap();
        assert_eq!(next_report(&mut rx).await, file_report("w", 16));
        task.abort();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A track file that is a symbolic link is watched where its target is.
    #[tokio::test]
    async fn a_linked_file_is_watched_in_its_targets_directory() {
        let dir = std::env::temp_dir().join(format!("vip-agent-track-link-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("real")).unwrap();
        let target = dir.join("real/value");
        std::fs::write(&target, "1").unwrap();
        let link = dir.join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let file = TrackFile {
            name: "l".into(),
            path: link.display().to_string(),
            weight: 1,
            weight_reverse: false,
            init: None,
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = spawn_file_trackers(vec![file], false, tx).unwrap();
        assert_eq!(next_report(&mut rx).await, file_report("l", 1));
        std::fs::write(&target, "4").unwrap();
        assert_eq!(next_report(&mut rx).await, file_report("l", 4));
        task.abort();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn init_file_overwrites_only_when_asked_and_not_on_a_reload() {
        let dir = std::env::temp_dir().join(format!("vip-agent-init-file-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f");
        std::fs::write(&path, "1\n").unwrap();
        let mut file = TrackFile {
            name: "f".into(),
            path: path.display().to_string(),
            weight: 1,
            weight_reverse: false,
            init: Some(crate::config::TrackFileInit {
                value: 9,
                overwrite: false,
            }),
        };
        init_file(&file, false);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "1\n",
            "exists: left alone"
        );
        file.init = Some(crate::config::TrackFileInit {
            value: 9,
            overwrite: true,
        });
        init_file(&file, true);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "1\n",
            "not on a reload"
        );
        init_file(&file, false);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "9\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// Real processes: a `sleep` with a distinctive parameter is counted,
    /// its exit seen through its pidfd, a new one found by the rescan.
    #[tokio::test]
    async fn a_tracked_process_exit_and_return_are_reported() {
        let marker = format!("{}.{}", 100_000 + std::process::id(), 7);
        let start = || {
            std::process::Command::new("sleep")
                .arg(&marker)
                .spawn()
                .expect("sleep starts")
        };
        let mut first = start();
        let tracker = TrackProcess {
            name: "p".into(),
            params: vec![marker.clone()],
            param_match: Some(ParamMatch::Exact),
            full_command: true,
            ..tracker(1, u32::MAX, 0, 0)
        };
        let (tx, mut rx) = mpsc::channel(16);
        let task = spawn_process_trackers(vec![tracker], tx).unwrap();
        let up = |up| TrackerReport::Process {
            name: "p".into(),
            up,
        };
        assert_eq!(next_report(&mut rx).await, up(true));
        first.kill().unwrap();
        first.wait().unwrap();
        assert_eq!(next_report(&mut rx).await, up(false));
        let mut second = start();
        assert_eq!(next_report(&mut rx).await, up(true));
        second.kill().unwrap();
        second.wait().unwrap();
        assert_eq!(next_report(&mut rx).await, up(false));
        task.abort();
    }
}

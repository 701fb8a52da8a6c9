//! The client's view of an outage: `ping` at a fixed interval with kernel
//! timestamps (`-D`); the outage is the longest gap between two answered
//! probes. Bounded: ping stops by itself after `max_duration` worth of
//! probes, so a forgotten probe cannot run for ever.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader},
    net::IpAddr,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex, MutexGuard},
    thread::JoinHandle,
    time::Duration,
};

use crate::{Error, Result};

/// A running `ping`.
#[derive(Debug)]
pub struct Probe {
    child: Child,
    reader: Option<JoinHandle<()>>,
    state: Arc<Mutex<ProbeState>>,
}

#[derive(Debug, Default)]
struct ProbeState {
    /// (icmp_seq, kernel timestamp in s) of each reply, in arrival order.
    replies: Vec<(u64, f64)>,
    /// Highest icmp_seq ping mentioned (it sent at least this many).
    sent: u64,
    /// icmp_seq ping reported unanswered when it sent the next probe (`-O`)
    /// and that got no late answer.
    unanswered: BTreeSet<u64>,
}

impl ProbeState {
    /// Takes one line of `ping -D -O` output.
    fn read_line(&mut self, line: &str) {
        // "[1732190000.123456] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=0.05 ms"
        // "[1732190000.133456] no answer yet for icmp_seq=2"
        let Some(seq) = seq_of(line) else {
            return;
        };
        self.sent = self.sent.max(seq);
        if line.contains("no answer yet") {
            self.unanswered.insert(seq);
        } else if line.contains("bytes from") {
            let stamp = line
                .strip_prefix('[')
                .and_then(|l| l.split(']').next())
                .and_then(|s| s.parse::<f64>().ok());
            if let Some(stamp) = stamp {
                self.replies.push((seq, stamp));
                self.unanswered.remove(&seq);
            }
        }
    }

    /// Probes sent whose icmp_seq got no answer (a duplicated answer counts
    /// once). Probes ping never mentioned (the last, if still in flight) are
    /// not counted as sent.
    fn lost(&self) -> u64 {
        let answered: BTreeSet<u64> = self.replies.iter().map(|&(seq, _)| seq).collect();
        self.sent.saturating_sub(answered.len() as u64)
    }

    /// Probe numbers in `first..=last` that got no answer (yet).
    fn unanswered_in(&self, first: u64, last: u64) -> Vec<u64> {
        let answered: BTreeSet<u64> = self.replies.iter().map(|&(seq, _)| seq).collect();
        (first..=last)
            .filter(|seq| !answered.contains(seq))
            .collect()
    }

    /// Longest gap between consecutive replies, counting from the reply
    /// just before reply number `from` (so the gap that `from` ends counts).
    fn longest_gap_since(&self, from: usize) -> Duration {
        let start = from.saturating_sub(1).min(self.replies.len());
        let gap = self.replies[start..]
            .windows(2)
            .map(|w| w[1].1 - w[0].1)
            .fold(0.0f64, f64::max);
        Duration::from_secs_f64(gap)
    }
}

fn seq_of(line: &str) -> Option<u64> {
    line.split("icmp_seq=")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

impl Probe {
    /// Starts `ping` (`ping` is the command to run it with, e.g.
    /// [`crate::Netns::command`]`("ping")` of the client) to `target`, one
    /// probe every `interval`, at most `max_duration` worth of them.
    pub fn start(
        mut ping: Command,
        target: IpAddr,
        interval: Duration,
        max_duration: Duration,
    ) -> Result<Self> {
        let count = (max_duration.as_micros() / interval.as_micros().max(1)).max(1);
        ping.args(["-n", "-D", "-O", "-W", "1", "-i"])
            .arg(format!("{}", interval.as_secs_f64()))
            .arg("-c")
            .arg(count.to_string())
            .arg(target.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = ping.spawn().map_err(|source| Error::Start {
            command: format!("{ping:?}"),
            source,
        })?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Output {
                command: format!("{ping:?}"),
                detail: "no stdout".into(),
            });
        };
        let state = Arc::new(Mutex::new(ProbeState::default()));
        let sink = state.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                lock(&sink).read_line(&line);
            }
        });
        Ok(Self {
            child,
            reader: Some(reader),
            state,
        })
    }

    /// Probes answered so far.
    pub fn answered(&self) -> usize {
        lock(&self.state).replies.len()
    }

    /// Probes sent so far (at least).
    pub fn sent(&self) -> u64 {
        lock(&self.state).sent
    }

    /// Probes sent so far that got no answer (see `sent`; duplicates of an
    /// answer count once).
    pub fn lost(&self) -> u64 {
        lock(&self.state).lost()
    }

    /// Probes ping gave up waiting for so far.
    pub fn unanswered(&self) -> usize {
        lock(&self.state).unanswered.len()
    }

    /// Probe numbers (`icmp_seq`) in `first..=last` without an answer so
    /// far: the probes lost in a window, once `last` is old enough for any
    /// answer to have come. Counted per probe, whatever ping printed.
    pub fn unanswered_in(&self, first: u64, last: u64) -> Vec<u64> {
        lock(&self.state).unanswered_in(first, last)
    }

    /// Kernel timestamps (s since the epoch) of the answers so far.
    pub fn reply_times(&self) -> Vec<f64> {
        lock(&self.state).replies.iter().map(|&(_, t)| t).collect()
    }

    /// Kernel timestamp of the latest answer.
    pub fn last_reply_time(&self) -> Option<f64> {
        lock(&self.state).replies.last().map(|&(_, t)| t)
    }

    /// Longest gap between two consecutive answers, from the one before
    /// answer number `from` on (0: all of them).
    pub fn longest_gap_since(&self, from: usize) -> Duration {
        lock(&self.state).longest_gap_since(from)
    }

    /// Stops ping; what it saw stays readable.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }

    /// Stops the probe and returns the longest gap between consecutive
    /// answers (the outage as the client saw it).
    pub fn finish(mut self) -> Duration {
        self.stop();
        self.longest_gap_since(0)
    }
}

/// The state stays consistent even if a holder panicked (each update is one
/// push or insert), so a poisoned lock is still read.
fn lock(state: &Mutex<ProbeState>) -> MutexGuard<'_, ProbeState> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(lines: &[&str]) -> ProbeState {
        let mut state = ProbeState::default();
        for line in lines {
            state.read_line(line);
        }
        state
    }

    #[test]
    fn outage_is_the_longest_gap_between_answers() {
        let st = state(&[
            "PING 10.0.0.70 (10.0.0.70) 56(84) bytes of data.",
            "[100.000] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=0.05 ms",
            "[100.010] 64 bytes from 10.0.0.70: icmp_seq=2 ttl=64 time=0.05 ms",
            "[100.020] no answer yet for icmp_seq=3",
            "[100.030] no answer yet for icmp_seq=4",
            "[100.510] 64 bytes from 10.0.0.70: icmp_seq=52 ttl=64 time=0.05 ms",
            "[100.520] 64 bytes from 10.0.0.70: icmp_seq=53 ttl=64 time=0.05 ms",
        ]);
        assert_eq!(st.replies.len(), 4);
        assert_eq!(st.sent, 53);
        assert_eq!(st.unanswered.len(), 2);
        // Probes 3..=51 got no answer, though ping named only 3 and 4.
        assert_eq!(st.lost(), 49);
        assert_eq!(st.longest_gap_since(0).as_millis(), 500);
        // Two answers came before the outage: the gap after the second counts.
        assert_eq!(st.longest_gap_since(2).as_millis(), 500);
        assert_eq!(st.longest_gap_since(3).as_millis(), 10);
        assert_eq!(st.longest_gap_since(99), Duration::ZERO);
        assert_eq!(st.unanswered_in(1, 2), Vec::<u64>::new());
        assert_eq!(st.unanswered_in(2, 6), vec![3, 4, 5, 6]);
        assert_eq!(st.unanswered_in(50, 53), vec![50, 51]);
    }

    #[test]
    fn a_late_answer_is_not_lost() {
        let st = state(&[
            "[1.000] no answer yet for icmp_seq=1",
            "[1.200] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=200 ms",
        ]);
        assert!(st.unanswered.is_empty());
        assert_eq!(st.replies, vec![(1, 1.2)]);
        assert_eq!(st.lost(), 0);
    }

    #[test]
    fn a_duplicated_answer_counts_once() {
        let st = state(&[
            "[1.000] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=0.05 ms",
            "[1.001] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=0.06 ms (DUP!)",
            "[1.010] From 10.0.0.9 icmp_seq=2 Destination Host Unreachable",
            "[1.020] 64 bytes from 10.0.0.70: icmp_seq=3 ttl=64 time=0.05 ms",
        ]);
        assert_eq!(st.sent, 3);
        assert_eq!(st.lost(), 1);
    }
}

//! Reading a notify FIFO the way a consumer does, for the tests that
//! compare vip-agent's lines with keepalived's.

use std::{
    fs,
    io::{BufRead, BufReader},
    os::unix::fs::FileTypeExt,
    path::PathBuf,
    sync::mpsc,
    time::{Duration, Instant},
};

use anyhow::{bail, Result};

use crate::wait_for;

/// The lines read from one FIFO so far, and the ones still to come.
pub struct FifoLines {
    rx: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    bound: Duration,
}

impl FifoLines {
    /// Reads the FIFO at `path` from a thread, once something has made it,
    /// until its writer closes it and it is gone: keepalived closes and
    /// opens it again on a reload, so reading goes on when it comes back
    /// within a few seconds. Every wait is bounded by `bound`.
    pub fn read(path: PathBuf, bound: Duration) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut wait = bound;
            loop {
                let made = wait_for("the FIFO to be made", wait, || {
                    fs::symlink_metadata(&path)
                        .ok()
                        .filter(|m| m.file_type().is_fifo())
                });
                // The writer holds it open already: this open does not wait.
                let Ok(file) = made.and_then(|_| Ok(fs::File::open(&path)?)) else {
                    return;
                };
                for line in BufReader::new(file).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        return;
                    }
                }
                wait = Duration::from_secs(3);
            }
        });
        FifoLines {
            rx,
            seen: Vec::new(),
            bound,
        }
    }

    /// How often `line` has been seen.
    pub fn count(&self, line: &str) -> usize {
        self.seen.iter().filter(|l| *l == line).count()
    }

    /// Reads until each of `lines` has been seen `times` times.
    pub fn wait_all(&mut self, lines: &[String], times: usize) -> Result<()> {
        let deadline = Instant::now() + self.bound;
        while !lines.iter().all(|l| self.count(l) >= times) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => bail!(
                    "waiting for {lines:?} x{times}; the FIFO gave {:#?}",
                    self.seen
                ),
            }
        }
        Ok(())
    }

    /// Reads until `line` has been seen.
    pub fn wait(&mut self, line: &str) -> Result<()> {
        self.wait_all(&[line.to_string()], 1)
    }

    /// Reads to the end: the writer closed the FIFO and removed it.
    pub fn finish(&mut self) -> Result<()> {
        let deadline = Instant::now() + self.bound + Duration::from_secs(3);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("the FIFO was not closed; it gave {:#?}", self.seen)
                }
            }
        }
    }

    /// The lines of one instance (`INSTANCE "NAME" ...`), in order.
    pub fn of_instance(&self, name: &str) -> Vec<String> {
        let prefix = format!("INSTANCE \"{name}\" ");
        self.seen
            .iter()
            .filter(|l| l.starts_with(&prefix))
            .cloned()
            .collect()
    }
}

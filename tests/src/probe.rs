//! The client's view of an outage: `ping` every 10 ms with kernel
//! timestamps; the outage is the longest gap between two answered probes.

use std::{
    io::{BufRead, BufReader},
    net::IpAddr,
    process::{Child, Stdio},
    sync::{Arc, Mutex},
    thread::JoinHandle,
    time::Duration,
};

use anyhow::{Context, Result};

use crate::Lab;

/// A running probe.
pub struct Probe {
    child: Child,
    reader: Option<JoinHandle<()>>,
    replies: Arc<Mutex<Vec<f64>>>,
}

/// Probe interval.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(10);

impl Probe {
    /// Starts `ping -i 0.01 -D` from `client` to `target`. Bounded: at most
    /// `max_duration` worth of probes.
    pub fn start(lab: &Lab, client: usize, target: IpAddr, max_duration: Duration) -> Result<Self> {
        let count = (max_duration.as_millis() / PROBE_INTERVAL.as_millis()).max(1);
        let mut child = lab
            .node(client)
            .ns
            .command("ping")
            .args(["-n", "-D", "-i", "0.01", "-W", "1", "-c"])
            .arg(count.to_string())
            .arg(target.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("starting ping")?;
        let stdout = child.stdout.take().context("ping stdout")?;
        let replies = Arc::new(Mutex::new(Vec::new()));
        let sink = replies.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // "[1732190000.123456] 64 bytes from 10.0.0.70: icmp_seq=1 ttl=64 time=0.05 ms"
                if !line.contains("bytes from") {
                    continue;
                }
                let stamp = line
                    .strip_prefix('[')
                    .and_then(|l| l.split(']').next())
                    .and_then(|s| s.parse::<f64>().ok());
                if let Some(stamp) = stamp {
                    sink.lock().unwrap().push(stamp);
                }
            }
        });
        Ok(Self {
            child,
            reader: Some(reader),
            replies,
        })
    }

    /// Replies so far.
    pub fn replies(&self) -> usize {
        self.replies.lock().unwrap().len()
    }

    /// Stops the probe and returns the longest gap between consecutive
    /// replies (the outage as the client saw it).
    pub fn finish(mut self) -> Duration {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let stamps = self.replies.lock().unwrap().clone();
        let gap = stamps
            .windows(2)
            .map(|w| w[1] - w[0])
            .fold(0.0f64, f64::max);
        Duration::from_secs_f64(gap)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

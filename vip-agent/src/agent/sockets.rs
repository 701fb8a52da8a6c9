//! The open VRRP sockets, one per (interface, family), each with the reader
//! task that forwards what it receives to the event loop.

use std::{collections::HashMap, net::IpAddr, sync::Arc, time::Duration};

use anyhow::{Context, Result};
use tokio::{sync::mpsc, task::JoinHandle};

use super::effect::{SocketKey, SocketSpec};
use crate::net::vrrp_socket::{ReceivedPacket, VrrpSocket};

struct Entry {
    socket: Arc<VrrpSocket>,
    reader: JoinHandle<()>,
}

impl Drop for Entry {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

pub struct SocketRegistry {
    sockets: HashMap<SocketKey, Entry>,
    packets: mpsc::Sender<(SocketKey, ReceivedPacket)>,
}

impl SocketRegistry {
    pub fn new(packets: mpsc::Sender<(SocketKey, ReceivedPacket)>) -> Self {
        Self {
            sockets: HashMap::new(),
            packets,
        }
    }

    /// Opens the socket, replacing one open under the same key.
    pub fn open(&mut self, key: &SocketKey, spec: SocketSpec) -> Result<()> {
        self.sockets.remove(key);
        let socket = Arc::new(
            VrrpSocket::open(&key.interface, spec.ifindex, key.ipv6, spec.group)
                .with_context(|| format!("VRRP socket on {}", key.interface))?,
        );
        let reader = {
            let socket = socket.clone();
            let tx = self.packets.clone();
            let key = key.clone();
            tokio::spawn(async move {
                loop {
                    match socket.recv().await {
                        Ok(packet) => {
                            if tx.send((key.clone(), packet)).await.is_err() {
                                break;
                            }
                        }
                        Err(err) => {
                            tracing::warn!(interface = %key.interface, error = %err, "VRRP socket receive");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            })
        };
        self.sockets.insert(key.clone(), Entry { socket, reader });
        Ok(())
    }

    pub fn close(&mut self, key: &SocketKey) {
        self.sockets.remove(key);
    }

    pub fn clear(&mut self) {
        self.sockets.clear();
    }

    pub async fn send(
        &self,
        key: &SocketKey,
        payload: &[u8],
        source: IpAddr,
        destination: IpAddr,
        ttl: u8,
    ) -> Result<()> {
        let entry = self
            .sockets
            .get(key)
            .with_context(|| format!("no VRRP socket on {}", key.interface))?;
        entry.socket.send(payload, source, destination, ttl).await?;
        Ok(())
    }
}

//! `mcast_src_ip` side by side with keepalived 2.2.7: on a router with two
//! addresses on its interface, the multicast adverts come from the address
//! the keyword names, not from the primary one, under both implementations.

use std::{net::IpAddr, time::Duration};

use anyhow::{ensure, Context, Result};
use tests::{
    frames::{parse_ethernet_frame, PacketSocket},
    side_by_side::{Implementation, Router},
    Lab,
};

/// Generous: two noisy cores.
const BOUND: Duration = Duration::from_secs(40);
const VRID: u8 = 94;
const CONFIG: &str = "vrrp_instance VI_1 {\n    state MASTER\n    interface eth0\n    \
                      virtual_router_id 94\n    priority 150\n    advert_int 1\n    \
                      mcast_src_ip 10.64.0.5\n    virtual_ipaddress {\n        10.64.0.100/24\n    }\n}\n";

/// The source address of the first VRRP advert for [`VRID`] the watcher sees.
fn advert_source(lab: &Lab, watcher: usize) -> Result<IpAddr> {
    let interface = lab.node(watcher).interface.clone();
    let socket = lab
        .node(watcher)
        .ns
        .in_thread(move || PacketSocket::bind(&interface))?;
    let frame = socket
        .recv_matching(BOUND, |frame| {
            parse_ethernet_frame(frame).is_ok_and(|p| p.payload.get(1) == Some(&VRID))
        })?
        .context("no advert seen")?;
    Ok(parse_ethernet_frame(&frame)
        .map_err(anyhow::Error::msg)?
        .src)
}

fn run(implementation: Implementation) -> Result<()> {
    let mut lab = Lab::new()?;
    // 10.64.0.1 is the primary address; 10.64.0.5 a second one.
    let router = lab.add_node("r", "eth0", &["10.64.0.1/24", "10.64.0.5/24"])?;
    let watcher = lab.add_node("w", "eth0", &["10.64.0.2/24"])?;
    let _router = Router::start(&mut lab, router, "r", implementation, CONFIG)?;
    let implementation = implementation.name();
    let source = advert_source(&lab, watcher)?;
    ensure!(
        source == "10.64.0.5".parse::<IpAddr>()?,
        "{implementation}: adverts come from {source}, not from mcast_src_ip 10.64.0.5"
    );
    println!("{implementation}: adverts from {source}");
    lab.passed();
    Ok(())
}

#[test]
fn multicast_adverts_come_from_mcast_src_ip_as_with_keepalived() -> Result<()> {
    tests::require_root();
    for implementation in Implementation::BOTH {
        run(implementation)?;
    }
    Ok(())
}

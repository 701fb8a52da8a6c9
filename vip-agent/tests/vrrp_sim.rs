//! Deterministic simulation: several VRRP state machines on an in-memory LAN
//! with a virtual clock, link delay, loss and partitions. Adverts go through
//! the real codec (encode on send, decode on receive). The deployments are
//! those of /work/shared/scenarios (docker-pair, swarm-four,
//! unicast-gateway) plus VRRPv3 at 10 ms.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::net::IpAddr;
use std::time::Duration;

use vip_agent::vrrp::packet::VRRP_MULTICAST_V4;
use vip_agent::vrrp::{
    Action, Advertisement, Auth, ChecksumMode, Event, InitialState, Instance, Params,
    ProtocolVersion, State, Timer, DOWN_TIMER_ADVERTS,
};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum SimEvent {
    Timer {
        node: usize,
        timer: Timer,
    },
    Deliver {
        node: usize,
        src: IpAddr,
        bytes: Vec<u8>,
    },
}

struct Node {
    params: Params,
    instance: Instance,
    alive: bool,
    /// Nodes only hear nodes of the same group.
    group: u8,
    timers: BTreeMap<Timer, Duration>,
    /// When this node last received an advertisement with priority > 0.
    last_advert_rx: Option<Duration>,
}

struct Lan {
    nodes: Vec<Node>,
    now: Duration,
    seq: u64,
    queue: BinaryHeap<Reverse<(Duration, u64, SimEvent)>>,
    delay: Duration,
    /// Probability of losing a delivery, in 1/1000.
    loss_per_mille: u64,
    rng: u64,
    /// (time, node, new state), from the machines' Notify actions.
    transitions: Vec<(Duration, usize, State)>,
}

impl Lan {
    fn new(params: Vec<Params>, delay: Duration) -> Lan {
        let nodes = params
            .into_iter()
            .map(|p| Node {
                instance: Instance::new(p.clone()).unwrap(),
                params: p,
                alive: false,
                group: 0,
                timers: BTreeMap::new(),
                last_advert_rx: None,
            })
            .collect();
        Lan {
            nodes,
            now: Duration::ZERO,
            seq: 0,
            queue: BinaryHeap::new(),
            delay,
            loss_per_mille: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            transitions: Vec::new(),
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    fn push(&mut self, at: Duration, event: SimEvent) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, event)));
    }

    fn feed(&mut self, node: usize, event: Event) {
        let actions = self.nodes[node].instance.handle(event, self.now);
        self.apply(node, actions);
    }

    fn apply(&mut self, node: usize, actions: Vec<Action>) {
        for action in actions {
            match action {
                Action::SendAdvert(advert) => self.broadcast(node, &advert),
                Action::ArmTimer { timer, deadline } => {
                    self.nodes[node].timers.insert(timer, deadline);
                    self.push(deadline, SimEvent::Timer { node, timer });
                }
                Action::CancelTimer(timer) => {
                    self.nodes[node].timers.remove(&timer);
                }
                Action::Notify { to, .. } => self.transitions.push((self.now, node, to)),
                _ => {}
            }
        }
    }

    fn broadcast(&mut self, from: usize, advert: &Advertisement) {
        let src = self.nodes[from].params.primary_address;
        let bytes = advert
            .encode(src, VRRP_MULTICAST_V4.into(), ChecksumMode::Standard)
            .unwrap();
        for to in 0..self.nodes.len() {
            if to == from || !self.nodes[to].alive || self.nodes[to].group != self.nodes[from].group
            {
                continue;
            }
            if self.loss_per_mille > 0 && self.random() % 1000 < self.loss_per_mille {
                continue;
            }
            let at = self.now + self.delay;
            self.push(
                at,
                SimEvent::Deliver {
                    node: to,
                    src,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    fn start(&mut self, node: usize) {
        let n = &mut self.nodes[node];
        n.instance = Instance::new(n.params.clone()).unwrap();
        n.alive = true;
        n.timers.clear();
        n.last_advert_rx = None;
        self.feed(node, Event::Start);
    }

    /// SIGKILL: gone without a word.
    fn kill(&mut self, node: usize) {
        self.nodes[node].alive = false;
        self.nodes[node].timers.clear();
        self.transitions.push((self.now, node, State::Initialize));
    }

    /// SIGTERM: the Shutdown event (priority 0 from a Master), then gone.
    fn stop(&mut self, node: usize) {
        self.feed(node, Event::Shutdown);
        self.kill(node);
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&i| self.nodes[i].alive && self.nodes[i].instance.state() == State::Master)
            .collect()
    }

    /// Processes every event up to and including `until`. With
    /// `one_master`, asserts after each instant that exactly one live node
    /// is Master.
    fn run_until(&mut self, until: Duration, one_master: bool) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            let at = *at;
            if at > until {
                break;
            }
            self.now = at;
            while let Some(Reverse((t, _, _))) = self.queue.peek() {
                if *t != at {
                    break;
                }
                let Reverse((_, _, event)) = self.queue.pop().unwrap();
                self.dispatch(event);
            }
            if one_master {
                assert_eq!(self.masters().len(), 1, "masters at {:?}", self.now);
            }
        }
        self.now = until;
    }

    fn dispatch(&mut self, event: SimEvent) {
        match event {
            SimEvent::Timer { node, timer } => {
                let n = &self.nodes[node];
                if n.alive && n.timers.get(&timer) == Some(&self.now) {
                    self.nodes[node].timers.remove(&timer);
                    self.feed(node, Event::TimerFired(timer));
                }
            }
            SimEvent::Deliver { node, src, bytes } => {
                if !self.nodes[node].alive {
                    return;
                }
                let (advert, _) =
                    Advertisement::decode(&bytes, src, VRRP_MULTICAST_V4.into()).unwrap();
                if advert.priority > 0 {
                    self.nodes[node].last_advert_rx = Some(self.now);
                }
                self.feed(
                    node,
                    Event::Advert {
                        advert,
                        src,
                        ttl: 255,
                    },
                );
            }
        }
    }

    /// When `node` last became Master at or after `since`.
    fn became_master_at(&self, node: usize, since: Duration) -> Option<Duration> {
        self.transitions
            .iter()
            .find(|(t, n, s)| *t >= since && *n == node && *s == State::Master)
            .map(|(t, _, _)| *t)
    }

    /// How long, from `since` to now, no live node or more than one was Master.
    fn longest_non_single_master(&self, since: Duration) -> Duration {
        let mut alive_master: BTreeMap<usize, bool> = BTreeMap::new();
        let mut longest = Duration::ZERO;
        let mut bad_since: Option<Duration> = None;
        let mut events = self.transitions.iter().peekable();
        while let Some(&(t, n, s)) = events.next() {
            alive_master.insert(n, s == State::Master);
            if events.peek().is_some_and(|(next, _, _)| *next == t) {
                continue;
            }
            let count = alive_master.values().filter(|m| **m).count();
            if t < since {
                bad_since = None;
                continue;
            }
            match (count == 1, bad_since) {
                (true, Some(start)) => {
                    longest = longest.max(t - start);
                    bad_since = None;
                }
                (false, None) => bad_since = Some(t),
                _ => {}
            }
        }
        if let Some(start) = bad_since {
            longest = longest.max(self.now - start);
        }
        longest
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Skew_Time for VRRPv2 (RFC 3768 section 6.1), computed independently.
fn v2_skew(priority: u64) -> Duration {
    Duration::from_nanos((256 - priority) * 1_000_000_000 / 256)
}

/// Skew_Time for VRRPv3 (RFC 5798 section 6.1), computed independently.
fn v3_skew(priority: u64, interval: Duration) -> Duration {
    Duration::from_nanos((256 - priority) * interval.as_nanos() as u64 / 256)
}

#[allow(clippy::too_many_arguments)]
fn v2(
    vrid: u8,
    priority: u8,
    primary: &str,
    vip: &str,
    state: InitialState,
    preempt: bool,
    auth: Auth,
) -> Params {
    Params {
        vrid,
        version: ProtocolVersion::V2,
        priority,
        adver_int: secs(1),
        preempt,
        preempt_delay: Duration::ZERO,
        accept_mode: false,
        primary_address: ip(primary),
        vips: vec![ip(vip)],
        initial_state: state,
        auth,
        sync_group: false,
        unicast_peers: Vec::new(),
        lower_prio_no_advert: false,
        higher_prio_send_advert: false,
        down_timer_adverts: DOWN_TIMER_ADVERTS,
    }
}

/// docker-pair: two VRRPv2 nodes, equal priority 100, `nopreempt` on both,
/// node1 (172.17.0.2) has `state MASTER`, node2 (172.17.0.3) `state BACKUP`.
fn docker_pair() -> Vec<Params> {
    vec![
        v2(
            50,
            100,
            "172.17.0.2",
            "192.168.200.11",
            InitialState::Master,
            false,
            Auth::None,
        ),
        v2(
            50,
            100,
            "172.17.0.3",
            "192.168.200.11",
            InitialState::Backup,
            false,
            Auth::None,
        ),
    ]
}

/// swarm-four: priorities 100/90/80/70, PASS auth "mypassword".
fn swarm_four() -> Vec<Params> {
    let auth = Auth::simple_text("mypassword");
    [
        (100, "10.0.0.60", InitialState::Master),
        (90, "10.0.0.61", InitialState::Backup),
    ]
    .into_iter()
    .chain([
        (80, "10.0.0.62", InitialState::Backup),
        (70, "10.0.0.63", InitialState::Backup),
    ])
    .map(|(p, a, s)| v2(51, p, a, "10.0.0.70", s, true, auth))
    .collect()
}

/// unicast-gateway: dent2 101 (192.168.1.11) and dent3 100 (192.168.1.12),
/// PASS auth "1212". Unicast delivery is the LAN's delivery to the one peer.
fn unicast_gateway() -> Vec<Params> {
    let auth = Auth::simple_text("1212");
    vec![
        v2(
            150,
            101,
            "192.168.1.11",
            "192.168.1.13",
            InitialState::Master,
            true,
            auth,
        ),
        v2(
            150,
            100,
            "192.168.1.12",
            "192.168.1.13",
            InitialState::Backup,
            true,
            auth,
        ),
    ]
}

/// VRRPv3 at 10 ms, three nodes 200/150/100.
fn v3_fast() -> Vec<Params> {
    [(200, "10.1.0.1"), (150, "10.1.0.2"), (100, "10.1.0.3")]
        .into_iter()
        .map(|(p, a)| Params {
            version: ProtocolVersion::V3,
            adver_int: ms(10),
            ..v2(
                7,
                p,
                a,
                "10.1.0.100",
                InitialState::Backup,
                true,
                Auth::None,
            )
        })
        .collect()
}

fn start_all(lan: &mut Lan) {
    for i in 0..lan.nodes.len() {
        lan.start(i);
    }
}

#[test]
fn docker_pair_converges_on_the_higher_address_and_fails_over_exactly() {
    let mut lan = Lan::new(docker_pair(), ms(1));
    start_all(&mut lan);
    // Both wait 3.609375 s, both claim Master, the tie goes to 172.17.0.3
    // (RFC 5798 6.4.3) one link delay later.
    lan.run_until(secs(4), false);
    assert_eq!(lan.masters(), vec![1]);
    lan.run_until(secs(60), true);

    // SIGKILL the Master: node1 takes over Master_Down_Interval after the
    // last advert it received.
    lan.kill(1);
    let killed_at = lan.now;
    lan.run_until(secs(70), false);
    let last = lan.nodes[0].last_advert_rx.unwrap();
    assert_eq!(
        lan.became_master_at(0, killed_at),
        Some(last + secs(3) + v2_skew(100))
    );

    // node2 comes back (nopreempt, equal priority): node1 keeps the VIP.
    lan.start(1);
    lan.run_until(secs(120), true);
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn docker_pair_sigterm_hands_over_after_skew_time() {
    let mut lan = Lan::new(docker_pair(), ms(1));
    start_all(&mut lan);
    lan.run_until(secs(30), false);
    assert_eq!(lan.masters(), vec![1]);
    lan.stop(1);
    let stopped = lan.now;
    lan.run_until(secs(40), false);
    // Priority 0 arrives one link delay later; Master_Down_Timer = Skew_Time.
    assert_eq!(
        lan.became_master_at(0, stopped),
        Some(stopped + ms(1) + v2_skew(100))
    );
}

#[test]
fn swarm_four_highest_priority_wins_and_the_next_takes_over() {
    let mut lan = Lan::new(swarm_four(), ms(1));
    start_all(&mut lan);
    lan.run_until(secs(4), false);
    // cube01 has the smallest Skew_Time: Master at 3.609375 s, alone.
    assert_eq!(
        lan.became_master_at(0, Duration::ZERO),
        Some(secs(3) + v2_skew(100))
    );
    assert_eq!(lan.longest_non_single_master(secs(3)), Duration::ZERO);
    lan.run_until(secs(30), true);

    lan.kill(0);
    let killed = lan.now;
    lan.run_until(secs(40), false);
    let last = lan.nodes[1].last_advert_rx.unwrap();
    assert!(last < killed + ms(2));
    assert_eq!(
        lan.became_master_at(1, killed),
        Some(last + secs(3) + v2_skew(90))
    );
    // cube03 and cube04 heard cube02 before their own timers ran out.
    assert_eq!(lan.became_master_at(2, killed), None);
    assert_eq!(lan.became_master_at(3, killed), None);
    assert_eq!(lan.masters(), vec![1]);

    // cube01 restarts: preempt (the default) takes the VIP back one
    // Master_Down_Interval after its start.
    lan.start(0);
    let restarted = lan.now;
    lan.run_until(secs(60), false);
    assert_eq!(
        lan.became_master_at(0, restarted),
        Some(restarted + secs(3) + v2_skew(100))
    );
    assert_eq!(lan.masters(), vec![0]);
    // The two-Master window lasted one link delay.
    assert_eq!(lan.longest_non_single_master(restarted), ms(1));
}

#[test]
fn swarm_four_priority_zero_resignation_hands_over_at_skew_time() {
    let mut lan = Lan::new(swarm_four(), Duration::ZERO);
    start_all(&mut lan);
    lan.run_until(secs(20), false);
    lan.stop(0);
    let stopped = lan.now;
    lan.run_until(secs(30), false);
    assert_eq!(
        lan.became_master_at(1, stopped),
        Some(stopped + v2_skew(90))
    );
    assert_eq!(lan.masters(), vec![1]);
    assert_eq!(
        lan.longest_non_single_master(stopped + v2_skew(90)),
        Duration::ZERO
    );
}

#[test]
fn unicast_gateway_partition_heals_to_one_master_within_one_interval() {
    let mut lan = Lan::new(unicast_gateway(), ms(2));
    start_all(&mut lan);
    lan.run_until(secs(10), true);
    assert_eq!(lan.masters(), vec![0]);

    // Split the segment: dent3 stops hearing dent2 and claims the VIP too.
    lan.nodes[1].group = 1;
    let split = lan.now;
    lan.run_until(secs(20), false);
    assert_eq!(lan.masters(), vec![0, 1]);
    assert!(lan.became_master_at(1, split).is_some());

    // Heal: the first advert of either side settles it within one interval.
    lan.nodes[1].group = 0;
    let healed = lan.now;
    lan.run_until(healed + secs(1) + ms(2), false);
    assert_eq!(lan.masters(), vec![0]);
    lan.run_until(secs(40), true);
}

#[test]
fn unicast_gateway_restarted_higher_priority_node_preempts() {
    let mut lan = Lan::new(unicast_gateway(), ms(1));
    start_all(&mut lan);
    lan.run_until(secs(10), true);
    lan.kill(0);
    lan.run_until(secs(20), false);
    assert_eq!(lan.masters(), vec![1]);
    lan.start(0);
    lan.run_until(secs(30), false);
    assert_eq!(lan.masters(), vec![0]);
}

#[test]
fn nopreempt_restarted_higher_priority_node_does_not_take_back() {
    let mut params = unicast_gateway();
    for p in &mut params {
        p.preempt = false;
        p.initial_state = InitialState::Backup;
    }
    let mut lan = Lan::new(params, ms(1));
    start_all(&mut lan);
    lan.run_until(secs(10), true);
    assert_eq!(lan.masters(), vec![0]);
    lan.kill(0);
    lan.run_until(secs(20), false);
    lan.start(0);
    lan.run_until(secs(60), true);
    assert_eq!(lan.masters(), vec![1]);
}

#[test]
fn preempt_delay_holds_back_the_restarted_higher_priority_node() {
    let mut params = unicast_gateway();
    params[0].preempt_delay = secs(10);
    let mut lan = Lan::new(params, ms(1));
    start_all(&mut lan);
    lan.run_until(secs(10), true);
    lan.kill(0);
    lan.run_until(secs(20), false);
    assert_eq!(lan.masters(), vec![1]);

    lan.start(0);
    let restarted = lan.now;
    lan.run_until(restarted + secs(10), true);
    assert_eq!(lan.masters(), vec![1], "preempted before preempt_delay");
    lan.run_until(restarted + secs(20), false);
    assert_eq!(lan.masters(), vec![0]);
    let took_over = lan.became_master_at(0, restarted).unwrap();
    // dent2 first hears dent3 at F (within 1 s of its restart) and tolerates
    // it until F + 10 s; the last tolerated advert arrives at F + 9 s, and its
    // Master_Down_Timer runs out 3 s + Skew_Time later.
    let skew = v2_skew(101);
    assert!(took_over >= restarted + secs(12) + skew, "{took_over:?}");
    assert!(
        took_over <= restarted + secs(13) + skew + ms(1),
        "{took_over:?}"
    );
}

#[test]
fn v3_at_10ms_fails_over_to_the_virtual_nanosecond() {
    let interval = ms(10);
    let mut lan = Lan::new(v3_fast(), Duration::from_micros(100));
    start_all(&mut lan);
    lan.run_until(ms(100), false);
    assert_eq!(lan.masters(), vec![0]);
    lan.run_until(ms(2000), true);

    lan.kill(0);
    let killed = lan.now;
    lan.run_until(killed + ms(200), false);
    let last = lan.nodes[1].last_advert_rx.unwrap();
    assert_eq!(
        lan.became_master_at(1, killed),
        Some(last + 3 * interval + v3_skew(150, interval))
    );
    assert_eq!(lan.masters(), vec![1]);

    // Priority-0 resignation of the new Master: node 3 follows after its
    // Skew_Time (plus the link delay the priority-0 advert took).
    lan.run_until(killed + ms(1000), true);
    lan.stop(1);
    let stopped = lan.now;
    lan.run_until(stopped + ms(100), false);
    assert_eq!(
        lan.became_master_at(2, stopped),
        Some(stopped + Duration::from_micros(100) + v3_skew(100, interval))
    );
}

#[test]
fn v3_backups_follow_the_masters_interval() {
    // The Master advertises every 50 ms; Backups configured for 10 ms adopt
    // 50 ms, so they do not take over between its adverts.
    let mut params = v3_fast();
    params[0].adver_int = ms(50);
    let mut lan = Lan::new(params, Duration::from_micros(100));
    start_all(&mut lan);
    lan.run_until(ms(200), false);
    assert_eq!(lan.masters(), vec![0]);
    lan.run_until(ms(3000), true);
    assert_eq!(lan.nodes[1].instance.master_adver_interval(), ms(50));
    lan.kill(0);
    let killed = lan.now;
    lan.run_until(killed + ms(500), false);
    let last = lan.nodes[1].last_advert_rx.unwrap();
    assert_eq!(
        lan.became_master_at(1, killed),
        Some(last + 3 * ms(50) + v3_skew(150, ms(50)))
    );
}

#[test]
fn lossy_link_keeps_one_master_except_brief_windows() {
    // 5% loss: three adverts in a row are lost now and then, a Backup
    // claims the VIP, and the higher priority settles it within an interval.
    let mut lan = Lan::new(swarm_four(), ms(1));
    lan.loss_per_mille = 50;
    start_all(&mut lan);
    lan.run_until(secs(5), false);
    lan.run_until(secs(600), false);
    assert_eq!(lan.masters(), vec![0]);
    assert!(lan.longest_non_single_master(secs(5)) <= secs(1) + ms(1));
}

#[test]
fn four_nodes_started_apart_converge_on_the_highest_priority() {
    let mut lan = Lan::new(swarm_four(), ms(1));
    // Lowest priority first, one second apart.
    for (i, node) in [3, 2, 1, 0].into_iter().enumerate() {
        lan.run_until(secs(i as u64), false);
        lan.start(node);
    }
    lan.run_until(secs(20), false);
    assert_eq!(lan.masters(), vec![0]);
    lan.run_until(secs(60), true);
}

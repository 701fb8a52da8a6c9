//! When a Master announces its VIPs (gratuitous ARP / unsolicited NA), as
//! keepalived schedules it: `garp_master_repeat` rounds at once, the same
//! again after `garp_master_delay`, then every `garp_master_refresh` seconds
//! `garp_master_refresh_repeat` rounds. A round is one frame per VIP; with
//! `vrrp_garp_interval` / `vrrp_gna_interval` consecutive rounds are spaced
//! by that interval (the refresh rounds too).
//!
//! The schedule hands out at most [`FRAMES_PER_SLICE`] frames per wakeup and
//! keeps the rest due, so `garp_master_repeat 1000000` is sent in slices
//! between which the event loop serves adverts, timers and the heartbeat.

use std::time::Duration;

use crate::config::GarpSettings;

/// Frames one instance sends per event-loop wakeup at most.
pub const FRAMES_PER_SLICE: usize = 64;

/// A run of rounds still to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Burst {
    /// When the next frame is due.
    at: Duration,
    sent: u64,
    total: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceSchedule {
    garp: GarpSettings,
    spacing: Duration,
    frames_per_round: usize,
    bursts: Vec<Burst>,
    next_refresh: Option<Duration>,
}

impl AnnounceSchedule {
    /// The schedule of a Master that has just taken its VIPs at `now`.
    pub fn start(
        now: Duration,
        garp: GarpSettings,
        spacing: Duration,
        frames_per_round: usize,
    ) -> Self {
        let mut schedule = Self {
            garp,
            spacing,
            frames_per_round,
            bursts: Vec::new(),
            next_refresh: None,
        };
        if frames_per_round == 0 {
            return schedule;
        }
        let repeat = garp.master_repeat.max(1);
        schedule.push(now, repeat);
        if garp.master_delay_s > 0 {
            schedule.push(now + secs(garp.master_delay_s), repeat);
        }
        schedule.next_refresh =
            (garp.master_refresh_s > 0).then(|| now + secs(garp.master_refresh_s));
        schedule
    }

    /// keepalived's answer to a lower-priority Master heard while Master
    /// (vrrp.c, "Received advert ... with lower priority"): the other
    /// router may have taken the VIPs' MAC cache entries, so
    /// `garp_lower_prio_repeat` rounds go out now and, with a
    /// `garp_lower_prio_delay`, as many again after it.
    pub fn lower_priority_heard(&mut self, now: Duration) {
        let repeat = self.garp.lower_prio_repeat;
        if self.frames_per_round == 0 || repeat == 0 {
            return;
        }
        self.push(now, repeat);
        if self.garp.lower_prio_delay_s > 0 {
            self.push(now + secs(self.garp.lower_prio_delay_s), repeat);
        }
    }

    fn push(&mut self, at: Duration, rounds: u32) {
        self.bursts.push(Burst {
            at,
            sent: 0,
            total: u64::from(rounds) * self.frames_per_round as u64,
        });
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.bursts
            .iter()
            .map(|b| b.at)
            .chain(self.next_refresh)
            .min()
    }

    /// A reload changed the settings of a Master that keeps running: the
    /// refresh follows the new ones from `now` on (the bursts of becoming
    /// Master that are still due are sent as they were planned).
    pub fn retune(&mut self, garp: GarpSettings, spacing: Duration, now: Duration) {
        if garp.master_refresh_s != self.garp.master_refresh_s {
            self.next_refresh =
                (garp.master_refresh_s > 0).then(|| now + secs(garp.master_refresh_s));
        }
        self.garp = garp;
        self.spacing = spacing;
    }

    /// The frames due at `now`, as indices into the round (0 for the first
    /// VIP's frame), at most [`FRAMES_PER_SLICE`] of them.
    pub fn take_due(&mut self, now: Duration) -> Vec<usize> {
        if let Some(refresh) = self.next_refresh.filter(|&t| t <= now) {
            self.push(refresh, self.garp.master_refresh_repeat.max(1));
            self.next_refresh = Some(refresh + secs(self.garp.master_refresh_s));
        }
        let mut due = Vec::new();
        let n = self.frames_per_round as u64;
        for burst in &mut self.bursts {
            while burst.at <= now && burst.sent < burst.total && due.len() < FRAMES_PER_SLICE {
                due.push((burst.sent % n) as usize);
                burst.sent += 1;
                if !self.spacing.is_zero() && burst.sent % n == 0 {
                    burst.at += self.spacing;
                }
            }
        }
        self.bursts.retain(|b| b.sent < b.total);
        due
    }
}

fn secs(s: u32) -> Duration {
    Duration::from_secs(u64::from(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn garp(repeat: u32, delay_s: u32, refresh_s: u32, refresh_repeat: u32) -> GarpSettings {
        GarpSettings {
            master_delay_s: delay_s,
            master_repeat: repeat,
            master_refresh_s: refresh_s,
            master_refresh_repeat: refresh_repeat,
            lower_prio_repeat: 0,
            lower_prio_delay_s: 0,
        }
    }

    const MS: Duration = Duration::from_millis(1);

    /// Every frame the schedule hands out until `until`, waking whenever it
    /// says it is due, with the time of each.
    fn run(schedule: &mut AnnounceSchedule, until: Duration) -> Vec<(Duration, usize)> {
        let mut out = Vec::new();
        let mut wakeups = 0;
        while let Some(at) = schedule.next_deadline().filter(|&t| t <= until) {
            wakeups += 1;
            assert!(wakeups < 100_000, "the schedule never ends");
            out.extend(schedule.take_due(at).into_iter().map(|i| (at, i)));
        }
        out
    }

    #[test]
    fn repeat_at_once_then_again_after_the_delay() {
        let mut s = AnnounceSchedule::start(Duration::ZERO, garp(3, 5, 0, 0), Duration::ZERO, 2);
        let frames = run(&mut s, Duration::from_secs(60));
        let at_zero = frames.iter().filter(|(t, _)| t.is_zero()).count();
        let at_five = frames
            .iter()
            .filter(|(t, _)| *t == Duration::from_secs(5))
            .count();
        assert_eq!((at_zero, at_five, frames.len()), (6, 6, 12));
        assert_eq!(s.next_deadline(), None, "no refresh configured");
    }

    #[test]
    fn spacing_separates_rounds() {
        let mut s = AnnounceSchedule::start(Duration::ZERO, garp(3, 0, 0, 0), 10 * MS, 2);
        let frames = run(&mut s, Duration::from_secs(1));
        assert_eq!(
            frames,
            vec![
                (Duration::ZERO, 0),
                (Duration::ZERO, 1),
                (10 * MS, 0),
                (10 * MS, 1),
                (20 * MS, 0),
                (20 * MS, 1),
            ]
        );
    }

    /// `garp_master_refresh_repeat` rounds are spaced by the GARP interval
    /// like the first ones, not sent back-to-back.
    #[test]
    fn refresh_rounds_are_spaced_too() {
        let mut s = AnnounceSchedule::start(Duration::ZERO, garp(1, 0, 2, 3), 10 * MS, 1);
        let two = Duration::from_secs(2);
        let frames = run(&mut s, two + Duration::from_millis(500));
        assert_eq!(
            frames,
            vec![
                (Duration::ZERO, 0),
                (two, 0),
                (two + 10 * MS, 0),
                (two + 20 * MS, 0)
            ]
        );
        assert_eq!(s.next_deadline(), Some(Duration::from_secs(4)));
    }

    /// A million announcements go out in bounded slices: each wakeup hands
    /// out at most FRAMES_PER_SLICE frames, and all of them are sent.
    #[test]
    fn a_huge_repeat_is_sliced() {
        let mut s =
            AnnounceSchedule::start(Duration::ZERO, garp(1_000_000, 0, 0, 0), Duration::ZERO, 1);
        let mut total = 0usize;
        let mut wakeups = 0usize;
        while s.next_deadline().is_some() {
            let slice = s.take_due(Duration::ZERO);
            assert!(!slice.is_empty() && slice.len() <= FRAMES_PER_SLICE);
            total += slice.len();
            wakeups += 1;
        }
        assert_eq!(total, 1_000_000);
        assert_eq!(wakeups, 1_000_000usize.div_ceil(FRAMES_PER_SLICE));
    }

    #[test]
    fn nothing_to_announce_without_vips() {
        let s = AnnounceSchedule::start(Duration::ZERO, garp(5, 5, 5, 5), Duration::ZERO, 0);
        assert_eq!(s.next_deadline(), None);
    }
}

//! Every keyword of keepalived 2.2.7's VRRP half (and the few of
//! vip-agent's own), with what vip-agent does with it: read and carried
//! out (and where), or skipped with a warning. The reader skips what this
//! table says to skip; `tests/keyword_registry.rs` checks the table
//! against the reader, against keepalived's own keyword list and against
//! `docs/configuration.md`, so a keyword cannot be documented and parsed
//! without being listed here as carried out.

/// Where a keyword is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Section {
    TopLevel,
    GlobalDefs,
    VrrpInstance,
    /// The `authentication { }` block of an instance.
    Authentication,
    VrrpScript,
    /// `track_file` and `vrrp_track_file`.
    TrackFile,
    VrrpTrackProcess,
    VrrpSyncGroup,
}

impl Section {
    pub const ALL: [Section; 8] = [
        Section::TopLevel,
        Section::GlobalDefs,
        Section::VrrpInstance,
        Section::Authentication,
        Section::VrrpScript,
        Section::TrackFile,
        Section::VrrpTrackProcess,
        Section::VrrpSyncGroup,
    ];

    /// The section's keyword in keepalived.conf (`top` for the top level).
    pub fn name(self) -> &'static str {
        match self {
            Section::TopLevel => "top",
            Section::GlobalDefs => "global_defs",
            Section::VrrpInstance => "vrrp_instance",
            Section::Authentication => "authentication",
            Section::VrrpScript => "vrrp_script",
            Section::TrackFile => "track_file",
            Section::VrrpTrackProcess => "vrrp_track_process",
            Section::VrrpSyncGroup => "vrrp_sync_group",
        }
    }
}

/// What vip-agent does with a keyword.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Support {
    /// Read and carried out; `effect` says what it changes and where.
    Runs { effect: &'static str },
    /// vip-agent's own keyword: keepalived does not know it.
    Own { effect: &'static str },
    /// keepalived knows it; vip-agent skips it (and its block) with a warning.
    Skipped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keyword {
    pub section: Section,
    pub name: &'static str,
    pub support: Support,
}

const fn runs(section: Section, name: &'static str, effect: &'static str) -> Keyword {
    Keyword {
        section,
        name,
        support: Support::Runs { effect },
    }
}

const fn own(section: Section, name: &'static str, effect: &'static str) -> Keyword {
    Keyword {
        section,
        name,
        support: Support::Own { effect },
    }
}

const fn skipped(section: Section, name: &'static str) -> Keyword {
    Keyword {
        section,
        name,
        support: Support::Skipped,
    }
}

use Section::*;

pub const KEYWORDS: &[Keyword] = &[
    // top
    runs(
        TopLevel,
        "global_defs",
        "GlobalDefs: defaults of every instance, the FIFOs, script users",
    ),
    runs(
        TopLevel,
        "vrrp_instance",
        "one election (agent::instance) and its VIPs",
    ),
    runs(TopLevel, "vrrp_script", "a script tracker (agent::health)"),
    runs(TopLevel, "track_file", "a file tracker (agent::trackers)"),
    runs(
        TopLevel,
        "vrrp_track_file",
        "a file tracker (agent::trackers), keepalived's older name",
    ),
    runs(
        TopLevel,
        "vrrp_track_process",
        "a process tracker (agent::trackers)",
    ),
    runs(
        TopLevel,
        "vrrp_sync_group",
        "members that move together (agent::core)",
    ),
    runs(
        TopLevel,
        "static_ipaddress",
        "addresses installed at start and kept (net::netlink)",
    ),
    runs(
        TopLevel,
        "static_routes",
        "routes installed at start and kept (net::netlink)",
    ),
    runs(
        TopLevel,
        "static_rules",
        "rules installed at start and kept (net::netlink)",
    ),
    skipped(TopLevel, "SSL"),
    skipped(TopLevel, "bfd_instance"),
    skipped(TopLevel, "child_wait_time"),
    skipped(TopLevel, "garp_group"),
    skipped(TopLevel, "instance"),
    skipped(TopLevel, "interface_up_down_delays"),
    skipped(TopLevel, "linkbeat_interfaces"),
    skipped(TopLevel, "linkbeat_use_polling"),
    skipped(TopLevel, "namespace_with_ipsets"),
    skipped(TopLevel, "net_namespace"),
    skipped(TopLevel, "net_namespace_ipvs"),
    skipped(TopLevel, "track_group"),
    skipped(TopLevel, "use_pid_dir"),
    skipped(TopLevel, "virtual_server"),
    skipped(TopLevel, "virtual_server_group"),
    // global_defs
    runs(GlobalDefs, "router_id", "the name in notify and FIFO lines"),
    runs(
        GlobalDefs,
        "vrrp_version",
        "default version of the instances (vrrp::fsm)",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_master_delay",
        "second GARP/NA burst of a new Master (agent::instance)",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_master_repeat",
        "GARP/NA messages per burst",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_master_refresh",
        "periodic GARP/NA refresh of a Master",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_master_refresh_repeat",
        "messages per refresh",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_lower_prio_delay",
        "second burst after hearing a lower priority",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_lower_prio_repeat",
        "burst after hearing a lower priority",
    ),
    runs(GlobalDefs, "vrrp_min_garp", "defaults of the garp settings"),
    runs(
        GlobalDefs,
        "vrrp_notify_priority_changes",
        "default of notify_priority_changes",
    ),
    runs(
        GlobalDefs,
        "vrrp_garp_interval",
        "pacing of GARPs on one interface",
    ),
    runs(
        GlobalDefs,
        "vrrp_gna_interval",
        "pacing of unsolicited NAs on one interface",
    ),
    runs(
        GlobalDefs,
        "vrrp_mcast_group4",
        "IPv4 advert destination and the group joined",
    ),
    runs(
        GlobalDefs,
        "vrrp_mcast_group6",
        "IPv6 advert destination and the group joined",
    ),
    runs(
        GlobalDefs,
        "vrrp_strict",
        "strict mode of every instance (config::resolve, XDP no_accept)",
    ),
    runs(
        GlobalDefs,
        "vrrp_lower_prio_no_advert",
        "default of lower_prio_no_advert (vrrp::fsm)",
    ),
    runs(
        GlobalDefs,
        "vrrp_higher_prio_send_advert",
        "default of higher_prio_send_advert (vrrp::fsm)",
    ),
    runs(
        GlobalDefs,
        "vrrp_down_timer_adverts",
        "default of down_timer_adverts (vrrp::fsm)",
    ),
    own(
        GlobalDefs,
        "v3_checksum_as_v2",
        "VRRPv3 IPv4 checksum without the pseudo-header (vrrp::packet)",
    ),
    runs(
        GlobalDefs,
        "enable_script_security",
        "scripts vetted before they run (agent::script_security)",
    ),
    runs(
        GlobalDefs,
        "script_user",
        "user and group of scripts that name none",
    ),
    runs(
        GlobalDefs,
        "notify_fifo",
        "state changes written as lines (agent::notify)",
    ),
    runs(
        GlobalDefs,
        "notify_fifo_script",
        "reader of notify_fifo, started by the agent",
    ),
    runs(
        GlobalDefs,
        "vrrp_notify_fifo",
        "state changes written as lines (agent::notify)",
    ),
    runs(
        GlobalDefs,
        "vrrp_notify_fifo_script",
        "reader of vrrp_notify_fifo, started by the agent",
    ),
    runs(
        GlobalDefs,
        "fifo_write_vrrp_states_on_reload",
        "states written to the FIFOs after a reload",
    ),
    runs(
        GlobalDefs,
        "default_interface",
        "interface of static addresses without dev",
    ),
    skipped(GlobalDefs, "bfd_cpu_affinity"),
    skipped(GlobalDefs, "bfd_no_swap"),
    skipped(GlobalDefs, "bfd_priority"),
    skipped(GlobalDefs, "bfd_process_name"),
    skipped(GlobalDefs, "bfd_rlimit_rtime"),
    skipped(GlobalDefs, "bfd_rlimit_rttime"),
    skipped(GlobalDefs, "bfd_rt_priority"),
    skipped(GlobalDefs, "checker_cpu_affinity"),
    skipped(GlobalDefs, "checker_log_all_failures"),
    skipped(GlobalDefs, "checker_no_swap"),
    skipped(GlobalDefs, "checker_priority"),
    skipped(GlobalDefs, "checker_process_name"),
    skipped(GlobalDefs, "checker_rlimit_rtime"),
    skipped(GlobalDefs, "checker_rlimit_rttime"),
    skipped(GlobalDefs, "checker_rt_priority"),
    skipped(GlobalDefs, "config_save_dir"),
    skipped(GlobalDefs, "data_use_instance"),
    skipped(GlobalDefs, "dbus_service_name"),
    skipped(GlobalDefs, "disable_local_igmp"),
    skipped(GlobalDefs, "dynamic_interfaces"),
    skipped(GlobalDefs, "email_faults"),
    skipped(GlobalDefs, "enable_dbus"),
    skipped(GlobalDefs, "enable_snmp_checker"),
    skipped(GlobalDefs, "enable_snmp_keepalived"),
    skipped(GlobalDefs, "enable_snmp_rfc"),
    skipped(GlobalDefs, "enable_snmp_rfcv2"),
    skipped(GlobalDefs, "enable_snmp_rfcv3"),
    skipped(GlobalDefs, "enable_snmp_vrrp"),
    skipped(GlobalDefs, "enable_traps"),
    skipped(GlobalDefs, "include_check"),
    skipped(GlobalDefs, "instance"),
    skipped(GlobalDefs, "linkbeat_use_polling"),
    skipped(GlobalDefs, "log_unknown_vrids"),
    skipped(GlobalDefs, "lvs_flush"),
    skipped(GlobalDefs, "lvs_flush_on_stop"),
    skipped(GlobalDefs, "lvs_flush_onstop"),
    skipped(GlobalDefs, "lvs_netlink_cmd_rcv_bufs"),
    skipped(GlobalDefs, "lvs_netlink_cmd_rcv_bufs_force"),
    skipped(GlobalDefs, "lvs_netlink_monitor_rcv_bufs"),
    skipped(GlobalDefs, "lvs_netlink_monitor_rcv_bufs_force"),
    skipped(GlobalDefs, "lvs_notify_fifo"),
    skipped(GlobalDefs, "lvs_notify_fifo_script"),
    skipped(GlobalDefs, "lvs_process_name"),
    skipped(GlobalDefs, "lvs_sync_daemon"),
    skipped(GlobalDefs, "lvs_timeouts"),
    skipped(GlobalDefs, "max_auto_priority"),
    skipped(GlobalDefs, "min_auto_priority_delay"),
    skipped(GlobalDefs, "namespace_with_ipsets"),
    skipped(GlobalDefs, "net_namespace"),
    skipped(GlobalDefs, "net_namespace_ipvs"),
    skipped(GlobalDefs, "nftables"),
    skipped(GlobalDefs, "nftables_counters"),
    skipped(GlobalDefs, "nftables_ifindex"),
    skipped(GlobalDefs, "nftables_ipvs"),
    skipped(GlobalDefs, "nftables_ipvs_priority"),
    skipped(GlobalDefs, "nftables_ipvs_start_fwmark"),
    skipped(GlobalDefs, "nftables_priority"),
    skipped(GlobalDefs, "no_checker_emails"),
    skipped(GlobalDefs, "no_email_faults"),
    skipped(GlobalDefs, "notification_email"),
    skipped(GlobalDefs, "notification_email_from"),
    skipped(GlobalDefs, "process_monitor_rcv_bufs"),
    skipped(GlobalDefs, "process_monitor_rcv_bufs_force"),
    skipped(GlobalDefs, "process_name"),
    skipped(GlobalDefs, "process_names"),
    skipped(GlobalDefs, "random_seed"),
    skipped(GlobalDefs, "reload_check_config"),
    skipped(GlobalDefs, "reload_file"),
    skipped(GlobalDefs, "reload_repeat"),
    skipped(GlobalDefs, "reload_time_file"),
    skipped(GlobalDefs, "rs_init_notifies"),
    skipped(GlobalDefs, "shutdown_script"),
    skipped(GlobalDefs, "shutdown_script_timeout"),
    skipped(GlobalDefs, "smtp_alert"),
    skipped(GlobalDefs, "smtp_alert_checker"),
    skipped(GlobalDefs, "smtp_alert_vrrp"),
    skipped(GlobalDefs, "smtp_connect_timeout"),
    skipped(GlobalDefs, "smtp_helo_name"),
    skipped(GlobalDefs, "smtp_server"),
    skipped(GlobalDefs, "snmp_socket"),
    skipped(GlobalDefs, "startup_script"),
    skipped(GlobalDefs, "startup_script_timeout"),
    skipped(GlobalDefs, "tmp_config_directory"),
    skipped(GlobalDefs, "umask"),
    skipped(GlobalDefs, "use_pid_dir"),
    skipped(GlobalDefs, "vmac_addr_prefix"),
    runs(
        GlobalDefs,
        "vmac_prefix",
        "the start of the names use_vmac gives (config::resolve)",
    ),
    runs(
        GlobalDefs,
        "vrrp_check_unicast_src",
        "always on: unicast adverts only from peers (vrrp::fsm, XDP policy)",
    ),
    skipped(GlobalDefs, "vrrp_cpu_affinity"),
    skipped(GlobalDefs, "vrrp_garp_extra_if"),
    skipped(GlobalDefs, "vrrp_garp_extra_if_vmac"),
    skipped(GlobalDefs, "vrrp_ipsets"),
    skipped(GlobalDefs, "vrrp_iptables"),
    skipped(GlobalDefs, "vrrp_netlink_cmd_rcv_bufs"),
    skipped(GlobalDefs, "vrrp_netlink_cmd_rcv_bufs_force"),
    skipped(GlobalDefs, "vrrp_netlink_monitor_rcv_bufs"),
    skipped(GlobalDefs, "vrrp_netlink_monitor_rcv_bufs_force"),
    skipped(GlobalDefs, "vrrp_nftables"),
    skipped(GlobalDefs, "vrrp_no_swap"),
    skipped(GlobalDefs, "vrrp_priority"),
    skipped(GlobalDefs, "vrrp_process_name"),
    skipped(GlobalDefs, "vrrp_rlimit_rtime"),
    skipped(GlobalDefs, "vrrp_rlimit_rttime"),
    skipped(GlobalDefs, "vrrp_rt_priority"),
    skipped(GlobalDefs, "vrrp_rx_bufs_multiplier"),
    skipped(GlobalDefs, "vrrp_rx_bufs_policy"),
    skipped(GlobalDefs, "vrrp_skip_check_adv_addr"),
    skipped(GlobalDefs, "vrrp_startup_delay"),
    skipped(GlobalDefs, "vrrp_track_process"),
    skipped(GlobalDefs, "vrrp_vmac_garp_intvl"),
    // vrrp_instance
    runs(VrrpInstance, "state", "initial state (vrrp::fsm)"),
    runs(
        VrrpInstance,
        "interface",
        "where the election runs and the VIPs go",
    ),
    runs(
        VrrpInstance,
        "virtual_router_id",
        "VRID of the adverts, the virtual MAC",
    ),
    runs(VrrpInstance, "priority", "priority advertised (vrrp::fsm)"),
    runs(VrrpInstance, "advert_int", "advert interval (vrrp::fsm)"),
    runs(VrrpInstance, "nopreempt", "Preempt_Mode off (vrrp::fsm)"),
    runs(VrrpInstance, "preempt", "Preempt_Mode on (vrrp::fsm)"),
    runs(
        VrrpInstance,
        "preempt_delay",
        "delayed preemption (vrrp::fsm)",
    ),
    runs(
        VrrpInstance,
        "version",
        "VRRP version (vrrp::packet, vrrp::fsm, XDP policy)",
    ),
    runs(
        VrrpInstance,
        "unicast_src_ip",
        "advert source and tie-break address",
    ),
    runs(
        VrrpInstance,
        "mcast_src_ip",
        "advert source and tie-break address",
    ),
    runs(
        VrrpInstance,
        "unicast_peer",
        "unicast destinations, accepted sources and their TTL ranges (vrrp::fsm, XDP policy)",
    ),
    runs(
        VrrpInstance,
        "unicast_ttl",
        "TTL / hop limit of the adverts (net::vrrp_socket)",
    ),
    runs(
        VrrpInstance,
        "authentication",
        "VRRPv2 password (vrrp::packet, XDP policy)",
    ),
    runs(
        VrrpInstance,
        "virtual_ipaddress",
        "VIPs added as Master, answered in XDP (net::netlink, dataplane)",
    ),
    runs(
        VrrpInstance,
        "virtual_ipaddress_excluded",
        "VIPs added as Master, not advertised",
    ),
    runs(
        VrrpInstance,
        "track_interface",
        "interface tracker (agent::trackers)",
    ),
    runs(
        VrrpInstance,
        "track_script",
        "script tracker (agent::health)",
    ),
    runs(VrrpInstance, "track_file", "file tracker (agent::trackers)"),
    runs(
        VrrpInstance,
        "track_process",
        "process tracker (agent::trackers)",
    ),
    runs(
        VrrpInstance,
        "notify_master",
        "script run on MASTER (agent::notify)",
    ),
    runs(
        VrrpInstance,
        "notify_backup",
        "script run on BACKUP (agent::notify)",
    ),
    runs(
        VrrpInstance,
        "notify_fault",
        "script run on FAULT (agent::notify)",
    ),
    runs(
        VrrpInstance,
        "notify_stop",
        "script run on STOP (agent::notify)",
    ),
    runs(
        VrrpInstance,
        "notify",
        "script run on every state change (agent::notify)",
    ),
    runs(
        VrrpInstance,
        "notify_master_rx_lower_pri",
        "script run when the Master hears a lower priority (agent::notify)",
    ),
    runs(
        VrrpInstance,
        "garp_master_delay",
        "second GARP/NA burst of a new Master",
    ),
    runs(
        VrrpInstance,
        "garp_master_repeat",
        "GARP/NA messages per burst",
    ),
    runs(
        VrrpInstance,
        "garp_master_refresh",
        "periodic GARP/NA refresh",
    ),
    runs(
        VrrpInstance,
        "garp_master_refresh_repeat",
        "messages per refresh",
    ),
    runs(
        VrrpInstance,
        "garp_lower_prio_delay",
        "second burst after hearing a lower priority",
    ),
    runs(
        VrrpInstance,
        "garp_lower_prio_repeat",
        "burst after hearing a lower priority",
    ),
    runs(
        VrrpInstance,
        "accept",
        "traffic to the VIPs accepted (XDP ownership flags)",
    ),
    runs(
        VrrpInstance,
        "no_accept",
        "traffic to the VIPs dropped in XDP",
    ),
    runs(
        VrrpInstance,
        "notify_priority_changes",
        "priority changes written to the FIFOs",
    ),
    runs(
        VrrpInstance,
        "notify_deleted",
        "DELETED told when a reload removes the instance",
    ),
    runs(
        VrrpInstance,
        "dont_track_primary",
        "the interface's link does not fault the instance",
    ),
    runs(
        VrrpInstance,
        "strict_mode",
        "strict mode of this instance (config::resolve)",
    ),
    runs(
        VrrpInstance,
        "lower_prio_no_advert",
        "no answer to a lower priority (vrrp::fsm)",
    ),
    runs(
        VrrpInstance,
        "higher_prio_send_advert",
        "one advert before yielding (vrrp::fsm)",
    ),
    runs(
        VrrpInstance,
        "down_timer_adverts",
        "Master_Down_Interval (vrrp::fsm)",
    ),
    runs(
        VrrpInstance,
        "virtual_routes",
        "routes installed as Master (net::netlink)",
    ),
    runs(
        VrrpInstance,
        "virtual_rules",
        "rules installed as Master (net::netlink)",
    ),
    runs(
        VrrpInstance,
        "check_unicast_src",
        "always on: unicast adverts only from peers (vrrp::fsm, XDP policy)",
    ),
    skipped(VrrpInstance, "debug"),
    skipped(VrrpInstance, "garp_extra_if"),
    skipped(VrrpInstance, "garp_extra_if_vmac"),
    skipped(VrrpInstance, "kernel_rx_buf_size"),
    skipped(VrrpInstance, "linkbeat_use_polling"),
    skipped(VrrpInstance, "lvs_sync_daemon_interface"),
    skipped(VrrpInstance, "mcast_dst_ip"),
    skipped(VrrpInstance, "native_ipv6"),
    skipped(VrrpInstance, "old_unicast_checksum"),
    skipped(VrrpInstance, "promote_secondaries"),
    skipped(VrrpInstance, "skip_check_adv_addr"),
    skipped(VrrpInstance, "smtp_alert"),
    skipped(VrrpInstance, "track_bfd"),
    skipped(VrrpInstance, "track_src_ip"),
    skipped(VrrpInstance, "unicast_fault_no_peer"),
    skipped(VrrpInstance, "use_ipvlan"),
    runs(
        VrrpInstance,
        "use_vmac",
        "a macvlan with the virtual router MAC holds the VIPs and sends the adverts (agent::vmac, XDP replies)",
    ),
    skipped(VrrpInstance, "use_vmac_addr"),
    skipped(VrrpInstance, "vmac_garp_intvl"),
    runs(
        VrrpInstance,
        "vmac_xmit_base",
        "adverts leave from the instance's interface, not its VMAC (agent::vmac)",
    ),
    skipped(VrrpInstance, "vrf"),
    // authentication
    runs(
        Authentication,
        "auth_type",
        "PASS authentication (vrrp::packet)",
    ),
    runs(
        Authentication,
        "auth_pass",
        "the password (vrrp::packet, XDP policy)",
    ),
    // vrrp_script
    runs(VrrpScript, "script", "the command run (agent::health)"),
    runs(VrrpScript, "interval", "how often it runs"),
    runs(VrrpScript, "timeout", "when a run counts as failed"),
    runs(VrrpScript, "weight", "priority change while up or down"),
    runs(VrrpScript, "rise", "successes before up"),
    runs(VrrpScript, "fall", "failures before down"),
    runs(VrrpScript, "user", "user and group it runs as"),
    runs(VrrpScript, "init_fail", "starts as failed"),
    // track_file
    runs(
        TrackFile,
        "file",
        "the file watched with inotify (agent::trackers)",
    ),
    runs(TrackFile, "weight", "value x weight on the priority"),
    runs(TrackFile, "init_file", "file written at start"),
    // vrrp_track_process
    runs(
        VrrpTrackProcess,
        "process",
        "what is counted in /proc (agent::trackers)",
    ),
    runs(VrrpTrackProcess, "param_match", "how the parameters match"),
    runs(
        VrrpTrackProcess,
        "full_command",
        "argv[0] instead of the name",
    ),
    runs(
        VrrpTrackProcess,
        "weight",
        "priority change with the quorum",
    ),
    runs(VrrpTrackProcess, "quorum", "fewest processes for up"),
    runs(VrrpTrackProcess, "quorum_max", "most processes for up"),
    runs(VrrpTrackProcess, "delay", "fork_delay and terminate_delay"),
    runs(
        VrrpTrackProcess,
        "terminate_delay",
        "a lost quorum counts after it",
    ),
    runs(
        VrrpTrackProcess,
        "fork_delay",
        "a gained quorum counts after it",
    ),
    // vrrp_sync_group
    runs(
        VrrpSyncGroup,
        "notify_priority_changes",
        "default of the members",
    ),
    runs(
        VrrpSyncGroup,
        "sync_group_tracking_weight",
        "members keep their trackers' weights",
    ),
    runs(
        VrrpSyncGroup,
        "global_tracking",
        "sync_group_tracking_weight (deprecated)",
    ),
    runs(VrrpSyncGroup, "group", "the members (agent::core)"),
    runs(
        VrrpSyncGroup,
        "track_interface",
        "interface tracker of every member",
    ),
    runs(
        VrrpSyncGroup,
        "track_script",
        "script tracker of every member",
    ),
    runs(VrrpSyncGroup, "track_file", "file tracker of every member"),
    runs(
        VrrpSyncGroup,
        "track_process",
        "process tracker of every member",
    ),
    runs(
        VrrpSyncGroup,
        "notify_master",
        "script run when the group is MASTER",
    ),
    runs(
        VrrpSyncGroup,
        "notify_backup",
        "script run when the group is BACKUP",
    ),
    runs(
        VrrpSyncGroup,
        "notify_fault",
        "script run when the group is FAULT",
    ),
    runs(
        VrrpSyncGroup,
        "notify_stop",
        "script run when the group stops",
    ),
    runs(
        VrrpSyncGroup,
        "notify",
        "script run on every group state change",
    ),
    skipped(VrrpSyncGroup, "smtp_alert"),
    skipped(VrrpSyncGroup, "track_bfd"),
];

/// What vip-agent does with `name` in `section`; `None` for a word keepalived
/// does not know either.
pub fn support(section: Section, name: &str) -> Option<Support> {
    KEYWORDS
        .iter()
        .find(|k| k.section == section && k.name == name)
        .map(|k| k.support)
}

/// Whether the reader skips `name` in `section` with a warning.
pub fn skipped_in(section: Section, name: &str) -> bool {
    support(section, name) == Some(Support::Skipped)
}

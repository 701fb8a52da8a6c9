//! VRRP protocol core: packet codec and state machine (no I/O).
//!
//! [`packet`] encodes and decodes VRRPv2 (RFC 3768) and VRRPv3 (RFC 5798 /
//! RFC 9568) advertisements; [`fsm`] is the per-instance state machine of
//! RFC 5798 section 6, driven by events and a caller-supplied clock.

pub mod fsm;
pub mod packet;

pub use fsm::{
    Action, DiscardReason, Event, InitialState, Instance, Params, ParamsError, ProtocolVersion,
    State, Timer, TransitionReason, UnicastPeer, DOWN_TIMER_ADVERTS,
};
pub use packet::{
    Advertisement, Auth, ChecksumKind, ChecksumMode, DecodeError, EncodeError, Version,
};

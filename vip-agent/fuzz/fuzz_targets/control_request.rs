//! The control socket's JSON lines, both ends.
//!
//! The input is one line as the agent's server reads it (`parse_request`, the
//! function the server calls). Beyond not panicking: a request that parses
//! serializes (as the client writes it) and parses back to the same request;
//! one that does not gets a `bad request: ...` message, or says which protocol
//! version it does not speak. The same bytes are
//! also read as the client reads the agent's answer, and a status in it is
//! formatted as `vip-agent status` shows it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vip_agent::control::{format_status, parse_request, Response};

fuzz_target!(|line: &[u8]| {
    match parse_request(line) {
        Ok(request) => {
            let written = serde_json::to_string(&request)
                .unwrap_or_else(|err| panic!("{request:?} does not serialize: {err}"));
            let again = parse_request(written.as_bytes())
                .unwrap_or_else(|err| panic!("{written} does not parse back: {err}"));
            assert_eq!(again.version, request.version, "{written}");
            assert_eq!(again.command, request.command, "{written}");
        }
        // Unreadable, or a protocol version this agent does not speak.
        Err(message) => assert!(
            message.starts_with("bad request: ")
                || message.starts_with("unsupported protocol version "),
            "{message}"
        ),
    }
    if let Ok(response) = serde_json::from_slice::<Response>(line) {
        if let Some(status) = &response.status {
            let _ = format_status(status);
        }
    }
});

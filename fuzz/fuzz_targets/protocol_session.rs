//! The protocol state machines fed arbitrary messages: the server's and the client's
//! sessions take any sequence of decodable frames without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::protocol::{self, ClientSession, ServerSession};

fuzz_target!(|data: &[u8]| {
    let mut server = ServerSession::new("server", "storage");
    let mut client = ClientSession::new("client", Some("tablet".to_string()));
    // Frames are length-prefixed by one byte, so one input is a whole conversation.
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        let (frame, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(message) = protocol::decode(frame) {
            let _ = server.receive(message.clone());
            let _ = client.receive(message);
        }
    }
});

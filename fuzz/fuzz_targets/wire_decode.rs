//! The wire-message decoder on arbitrary bytes: an error or a message, never a panic; a
//! decoded message encodes and decodes to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::protocol;

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = protocol::decode(data) {
        let again = protocol::decode(&protocol::encode(&message)).expect("re-decodes");
        assert_eq!(again, message);
    }
});

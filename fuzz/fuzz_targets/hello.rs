//! Fuzzes the connection hello (`read_hello`): stray bytes are refused without panicking, an
//! accepted hello is exactly magic + this protocol + a length-prefixed build string, and this
//! build's own hello is accepted while every prefix of it is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zccache::ipc::hello::{hello_bytes, read_hello, MAGIC};
use zccache::ipc::PROTOCOL_VERSION;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    if let Ok(build) = read_hello(&mut input) {
        assert!(data.starts_with(MAGIC));
        assert_eq!(data[8..12], PROTOCOL_VERSION.to_le_bytes());
        let len = data[12] as usize;
        assert_eq!(data.len() - input.len(), 13 + len, "reads exactly one hello");
        assert_eq!(build, String::from_utf8_lossy(&data[13..13 + len]));
    }
    // Own hello, with the fuzz bytes after it: accepted, and the rest left unread.
    let own = hello_bytes();
    let mut stream = own.clone();
    stream.extend_from_slice(data);
    let mut rest = stream.as_slice();
    assert!(read_hello(&mut rest).is_ok());
    assert_eq!(rest, data);
    let cut = data.first().map_or(0, |&b| b as usize % own.len());
    assert!(read_hello(&mut &own[..cut]).is_err());
});

//! Fuzzes the daemon's frame decoding (`read_frame`) for both directions of the protocol:
//! untrusted bytes must decode or be refused without panicking; a decoded frame must consume
//! exactly its length, re-encode to a fixed point, and refuse any truncation or extra byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};
use zccache::ipc::{read_frame, write_frame, FrameError, Request, Response};

fuzz_target!(|data: &[u8]| {
    check::<Request>(data);
    check::<Response>(data);
});

fn check<T: Serialize + DeserializeOwned>(data: &[u8]) {
    let mut input = data;
    let Ok(msg) = read_frame::<T>(&mut input) else {
        return;
    };
    let consumed = data.len() - input.len();
    let len = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    assert_eq!(consumed, 4 + len, "a frame consumes its header and its length");
    let frame = &data[..consumed];

    let mut encoded = Vec::new();
    write_frame(&mut encoded, &msg).expect("a decoded message re-encodes");
    let again: T = read_frame(&mut encoded.as_slice()).expect("own encoding decodes");
    let mut encoded_again = Vec::new();
    write_frame(&mut encoded_again, &again).expect("re-encode");
    assert_eq!(encoded, encoded_again, "encode(decode(encode(m))) == encode(m)");

    // Every strict prefix of the frame is refused (a sample of cut points for long frames).
    let step = (consumed / 64).max(1);
    for cut in (0..consumed).step_by(step).chain([consumed - 1]) {
        assert!(read_frame::<T>(&mut &frame[..cut]).is_err(), "prefix {cut} accepted");
    }
    // One byte more inside the frame is refused as trailing.
    let mut longer = frame.to_vec();
    longer[..4].copy_from_slice(&((len + 1) as u32).to_le_bytes());
    longer.push(0);
    assert!(matches!(
        read_frame::<T>(&mut longer.as_slice()),
        Err(FrameError::Trailing(1))
    ));
}

//! Framing: a little-endian u32 length followed by a postcard-encoded message.

use serde::{de::DeserializeOwned, Serialize};
use std::io::{Read, Write};

/// Largest frame accepted (outputs of one compile travel in one frame).
pub const MAX_FRAME: usize = 1 << 30;

/// What a frame's buffer starts with before its bytes arrive (it grows as they do).
const INITIAL_BODY_CAPACITY: usize = 64 << 10;

/// Framing and decoding failures.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("connection closed")]
    Closed,
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("malformed message: {0}")]
    Decode(#[from] postcard::Error),
    #[error("frame has {0} bytes after its message")]
    Trailing(usize),
}

/// Writes one message as a frame.
pub fn write_frame<T: Serialize>(out: &mut impl Write, msg: &T) -> Result<(), FrameError> {
    out.write_all(&encode_frame(msg)?)?;
    out.flush()?;
    Ok(())
}

/// One message as the bytes of its frame (length header and body).
pub fn encode_frame<T: Serialize>(msg: &T) -> Result<Vec<u8>, FrameError> {
    let body = postcard::to_stdvec(msg)?;
    if body.len() > MAX_FRAME {
        return Err(FrameError::TooLarge(body.len()));
    }
    let mut buf = Vec::with_capacity(body.len() + 4);
    buf.extend_from_slice(&(body.len() as u32).to_le_bytes());
    buf.extend_from_slice(&body);
    Ok(buf)
}

/// Reads one frame and decodes it.
pub fn read_frame<T: DeserializeOwned>(input: &mut impl Read) -> Result<T, FrameError> {
    let mut len = [0u8; 4];
    match input.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    // Grow the buffer with the bytes that actually arrive: a header alone must not make the
    // daemon reserve up to MAX_FRAME.
    let mut body = Vec::with_capacity(len.min(INITIAL_BODY_CAPACITY));
    input.take(len as u64).read_to_end(&mut body)?;
    if body.len() < len {
        return Err(FrameError::Io(std::io::ErrorKind::UnexpectedEof.into()));
    }
    let (msg, rest) = postcard::take_from_bytes(&body)?;
    if !rest.is_empty() {
        return Err(FrameError::Trailing(rest.len()));
    }
    Ok(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &("hello".to_string(), 42u32)).unwrap();
        let back: (String, u32) = read_frame(&mut buf.as_slice()).unwrap();
        assert_eq!(back, ("hello".to_string(), 42));
        let garbage = [3u8, 0, 0, 0, 0xff, 0xff, 0xff];
        assert!(read_frame::<(String, u32)>(&mut garbage.as_slice()).is_err());
        let truncated = [10u8, 0, 0, 0, 1];
        assert!(read_frame::<(String, u32)>(&mut truncated.as_slice()).is_err());
        let mut trailing = Vec::new();
        write_frame(&mut trailing, &7u8).unwrap();
        trailing[0] += 1;
        trailing.push(0);
        assert!(matches!(
            read_frame::<u8>(&mut trailing.as_slice()),
            Err(FrameError::Trailing(1))
        ));
        let huge = [0xffu8, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<(String, u32)>(&mut huge.as_slice()),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn a_header_alone_does_not_reserve_its_length() {
        // Found by the frame fuzz target (-malloc_limit_mb=256): 4 bytes claiming a 1 GiB
        // frame made read_frame allocate 1 GiB before reading any of it.
        struct Counting<'a>(&'a [u8], usize);
        impl Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.1 = self.1.max(buf.len());
                self.0.read(buf)
            }
        }
        let mut header = Counting(&[0, 0, 0, 0x40], 0);
        assert!(matches!(
            read_frame::<u8>(&mut header),
            Err(FrameError::Io(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof
        ));
        assert!(
            header.1 <= INITIAL_BODY_CAPACITY,
            "asked for {} bytes",
            header.1
        );
    }
}

//! The hello every connection opens with, before any frame: magic bytes, the protocol
//! version and the client's build. The daemon acts on nothing before a valid hello, so stray
//! bytes written to the socket (a port scanner, a confused tool, an older zccache) can never
//! be taken for a request.

use super::messages::PROTOCOL_VERSION;
use std::io::{Read, Write};

/// The first bytes of every connection.
pub const MAGIC: &[u8; 8] = b"ZCCACHE\x01";

/// Why a hello was refused.
#[derive(Debug, thiserror::Error)]
pub enum HelloError {
    #[error("connection did not open with the zccache hello")]
    NotZccache,
    #[error(
        "peer speaks protocol {peer} (zccache {build}), this daemon speaks {PROTOCOL_VERSION}"
    )]
    Version { peer: u32, build: String },
    #[error("i/o error reading the hello: {0}")]
    Io(#[from] std::io::Error),
}

/// The bytes of this build's hello.
pub fn hello_bytes() -> Vec<u8> {
    let build = crate::build_info::build_string();
    let build = build.as_bytes();
    let mut out = Vec::with_capacity(MAGIC.len() + 5 + build.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&PROTOCOL_VERSION.to_le_bytes());
    out.push(build.len().min(255) as u8);
    out.extend_from_slice(&build[..build.len().min(255)]);
    out
}

/// Sends this build's hello.
pub fn write_hello(out: &mut impl Write) -> std::io::Result<()> {
    out.write_all(&hello_bytes())
}

/// Reads and checks a peer's hello; Ok(build string of the peer).
pub fn read_hello(input: &mut impl Read) -> Result<String, HelloError> {
    let mut magic = [0u8; 8];
    input.read_exact(&mut magic).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => HelloError::NotZccache,
        _ => HelloError::Io(e),
    })?;
    if &magic != MAGIC {
        return Err(HelloError::NotZccache);
    }
    let mut version = [0u8; 4];
    input.read_exact(&mut version)?;
    let mut len = [0u8; 1];
    input.read_exact(&mut len)?;
    let mut build = vec![0u8; len[0] as usize];
    input.read_exact(&mut build)?;
    let build = String::from_utf8_lossy(&build).into_owned();
    let peer = u32::from_le_bytes(version);
    if peer != PROTOCOL_VERSION {
        return Err(HelloError::Version { peer, build });
    }
    Ok(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_own_hello_rejects_others() {
        let ok = hello_bytes();
        assert!(read_hello(&mut ok.as_slice()).is_ok());
        assert!(matches!(
            read_hello(&mut [1u8, 0, 0, 0, 7].as_slice()),
            Err(HelloError::NotZccache)
        ));
        let mut other = ok.clone();
        other[8] = other[8].wrapping_add(1);
        assert!(matches!(
            read_hello(&mut other.as_slice()),
            Err(HelloError::Version { .. })
        ));
        assert!(read_hello(&mut ok[..10].to_vec().as_slice()).is_err());
    }
}

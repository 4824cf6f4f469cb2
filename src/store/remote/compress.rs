//! zstd framing for engines that store opaque values (Redis, S3): every value is one zstd
//! frame, bounded on the way back in so a hostile value cannot exhaust memory.

use super::backend::RemoteError;
use std::io::Read;

/// Largest value accepted back from an engine, decompressed.
pub const MAX_VALUE: u64 = 4 << 30;

pub fn compress(bytes: &[u8]) -> Result<Vec<u8>, RemoteError> {
    zstd::bulk::compress(bytes, 3).map_err(|e| RemoteError::failed(format!("zstd: {e}")))
}

pub fn decompress(bytes: &[u8]) -> Result<Vec<u8>, RemoteError> {
    let decoder =
        zstd::Decoder::new(bytes).map_err(|e| RemoteError::failed(format!("zstd: {e}")))?;
    let mut out = Vec::new();
    decoder
        .take(MAX_VALUE + 1)
        .read_to_end(&mut out)
        .map_err(|e| RemoteError::failed(format!("zstd: {e}")))?;
    if out.len() as u64 > MAX_VALUE {
        return Err(RemoteError::failed("value too large"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trips_and_rejects_garbage() {
        let data = b"hello hello hello hello".repeat(100);
        let packed = super::compress(&data).unwrap();
        assert!(packed.len() < data.len());
        assert_eq!(super::decompress(&packed).unwrap(), data);
        assert!(super::decompress(b"not zstd").is_err());
    }
}

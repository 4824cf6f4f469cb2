//! Entries in REAPI shape, so existing engines hold them as they are: an action-cache value
//! is a real `ActionResult` whose outputs point at SHA-256 CAS blobs (bazel-remote can keep
//! its action-cache validation on). A result's outputs are `out/<role>` files, its
//! stdout/stderr go to the CAS, and what zccache needs beyond REAPI (depfile tokens, compile
//! time, file modes) is one more CAS file, `zccache/record`. A manifest is one CAS file,
//! `zccache/manifest`. With a shared secret (`ZCCACHE_REMOTE_KEY`) every action-cache value
//! carries an HMAC-SHA256 over its key and every digest it names.

use crate::store::records::{Manifest, ResultRecord};
use crate::store::Digest;
use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use hmac::{Hmac, KeyInit, Mac};
use prost::Message;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The size the action digests are named with (our keys are 32-byte digests).
pub const ACTION_SIZE: u64 = 32;
const RECORD_PATH: &str = "zccache/record";
const MANIFEST_PATH: &str = "zccache/manifest";
const SIGNATURE_PREFIX: &str = "zccache sig=";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(64);
    for b in digest.iter() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// The action-cache key of one of our keys: SHA-256 over a versioned label, so manifests and
/// results never collide and a format change moves to fresh keys.
pub fn action_key(kind: &str, key: &Digest) -> String {
    let mut material = Vec::with_capacity(64);
    material.extend_from_slice(b"zccache-remote-v1\0");
    material.extend_from_slice(kind.as_bytes());
    material.push(0);
    material.extend_from_slice(key);
    sha256_hex(&material)
}

/// A CAS blob: its SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub hash: String,
    pub size: u64,
}

impl BlobRef {
    pub fn of(bytes: &[u8]) -> BlobRef {
        BlobRef {
            hash: sha256_hex(bytes),
            size: bytes.len() as u64,
        }
    }

    fn to_re(&self) -> re::Digest {
        re::Digest {
            hash: self.hash.clone(),
            size_bytes: self.size as i64,
        }
    }

    fn from_re(d: Option<&re::Digest>) -> Option<BlobRef> {
        let d = d?;
        let valid = d.hash.len() == 64 && d.hash.bytes().all(|b| b.is_ascii_hexdigit());
        (valid && d.size_bytes >= 0).then(|| BlobRef {
            hash: d.hash.to_ascii_lowercase(),
            size: d.size_bytes as u64,
        })
    }
}

/// What a result record holds beyond its outputs and streams.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordMeta {
    /// (role, mode) per output, in order.
    pub outputs: Vec<(String, u32)>,
    pub deps: Vec<String>,
    pub system_deps: Vec<bool>,
    pub compile_ms: u64,
    pub dep_info: Option<String>,
    pub preprocessor_ok: bool,
}

impl RecordMeta {
    pub fn of(record: &ResultRecord) -> RecordMeta {
        RecordMeta {
            outputs: record
                .outputs
                .iter()
                .map(|o| (o.role.clone(), o.mode))
                .collect(),
            deps: record.deps.clone(),
            system_deps: record.system_deps.clone(),
            compile_ms: record.compile_ms,
            dep_info: record.dep_info.clone(),
            preprocessor_ok: record.preprocessor_ok,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        crate::store::records::encode(self)
    }

    pub fn decode(bytes: &[u8]) -> Option<RecordMeta> {
        crate::store::records::decode(bytes)
    }
}

/// Everything a remote result names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRefs {
    /// (role, blob, executable) per output.
    pub outputs: Vec<(String, BlobRef, bool)>,
    pub record: BlobRef,
    pub stdout: Option<BlobRef>,
    pub stderr: Option<BlobRef>,
}

/// Why an action-cache value was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    #[error("not an ActionResult zccache wrote")]
    Malformed,
    #[error("missing or invalid signature")]
    BadSignature,
}

fn signature(secret: &[u8], ac_key: &str, result: &re::ActionResult) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(b"zccache-ac-sig-v1\0");
    mac.update(ac_key.as_bytes());
    for f in &result.output_files {
        mac.update(b"\0file\0");
        mac.update(f.path.as_bytes());
        if let Some(d) = &f.digest {
            mac.update(d.hash.as_bytes());
            mac.update(&d.size_bytes.to_le_bytes());
        }
        mac.update(&[f.is_executable as u8]);
    }
    for d in [&result.stdout_digest, &result.stderr_digest] {
        mac.update(b"\0stream\0");
        if let Some(d) = d {
            mac.update(d.hash.as_bytes());
            mac.update(&d.size_bytes.to_le_bytes());
        }
    }
    mac.update(&result.exit_code.to_le_bytes());
    let tag = mac.finalize().into_bytes();
    tag.iter().map(|b| format!("{b:02x}")).collect()
}

fn seal(mut result: re::ActionResult, ac_key: &str, secret: Option<&[u8]>) -> Vec<u8> {
    let worker = match secret {
        Some(secret) => format!("{SIGNATURE_PREFIX}{}", signature(secret, ac_key, &result)),
        None => "zccache".to_string(),
    };
    result.execution_metadata = Some(re::ExecutedActionMetadata {
        worker,
        ..Default::default()
    });
    result.encode_to_vec()
}

fn open(bytes: &[u8], ac_key: &str, secret: Option<&[u8]>) -> Result<re::ActionResult, Rejected> {
    let result = re::ActionResult::decode(bytes).map_err(|_| Rejected::Malformed)?;
    if let Some(secret) = secret {
        let claimed = result
            .execution_metadata
            .as_ref()
            .and_then(|m| m.worker.strip_prefix(SIGNATURE_PREFIX))
            .ok_or(Rejected::BadSignature)?;
        let expected = signature(secret, ac_key, &result);
        // Constant-time enough for a hex tag compared once per lookup.
        if expected.is_empty()
            || claimed.len() != expected.len()
            || claimed
                .bytes()
                .zip(expected.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                != 0
        {
            return Err(Rejected::BadSignature);
        }
    }
    if result.exit_code != 0 {
        return Err(Rejected::Malformed);
    }
    Ok(result)
}

fn file(path: String, blob: &BlobRef, executable: bool) -> re::OutputFile {
    re::OutputFile {
        path,
        digest: Some(blob.to_re()),
        is_executable: executable,
        ..Default::default()
    }
}

/// The action-cache value of a result.
pub fn encode_result(refs: &ResultRefs, ac_key: &str, secret: Option<&[u8]>) -> Vec<u8> {
    let mut output_files: Vec<re::OutputFile> = refs
        .outputs
        .iter()
        .map(|(role, blob, exec)| file(format!("out/{role}"), blob, *exec))
        .collect();
    output_files.push(file(RECORD_PATH.into(), &refs.record, false));
    let result = re::ActionResult {
        output_files,
        exit_code: 0,
        stdout_digest: refs.stdout.as_ref().map(BlobRef::to_re),
        stderr_digest: refs.stderr.as_ref().map(BlobRef::to_re),
        ..Default::default()
    };
    seal(result, ac_key, secret)
}

/// Reads a result's action-cache value.
pub fn decode_result(
    bytes: &[u8],
    ac_key: &str,
    secret: Option<&[u8]>,
) -> Result<ResultRefs, Rejected> {
    let result = open(bytes, ac_key, secret)?;
    let mut outputs = Vec::new();
    let mut record = None;
    for f in &result.output_files {
        let blob = BlobRef::from_re(f.digest.as_ref()).ok_or(Rejected::Malformed)?;
        if f.path == RECORD_PATH {
            record = Some(blob);
        } else if let Some(role) = f.path.strip_prefix("out/") {
            outputs.push((role.to_string(), blob, f.is_executable));
        } else {
            return Err(Rejected::Malformed);
        }
    }
    let stream = |d: &Option<re::Digest>| match d {
        None => Ok(None),
        Some(d) => BlobRef::from_re(Some(d))
            .map(Some)
            .ok_or(Rejected::Malformed),
    };
    Ok(ResultRefs {
        outputs,
        record: record.ok_or(Rejected::Malformed)?,
        stdout: stream(&result.stdout_digest)?,
        stderr: stream(&result.stderr_digest)?,
    })
}

/// The action-cache value of a manifest stored as `blob`.
pub fn encode_manifest(blob: &BlobRef, ac_key: &str, secret: Option<&[u8]>) -> Vec<u8> {
    let result = re::ActionResult {
        output_files: vec![file(MANIFEST_PATH.into(), blob, false)],
        exit_code: 0,
        ..Default::default()
    };
    seal(result, ac_key, secret)
}

/// The manifest blob a manifest's action-cache value names.
pub fn decode_manifest(
    bytes: &[u8],
    ac_key: &str,
    secret: Option<&[u8]>,
) -> Result<BlobRef, Rejected> {
    let result = open(bytes, ac_key, secret)?;
    match result.output_files.as_slice() {
        [f] if f.path == MANIFEST_PATH => {
            BlobRef::from_re(f.digest.as_ref()).ok_or(Rejected::Malformed)
        }
        _ => Err(Rejected::Malformed),
    }
}

pub fn encode_manifest_blob(manifest: &Manifest) -> Vec<u8> {
    crate::store::records::encode(manifest)
}

pub fn decode_manifest_blob(bytes: &[u8]) -> Option<Manifest> {
    crate::store::records::decode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> ResultRefs {
        ResultRefs {
            outputs: vec![("obj".into(), BlobRef::of(b"object bytes"), false)],
            record: BlobRef::of(b"record"),
            stdout: None,
            stderr: Some(BlobRef::of(b"warning: x")),
        }
    }

    #[test]
    fn action_cache_values_are_action_results() {
        let key = action_key("result", &[7; 32]);
        assert_eq!(key.len(), 64);
        let bytes = encode_result(&refs(), &key, None);
        let parsed = re::ActionResult::decode(bytes.as_slice()).expect("an ActionResult proto");
        assert_eq!(parsed.exit_code, 0);
        assert_eq!(parsed.output_files.len(), 2);
        assert_eq!(parsed.output_files[0].path, "out/obj");
        let d = parsed.output_files[0].digest.as_ref().unwrap();
        assert_eq!(d.hash, sha256_hex(b"object bytes"));
        assert_eq!(d.size_bytes, 12);
        assert!(parsed.stderr_digest.is_some() && parsed.stdout_digest.is_none());
        assert_eq!(decode_result(&bytes, &key, None).unwrap(), refs());

        let blob = BlobRef::of(b"manifest");
        let m = encode_manifest(&blob, &key, None);
        let parsed = re::ActionResult::decode(m.as_slice()).expect("an ActionResult proto");
        assert_eq!(parsed.output_files[0].path, "zccache/manifest");
        assert_eq!(decode_manifest(&m, &key, None).unwrap(), blob);
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn signatures_bind_key_and_digests() {
        let key = action_key("result", &[1; 32]);
        let signed = encode_result(&refs(), &key, Some(b"team secret"));
        assert!(decode_result(&signed, &key, Some(b"team secret")).is_ok());
        assert_eq!(
            decode_result(&signed, &key, Some(b"wrong")),
            Err(Rejected::BadSignature)
        );
        let unsigned = encode_result(&refs(), &key, None);
        assert_eq!(
            decode_result(&unsigned, &key, Some(b"team secret")),
            Err(Rejected::BadSignature)
        );
        let other_key = action_key("result", &[2; 32]);
        assert_eq!(
            decode_result(&signed, &other_key, Some(b"team secret")),
            Err(Rejected::BadSignature)
        );
        // A tampered digest breaks the signature.
        let mut tampered = re::ActionResult::decode(signed.as_slice()).unwrap();
        tampered.output_files[0].digest.as_mut().unwrap().size_bytes += 1;
        assert_eq!(
            decode_result(&tampered.encode_to_vec(), &key, Some(b"team secret")),
            Err(Rejected::BadSignature)
        );
        assert_eq!(decode_result(b"junk", &key, None), Err(Rejected::Malformed));
    }
}

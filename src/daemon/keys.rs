//! Cache keys: the manifest key (direct mode), the preprocessor-tier key and result keys.

use super::pathmap::PathMap;
use crate::meta::hash_cache::{USES_DATE_TIME, USES_TIMESTAMP};
use crate::store::records::ManifestEntry;
use crate::store::Digest;
use std::collections::HashMap;
use zccache_integrations::{normalize_prefix_map_arg, Invocation};

/// Bump to invalidate every existing key when key semantics change.
const KEY_VERSION: &[u8] = b"zccache-key-v4";

/// Environment variables that change a gcc/clang compile's output or diagnostics.
pub const OUTPUT_ENV: &[&str] = &[
    "CPATH",
    "C_INCLUDE_PATH",
    "CPLUS_INCLUDE_PATH",
    "OBJC_INCLUDE_PATH",
    "SOURCE_DATE_EPOCH",
    "GCC_EXEC_PREFIX",
    "COMPILER_PATH",
    "GCC_COMPARE_DEBUG",
    "CCC_OVERRIDE_OPTIONS",
    "SDKROOT",
    "MACOSX_DEPLOYMENT_TARGET",
    "LC_ALL",
    "LC_MESSAGES",
    "LC_CTYPE",
    "LANG",
    "LANGUAGE",
];

fn field(h: &mut blake3::Hasher, bytes: &[u8]) {
    h.update(&(bytes.len() as u64).to_le_bytes());
    h.update(bytes);
}

/// Direct-mode key: compiler identity, normalized args, output-affecting env, the cwd when
/// the output embeds it, and the content of extra inputs.
pub fn manifest_key(
    inv: &Invocation,
    compiler_id: &Digest,
    env: &HashMap<&str, &str>,
    cwd: &str,
    extra_inputs: &[(String, Digest)],
    tool_ids: &[Digest],
    paths: &PathMap,
) -> Digest {
    let mut h = blake3::Hasher::new();
    field(&mut h, KEY_VERSION);
    field(&mut h, inv.family.name().as_bytes());
    field(&mut h, compiler_id);
    field(&mut h, inv.language.x_name().as_bytes());
    h.update(&(inv.key_args.len() as u64).to_le_bytes());
    for arg in &inv.key_args {
        match normalize_prefix_map_arg(arg, cwd) {
            Some(normalized) => field(&mut h, normalized.as_bytes()),
            None => field(&mut h, paths.to_stored(arg).as_bytes()),
        }
    }
    for var in OUTPUT_ENV {
        match env.get(var) {
            Some(v) => {
                field(&mut h, var.as_bytes());
                field(&mut h, v.as_bytes());
            }
            None => field(&mut h, b"-"),
        }
    }
    for var in &inv.key_env {
        field(&mut h, var.as_bytes());
        field(
            &mut h,
            env.get(var.as_str()).copied().unwrap_or("-").as_bytes(),
        );
    }
    if !inv.key_env_prefixes.is_empty() {
        let mut vars: Vec<(&&str, &&str)> = env
            .iter()
            .filter(|(k, _)| {
                inv.key_env_prefixes
                    .iter()
                    .any(|p| k.starts_with(p.as_str()))
            })
            .filter(|(k, _)| !inv.key_env_exclude.iter().any(|x| x == *k))
            .collect();
        vars.sort();
        for (k, v) in vars {
            field(&mut h, k.as_bytes());
            field(&mut h, paths.to_stored(v).as_bytes());
        }
    }
    if let Some(cwd_part) = inv.cwd_key(cwd) {
        field(&mut h, b"cwd");
        field(&mut h, cwd_part.as_bytes());
    }
    for (path, digest) in extra_inputs {
        field(&mut h, paths.to_stored(path).as_bytes());
        field(&mut h, digest);
    }
    for id in tool_ids {
        field(&mut h, b"tool");
        field(&mut h, id);
    }
    *h.finalize().as_bytes()
}

/// Preprocessor-tier key: the manifest key plus the hash of the `-E` output.
pub fn preprocessor_key(manifest_key: &Digest, preprocessed: &Digest) -> Digest {
    let mut h = blake3::Hasher::new();
    field(&mut h, b"preprocessed");
    field(&mut h, manifest_key);
    field(&mut h, preprocessed);
    *h.finalize().as_bytes()
}

/// Result key: the manifest key plus the exact input state of `entry` (its `result` field is
/// not read).
pub fn result_key(manifest_key: &Digest, entry: &ManifestEntry) -> Digest {
    let mut h = blake3::Hasher::new();
    field(&mut h, b"result");
    field(&mut h, manifest_key);
    for (path, digest) in &entry.files {
        field(&mut h, path.as_bytes());
        field(&mut h, digest);
    }
    for group in &entry.absent {
        field(&mut h, group.dir.as_bytes());
        for name in &group.names {
            field(&mut h, name.as_bytes());
        }
    }
    field(&mut h, b"listings");
    for (path, digest) in &entry.listings {
        field(&mut h, path.as_bytes());
        field(&mut h, digest);
    }
    field(&mut h, b"mtimes");
    for (path, secs) in &entry.mtimes {
        field(&mut h, path.as_bytes());
        field(&mut h, &secs.to_le_bytes());
    }
    field(&mut h, b"env");
    for (name, value) in &entry.env {
        field(&mut h, name.as_bytes());
        match value {
            Some(v) => field(&mut h, v.as_bytes()),
            None => field(&mut h, b"\0unset"),
        }
    }
    if let Some(tie) = &entry.tied_to {
        field(&mut h, b"tied");
        field(&mut h, tie.as_bytes());
    }
    *h.finalize().as_bytes()
}

/// Whether time macros make this compile uncacheable: `__TIMESTAMP__` always,
/// `__DATE__`/`__TIME__` unless `SOURCE_DATE_EPOCH` pins them.
pub fn time_macros_block(flags: u8, env: &HashMap<&str, &str>) -> bool {
    flags & USES_TIMESTAMP != 0
        || (flags & USES_DATE_TIME != 0 && !env.contains_key("SOURCE_DATE_EPOCH"))
}

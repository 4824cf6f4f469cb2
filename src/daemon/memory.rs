//! The daemon's memory budget (`ZCCACHE_MAX_MEMORY` / `max_memory`): the in-memory caches
//! (file hashes and directory listings, the index's read cache of manifests and results) are
//! measured now and then and shed when together they pass the budget — the index's read
//! cache first (every record is still in the database), then half the file hashes at a time
//! (a forgotten file is hashed again when next used). Compiler identities are a few entries
//! per compiler and are not counted. redb's page cache for the index is sized from the
//! budget when the daemon starts ([`index_page_cache`]).

use super::state::DaemonState;
use crate::store::records::{Manifest, ResultRecord};

/// redb's page cache for the index: a quarter of the budget, between 1 MiB and 64 MiB (the
/// index's hot pages are few; the read cache above holds decoded records).
pub fn index_page_cache(max_memory: u64) -> usize {
    let quarter = max_memory / 4;
    quarter.clamp(1 << 20, 64 << 20) as usize
}

/// Approximate heap bytes of one manifest.
pub fn manifest_bytes(m: &Manifest) -> usize {
    m.entries
        .iter()
        .map(|e| {
            e.files.iter().map(|(p, _)| p.len() + 56).sum::<usize>()
                + e.absent
                    .iter()
                    .map(|g| g.dir.len() + 64 + g.names.iter().map(|n| n.len() + 24).sum::<usize>())
                    .sum::<usize>()
                + e.env
                    .iter()
                    .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()) + 56)
                    .sum::<usize>()
                + e.listings.iter().map(|(p, _)| p.len() + 56).sum::<usize>()
                + e.mtimes.iter().map(|(p, _)| p.len() + 32).sum::<usize>()
                + e.tied_to.as_ref().map_or(0, |t| t.len())
                + 200
        })
        .sum()
}

/// Approximate heap bytes of one result record.
pub fn result_bytes(r: &ResultRecord) -> usize {
    r.outputs.iter().map(|o| o.role.len() + 96).sum::<usize>()
        + r.stdout.len()
        + r.stderr.len()
        + r.deps.iter().map(|d| d.len() + 24).sum::<usize>()
        + r.system_deps.len()
        + r.dep_info.as_ref().map_or(0, |d| d.len())
        + 160
}

/// What the in-memory caches hold now (approximate bytes).
pub fn in_use(state: &DaemonState) -> u64 {
    (state.hashes.approx_bytes() + state.index.memory_bytes(manifest_bytes, result_bytes)) as u64
}

/// Sheds the in-memory caches until they fit the budget; returns the bytes in use after.
pub fn enforce(state: &DaemonState) -> u64 {
    let budget = state.settings.max_memory.value;
    let mut used = in_use(state);
    if used <= budget {
        return used;
    }
    tracing::info!("in-memory caches hold ~{used} bytes, over the {budget}-byte budget; shedding");
    state.index.drop_memory_cache();
    used = in_use(state);
    while used > budget {
        let before = used;
        state.hashes.evict_half();
        used = in_use(state);
        if used >= before {
            break;
        }
    }
    release_freed_memory();
    used
}

/// Caps glibc's malloc arenas at two. By default glibc gives busy threads arenas of their own
/// (up to 8 per core), each keeping what its threads freed: on the 50,000-header build of
/// `bench/memory.sh` under an 8 MiB budget, two arenas cut the peak RSS from ~104–127 to
/// ~92–96 MiB. The daemon's threads allocate little per compile, so sharing arenas costs
/// nothing measurable.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before the daemon's threads.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Hands what the shed caches freed back to the system (glibc keeps freed heap in its arenas
/// otherwise, so the process would stay as large as its peak).
fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

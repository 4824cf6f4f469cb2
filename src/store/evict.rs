//! LRU eviction: drop the least recently used blobs until the store is under 90% of budget.
//! Results whose blobs were evicted become misses (checked on lookup), never wrong hits.

use super::index::{blobs_table, Usage};
use super::{BlobStore, Digest, StoreError};
use redb::{Database, Durability, ReadableTable};
use std::sync::atomic::Ordering;

/// Evicts blobs; returns how many were removed.
pub fn evict(
    db: &Database,
    blobs: &BlobStore,
    usage: &Usage,
    max_size: u64,
) -> Result<usize, StoreError> {
    let err = |e: redb::Error| StoreError::Db(e.to_string());
    let target = max_size / 10 * 9;
    let mut txn = db.begin_write().map_err(|e| err(e.into()))?;
    txn.set_durability(Durability::None)
        .map_err(|e| StoreError::Db(e.to_string()))?;
    let mut removed = 0;
    {
        let mut table = txn.open_table(blobs_table()).map_err(|e| err(e.into()))?;
        let mut rows: Vec<(Digest, u64, u64)> = Vec::new();
        for row in table.iter().map_err(|e| err(e.into()))? {
            let (k, v) = row.map_err(|e| err(e.into()))?;
            let Ok(digest) = <Digest>::try_from(k.value()) else {
                continue;
            };
            let (size, last_use) = v.value();
            rows.push((digest, size, last_use));
        }
        rows.sort_by_key(|&(_, _, last_use)| last_use);
        let mut total: u64 = rows.iter().map(|r| r.1).sum();
        for (digest, size, _) in rows {
            if total <= target {
                break;
            }
            blobs.remove(&digest);
            table.remove(digest.as_slice()).map_err(|e| err(e.into()))?;
            total = total.saturating_sub(size);
            removed += 1;
        }
        usage.total_bytes.store(total, Ordering::Relaxed);
    }
    txn.commit().map_err(|e| err(e.into()))?;
    usage.evictions.fetch_add(removed as u64, Ordering::Relaxed);
    Ok(removed)
}

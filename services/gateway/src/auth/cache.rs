//! In-process cache of credentials (key hash or key id → what authentication needs).
//!
//! Correctness does not rest on the TTL: every change that withdraws a credential sends a
//! NOTIFY that evicts it on every replica (see `listener.rs`). The cache is used only while
//! that listener is connected; a generation counter stops a lookup that raced an eviction
//! from re-inserting the stale row it read.

use crate::domain::credential::KeyValidity;
use crate::domain::ratelimit::TenantOverrides;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// A key as authentication sees it.
#[derive(Debug, Clone)]
pub struct Credential {
    pub key_id: String,
    pub key_hash: String,
    pub tenant_id: String,
    pub scopes: Vec<String>,
    pub validity: KeyValidity,
    /// The tenant's rate-limit overrides (evicted with the tenant on change).
    pub overrides: TenantOverrides,
}

#[derive(Debug)]
struct Entry {
    credential: Arc<Credential>,
    loaded_at: Instant,
}

/// Where a credential is cached: by hash (API keys) and by id (access tokens).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CacheKey {
    Hash(String),
    Id(String),
}

#[derive(Debug)]
pub struct CredentialCache {
    entries: RwLock<HashMap<CacheKey, Entry>>,
    generation: AtomicU64,
    listening: AtomicBool,
    ttl: Duration,
}

/// Bounds memory if someone presents very many valid keys; the cache is simply emptied.
const MAX_ENTRIES: usize = 100_000;

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            ttl,
        }
    }

    /// A fresh entry, or `None` (also whenever invalidations cannot be received).
    pub fn get(&self, key: &CacheKey) -> Option<Arc<Credential>> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|e| e.loaded_at.elapsed() < self.ttl).map(|e| e.credential.clone())
    }

    /// Read before a database lookup; pass to [`insert`](Self::insert).
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Caches `credential` unless an eviction happened since `generation` was read.
    pub fn insert(&self, credential: Credential, generation: u64) {
        if !self.listening.load(Ordering::Acquire) {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        let credential = Arc::new(credential);
        let loaded_at = Instant::now();
        entries
            .insert(CacheKey::Hash(credential.key_hash.clone()), Entry { credential: credential.clone(), loaded_at });
        entries.insert(CacheKey::Id(credential.key_id.clone()), Entry { credential, loaded_at });
    }

    /// Drops every entry of the key hash or tenant id `subject`.
    pub fn evict(&self, subject: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, e| e.credential.key_hash != subject && e.credential.tenant_id != subject);
    }

    /// Drops everything (a notification may have been missed).
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Whether evictions are being received; without them the cache is bypassed.
    pub fn set_listening(&self, listening: bool) {
        self.clear();
        self.listening.store(listening, Ordering::Release);
    }

    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::credential::KeyStatus;
    use crate::domain::tenant::TenantStatus;

    fn credential(id: &str, hash: &str, tenant: &str) -> Credential {
        Credential {
            key_id: id.into(),
            key_hash: hash.into(),
            tenant_id: tenant.into(),
            scopes: vec!["read".into()],
            validity: KeyValidity {
                status: KeyStatus::Active,
                expires_at: None,
                grace_until: None,
                tenant_status: TenantStatus::Active,
            },
            overrides: Default::default(),
        }
    }

    #[test]
    fn bypassed_until_listening() {
        let cache = CredentialCache::new(Duration::from_secs(30));
        cache.insert(credential("k1", "h1", "t1"), cache.generation());
        assert!(cache.get(&CacheKey::Hash("h1".into())).is_none());
        cache.set_listening(true);
        cache.insert(credential("k1", "h1", "t1"), cache.generation());
        assert!(cache.get(&CacheKey::Hash("h1".into())).is_some());
        assert!(cache.get(&CacheKey::Id("k1".into())).is_some());
        cache.set_listening(false);
        assert!(cache.get(&CacheKey::Hash("h1".into())).is_none());
    }

    #[test]
    fn evicts_by_hash_or_tenant_and_refuses_stale_inserts() {
        let cache = CredentialCache::new(Duration::from_secs(30));
        cache.set_listening(true);
        cache.insert(credential("k1", "h1", "t1"), cache.generation());
        cache.insert(credential("k2", "h2", "t1"), cache.generation());
        cache.insert(credential("k3", "h3", "t2"), cache.generation());
        cache.evict("h1");
        assert!(cache.get(&CacheKey::Id("k1".into())).is_none());
        assert!(cache.get(&CacheKey::Id("k2".into())).is_some());
        cache.evict("t1");
        assert!(cache.get(&CacheKey::Hash("h2".into())).is_none());
        assert!(cache.get(&CacheKey::Hash("h3".into())).is_some());

        let before = cache.generation();
        cache.evict("h9");
        cache.insert(credential("k9", "h9", "t9"), before);
        assert!(cache.get(&CacheKey::Hash("h9".into())).is_none(), "a lookup that raced an eviction is not cached");
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let cache = CredentialCache::new(Duration::ZERO);
        cache.set_listening(true);
        cache.insert(credential("k1", "h1", "t1"), cache.generation());
        assert!(cache.get(&CacheKey::Hash("h1".into())).is_none());
    }
}

//! In-process cache of credentials (key hash or key id → what authentication needs), and of
//! key hashes that matched no key (the negative cache), so the same unknown key presented
//! again costs no database read.
//!
//! Correctness does not rest on the TTLs: every change that withdraws a credential, and every
//! key creation, sends a NOTIFY that evicts its hash (or tenant) on every replica (see
//! `listener.rs`), so a created key works at once even where it was presented before. The
//! cache is used only while that listener is connected; a generation counter stops a lookup
//! that raced an eviction from re-inserting the stale row (or absence) it read.

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
    /// Key hashes that matched no key, and when that was read.
    missing: RwLock<HashMap<String, Instant>>,
    generation: AtomicU64,
    listening: AtomicBool,
    ttl: Duration,
    missing_ttl: Duration,
}

/// Bounds memory if someone presents very many valid keys; the cache is simply emptied.
const MAX_ENTRIES: usize = 100_000;
/// Bounds the negative cache under a flood of random keys: expired entries go first, then all.
const MAX_MISSING: usize = 100_000;

impl CredentialCache {
    /// `ttl` bounds cached credentials, `missing_ttl` remembered misses (zero: never cached).
    pub fn new(ttl: Duration, missing_ttl: Duration) -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            missing: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
            listening: AtomicBool::new(false),
            ttl,
            missing_ttl,
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

    /// Whether `key_hash` recently matched no key (also `false` whenever invalidations
    /// cannot be received).
    pub fn is_missing(&self, key_hash: &str) -> bool {
        if !self.listening.load(Ordering::Acquire) {
            return false;
        }
        let missing = self.missing.read().unwrap_or_else(|e| e.into_inner());
        missing.get(key_hash).is_some_and(|at| at.elapsed() < self.missing_ttl)
    }

    /// Remembers that `key_hash` matched no key, unless an eviction happened since
    /// `generation` was read (the key may have been created meanwhile).
    pub fn insert_missing(&self, key_hash: &str, generation: u64) {
        if !self.listening.load(Ordering::Acquire) || self.missing_ttl.is_zero() {
            return;
        }
        // `evict` bumps the generation holding this lock, so check and insert are atomic.
        let mut missing = self.missing.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != generation {
            return;
        }
        if missing.len() >= MAX_MISSING {
            let ttl = self.missing_ttl;
            missing.retain(|_, at| at.elapsed() < ttl);
            if missing.len() >= MAX_MISSING {
                missing.clear();
            }
        }
        missing.insert(key_hash.to_string(), Instant::now());
    }

    /// Drops every entry of the key hash or tenant id `subject`, and a remembered miss of
    /// the hash (a key was created with it).
    pub fn evict(&self, subject: &str) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut missing = self.missing.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, e| e.credential.key_hash != subject && e.credential.tenant_id != subject);
        missing.remove(subject);
    }

    /// Drops everything (a notification may have been missed).
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        let mut missing = self.missing.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
        missing.clear();
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
        let cache = CredentialCache::new(Duration::from_secs(30), Duration::from_secs(30));
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
        let cache = CredentialCache::new(Duration::from_secs(30), Duration::from_secs(30));
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
        let cache = CredentialCache::new(Duration::ZERO, Duration::ZERO);
        cache.set_listening(true);
        cache.insert(credential("k1", "h1", "t1"), cache.generation());
        assert!(cache.get(&CacheKey::Hash("h1".into())).is_none());
    }

    #[test]
    fn misses_are_remembered_until_the_key_is_created() {
        let cache = CredentialCache::new(Duration::from_secs(30), Duration::from_secs(30));
        cache.insert_missing("h1", cache.generation());
        assert!(!cache.is_missing("h1"), "not while invalidations cannot be received");
        cache.set_listening(true);
        cache.insert_missing("h1", cache.generation());
        cache.insert_missing("h2", cache.generation());
        assert!(cache.is_missing("h1") && cache.is_missing("h2"));
        // The NOTIFY of a created key evicts its hash.
        cache.evict("h1");
        assert!(!cache.is_missing("h1"));
        assert!(cache.is_missing("h2"));
        // A lookup that read "no such key" before the creation committed is not remembered.
        let before = cache.generation();
        cache.evict("h3");
        cache.insert_missing("h3", before);
        assert!(!cache.is_missing("h3"));
        cache.set_listening(false);
        assert!(!cache.is_missing("h2"), "bypassed and emptied when the listener drops");
    }

    #[test]
    fn misses_expire_and_stay_bounded() {
        let cache = CredentialCache::new(Duration::from_secs(30), Duration::ZERO);
        cache.set_listening(true);
        cache.insert_missing("h1", cache.generation());
        assert!(!cache.is_missing("h1"), "a zero TTL disables the negative cache");

        let cache = CredentialCache::new(Duration::from_secs(30), Duration::from_secs(30));
        cache.set_listening(true);
        for n in 0..=MAX_MISSING {
            cache.insert_missing(&format!("h{n}"), cache.generation());
        }
        let size = cache.missing.read().unwrap_or_else(|e| e.into_inner()).len();
        assert!(size <= MAX_MISSING, "{size}");
        assert!(cache.is_missing(&format!("h{MAX_MISSING}")), "the newest miss is kept");
    }
}

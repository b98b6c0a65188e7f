//! One shared circuit breaker per downstream name, created on first use, with its state
//! exported as a gauge and its transitions logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use super::breaker::{BreakerSettings, BreakerState, CircuitBreaker, Open, Permit};
use super::instrumentation::record_breaker_state;

/// The breakers of one `HttpClient` (and its clones).
#[derive(Debug)]
pub(crate) struct Breakers {
    settings: BreakerSettings,
    by_name: RwLock<HashMap<Arc<str>, Arc<DownstreamBreaker>>>,
}

impl Breakers {
    pub(crate) fn new(settings: BreakerSettings) -> Self {
        Self { settings, by_name: RwLock::new(HashMap::new()) }
    }

    pub(crate) fn get(&self, name: &Arc<str>) -> Arc<DownstreamBreaker> {
        if let Some(breaker) = self.by_name.read().unwrap_or_else(|e| e.into_inner()).get(name) {
            return breaker.clone();
        }
        let mut by_name = self.by_name.write().unwrap_or_else(|e| e.into_inner());
        by_name
            .entry(name.clone())
            .or_insert_with(|| {
                record_breaker_state(name, BreakerState::Closed);
                Arc::new(DownstreamBreaker {
                    name: name.clone(),
                    machine: Mutex::new(CircuitBreaker::new(self.settings.clone())),
                })
            })
            .clone()
    }

    pub(crate) fn state(&self, name: &str) -> Option<BreakerState> {
        let by_name = self.by_name.read().unwrap_or_else(|e| e.into_inner());
        by_name.get(name).map(|breaker| breaker.lock().state())
    }
}

/// A downstream's breaker behind a mutex (held for a few field updates only, never across I/O).
#[derive(Debug)]
pub(crate) struct DownstreamBreaker {
    name: Arc<str>,
    machine: Mutex<CircuitBreaker>,
}

impl DownstreamBreaker {
    fn lock(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        // The machine's invariants hold between statements, so a poisoned lock is still usable.
        self.machine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits an attempt; the guard hands the permit back on every path, including cancellation.
    pub(crate) fn acquire(&self, now: Instant) -> Result<AttemptGuard<'_>, Open> {
        let mut machine = self.lock();
        let before = machine.state();
        let permit = machine.try_acquire(now);
        self.on_transition(before, machine.state());
        permit.map(|permit| AttemptGuard { breaker: self, permit: Some(permit) })
    }

    fn on_transition(&self, before: BreakerState, after: BreakerState) {
        if before == after {
            return;
        }
        record_breaker_state(&self.name, after);
        match after {
            BreakerState::Open => tracing::warn!(downstream = %self.name, "circuit breaker opened"),
            BreakerState::HalfOpen => {
                tracing::info!(downstream = %self.name, "circuit breaker half-open, probing")
            }
            BreakerState::Closed => {
                tracing::info!(downstream = %self.name, "circuit breaker closed")
            }
        }
    }
}

/// An admitted attempt; report its verdict, or drop it to release the permit with none.
#[derive(Debug)]
pub(crate) struct AttemptGuard<'a> {
    breaker: &'a DownstreamBreaker,
    permit: Option<Permit>,
}

impl AttemptGuard<'_> {
    pub(crate) fn succeeded(mut self) -> BreakerState {
        self.finish(|machine, permit| machine.record_success(permit))
    }

    pub(crate) fn failed(mut self, now: Instant) -> BreakerState {
        self.finish(|machine, permit| machine.record_failure(permit, now))
    }

    fn finish(&mut self, record: impl FnOnce(&mut CircuitBreaker, Permit) -> BreakerState) -> BreakerState {
        let mut machine = self.breaker.lock();
        let before = machine.state();
        let after = match self.permit.take() {
            Some(permit) => record(&mut machine, permit),
            None => before,
        };
        self.breaker.on_transition(before, after);
        after
    }
}

impl Drop for AttemptGuard<'_> {
    fn drop(&mut self) {
        if let Some(permit) = self.permit.take() {
            self.breaker.lock().release(permit);
        }
    }
}

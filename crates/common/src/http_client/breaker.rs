//! The per-downstream circuit breaker as a pure state machine: every method takes the current
//! `Instant`, so its behaviour is tested with synthetic time and no sleeping.
//!
//! Closed → Open after `failure_threshold` consecutive failures; Open for `open_duration`
//! ± `jitter` (uniformly random, fresh on every opening, so that the callers of a downstream do
//! not all probe it at the same moment); then Half-open: at most `half_open_max_probes` attempts
//! in flight, `half_open_successes` consecutive successes close it, any failure reopens it.

use std::time::{Duration, Instant};

/// Thresholds of a [`CircuitBreaker`]; usually built by `HttpClientConfig::breaker_settings`.
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerSettings {
    /// Consecutive failures that open a closed breaker.
    pub failure_threshold: u32,
    /// Nominal time a breaker stays open before letting a probe through.
    pub open_duration: Duration,
    /// Fraction of `open_duration` by which each opening is randomly shortened or lengthened
    /// (0.2 = ±20 %); clamped to `[0, 1]`.
    pub jitter: f64,
    /// Consecutive probe successes that close a half-open breaker.
    pub half_open_successes: u32,
    /// Probes allowed in flight at once while half-open.
    pub half_open_max_probes: u32,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            open_duration: Duration::from_secs(10),
            jitter: 0.2,
            half_open_successes: 3,
            half_open_max_probes: 1,
        }
    }
}

/// The externally visible state, as exported by the `aex_circuit_breaker_state` gauge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls flow; failures are being counted.
    Closed,
    /// A few probes are let through to test the downstream.
    HalfOpen,
    /// Calls fail fast without touching the network.
    Open,
}

impl BreakerState {
    /// Gauge value: 0 closed, 1 half-open, 2 open.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

/// Leave to make one attempt; hand it back through `record_success`, `record_failure` or
/// `release`. Results of attempts admitted before the latest state change are ignored, so a
/// slow request started while closed cannot count as a half-open probe.
#[derive(Debug)]
#[must_use = "a permit must be handed back with record_success, record_failure or release"]
pub struct Permit {
    generation: u64,
    probe: bool,
}

/// Refusal from [`CircuitBreaker::try_acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open {
    /// Time until the breaker lets a probe through; zero when it is half-open and every probe
    /// slot is taken (a slot frees as soon as a probe finishes).
    pub retry_in: Duration,
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { successes: u32, probes: u32 },
}

/// The state machine; not synchronised (the client wraps it in a `Mutex`).
#[derive(Debug)]
pub struct CircuitBreaker {
    settings: BreakerSettings,
    phase: Phase,
    generation: u64,
    rng: fastrand::Rng,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(settings: BreakerSettings) -> Self {
        Self::with_rng(settings, fastrand::Rng::new())
    }

    /// A closed breaker whose open-duration jitter is drawn from a seeded generator.
    pub fn with_seed(settings: BreakerSettings, seed: u64) -> Self {
        Self::with_rng(settings, fastrand::Rng::with_seed(seed))
    }

    fn with_rng(settings: BreakerSettings, rng: fastrand::Rng) -> Self {
        let phase = Phase::Closed { failures: 0 };
        Self { settings, phase, generation: 0, rng }
    }

    /// Current state; an expired open period still reads `Open` until the next `try_acquire`.
    pub fn state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Admits an attempt, or refuses it while open (or while half-open with all probe slots busy).
    pub fn try_acquire(&mut self, now: Instant) -> Result<Permit, Open> {
        if let Phase::Open { until } = self.phase {
            if now < until {
                return Err(Open { retry_in: until.saturating_duration_since(now) });
            }
            self.enter(Phase::HalfOpen { successes: 0, probes: 0 });
        }
        let generation = self.generation;
        match &mut self.phase {
            Phase::Closed { .. } => Ok(Permit { generation, probe: false }),
            Phase::HalfOpen { probes, .. } if *probes < self.settings.half_open_max_probes.max(1) => {
                *probes += 1;
                Ok(Permit { generation, probe: true })
            }
            Phase::HalfOpen { .. } | Phase::Open { .. } => Err(Open { retry_in: Duration::ZERO }),
        }
    }

    /// Records a successful attempt (a 2xx–4xx answer other than 408/429) and returns the new state.
    pub fn record_success(&mut self, permit: Permit) -> BreakerState {
        if permit.generation == self.generation {
            let needed = self.settings.half_open_successes.max(1);
            match &mut self.phase {
                Phase::Closed { failures } => *failures = 0,
                Phase::HalfOpen { successes, probes } => {
                    *probes = probes.saturating_sub(1);
                    *successes += 1;
                    if *successes >= needed {
                        self.enter(Phase::Closed { failures: 0 });
                    }
                }
                Phase::Open { .. } => {}
            }
        }
        self.state()
    }

    /// Records a failed attempt (transport error, timeout, 5xx, 408, 429) and returns the new state.
    pub fn record_failure(&mut self, permit: Permit, now: Instant) -> BreakerState {
        if permit.generation == self.generation {
            match &mut self.phase {
                Phase::Closed { failures } => {
                    *failures += 1;
                    if *failures >= self.settings.failure_threshold.max(1) {
                        self.open(now);
                    }
                }
                Phase::HalfOpen { .. } => self.open(now),
                Phase::Open { .. } => {}
            }
        }
        self.state()
    }

    /// Hands back a permit whose attempt produced no verdict (cancelled, or never sent).
    pub fn release(&mut self, permit: Permit) {
        if let Phase::HalfOpen { probes, .. } = &mut self.phase
            && permit.probe
            && permit.generation == self.generation
        {
            *probes = probes.saturating_sub(1);
        }
    }

    /// Draws an open duration uniformly within `open_duration × [1 − jitter, 1 + jitter]`.
    pub fn jittered_open_duration(&mut self) -> Duration {
        let base = self.settings.open_duration;
        // Comparisons, not arithmetic, keep NaN and negative fractions at zero spread.
        let fraction = if self.settings.jitter > 0.0 { self.settings.jitter.min(1.0) } else { 0.0 };
        let spread = base.mul_f64(fraction);
        let spread_nanos = u64::try_from(spread.as_nanos()).unwrap_or(u64::MAX);
        let offset = self.rng.u64(0..=spread_nanos.saturating_mul(2));
        base.saturating_sub(spread).saturating_add(Duration::from_nanos(offset))
    }

    fn open(&mut self, now: Instant) {
        let duration = self.jittered_open_duration();
        let until = now.checked_add(duration).unwrap_or(now);
        self.enter(Phase::Open { until });
    }

    fn enter(&mut self, phase: Phase) {
        self.phase = phase;
        self.generation = self.generation.wrapping_add(1);
    }
}

//! One evaluation of a work's sealed bids: fetch the bids from work-publisher and the bidders'
//! trust and certified capabilities from certauth, score them, and store the result with its
//! `bids.evaluated` outbox event in the caller's transaction.
//!
//! Work-publisher unreachable is an error (the caller retries); certauth unreachable is not:
//! the evaluation completes with trust and certification degraded, never with invented scores.

use crate::SERVICE;
use crate::domain::scoring::{self, BidInput, Context, Ranking, Strategy, TrustFacts, TrustTier, WorkTerms};
use aex_api::events::{self as subjects, BidsEvaluated, EvaluatedBid};
use aex_common::events::outbox::{self, NewEvent};
use aex_common::http_client::{CallError, Downstream, HttpClient};
use aex_types::{EvaluationId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgConnection;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What evaluates: the outbound client and the two downstreams.
#[derive(Clone)]
pub struct Evaluator {
    pub client: HttpClient,
    pub work_publisher: Downstream,
    pub certauth: Downstream,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator")
            .field("work_publisher", &self.work_publisher.base_url().as_str())
            .field("certauth", &self.certauth.base_url().as_str())
            .finish_non_exhaustive()
    }
}

/// Why an evaluation could not be made.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    /// Work-publisher (or the database) is unavailable: try again later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Work-publisher does not know the work or refuses it for good.
    #[error("work not found")]
    WorkNotFound,
    /// The terms cannot be evaluated (unknown strategy, bad budget).
    #[error("invalid: {0}")]
    Invalid(String),
}

impl From<sqlx::Error> for EvaluationError {
    fn from(error: sqlx::Error) -> Self {
        EvaluationError::Unavailable(format!("database: {error}"))
    }
}

/// What the work asks, as the close event (or a re-evaluation request) carries it.
#[derive(Debug, Clone)]
pub struct WorkSpec {
    pub work_id: String,
    pub consumer_tenant_id: String,
    pub strategy: Strategy,
    pub max_price_minor: i64,
    pub constraints: Value,
    pub auto_award: bool,
}

/// Work-publisher's `GET /internal/v1/work/{id}/bids` answer (the fields used here).
#[derive(Debug, Deserialize)]
struct BidList {
    bids: Vec<BidView>,
}

#[derive(Debug, Deserialize)]
struct BidView {
    bid_id: String,
    provider_id: String,
    price_minor: i64,
    confidence: f64,
    estimated_latency_ms: i64,
    #[serde(default)]
    mvp_sample: Option<Value>,
    #[serde(default)]
    expires_at: Option<String>,
    received_at: String,
    #[serde(default)]
    status: Option<String>,
}

/// Certauth's `POST /internal/v1/providers/trust` answer (the fields used here).
#[derive(Debug, Deserialize)]
struct BatchTrust {
    providers: BTreeMap<String, ProviderTrust>,
}

#[derive(Debug, Deserialize)]
struct ProviderTrust {
    score: f64,
    tier: String,
    #[serde(default)]
    certified_capabilities: Vec<Capability>,
}

#[derive(Debug, Deserialize)]
struct Capability {
    #[serde(default)]
    category: String,
    capability: String,
}

#[derive(Debug, Serialize)]
struct TrustRequest<'a> {
    provider_ids: &'a [String],
}

/// Component scores as the API shows them.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScoresView {
    pub price: Option<f64>,
    pub trust: Option<f64>,
    pub confidence: Option<f64>,
    pub mvp_sample: Option<f64>,
    pub sla: Option<f64>,
    pub certification: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RankedView {
    pub rank: i64,
    pub bid_id: String,
    pub provider_id: String,
    pub price_minor: i64,
    pub total_score: f64,
    pub scores: ScoresView,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DisqualifiedView {
    pub bid_id: String,
    pub provider_id: String,
    pub reason: String,
}

/// The stored evaluation, also the body of both evaluation routes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EvaluationView {
    pub evaluation_id: String,
    pub work_id: String,
    pub strategy: String,
    pub total_bids: i64,
    pub valid_bids: i64,
    pub ranked_bids: Vec<RankedView>,
    pub disqualified_bids: Vec<DisqualifiedView>,
    pub degraded: Vec<String>,
    pub evaluated_at: String,
}

fn parse_millis(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|t| t.unix_millis())
}

fn has_sample(sample: Option<&Value>) -> bool {
    match sample {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

fn to_input(bid: &BidView) -> BidInput {
    BidInput {
        bid_id: bid.bid_id.clone(),
        provider_id: bid.provider_id.clone(),
        price_minor: bid.price_minor,
        confidence: bid.confidence,
        has_sample: has_sample(bid.mvp_sample.as_ref()),
        // A non-positive latency cannot be promised; score it as the worst.
        estimated_latency_ms: u64::try_from(bid.estimated_latency_ms).unwrap_or(u64::MAX),
        expires_at_ms: bid.expires_at.as_deref().and_then(parse_millis),
        submitted_at_ms: parse_millis(&bid.received_at).unwrap_or(i64::MAX),
    }
}

/// The work's terms from its budget and constraints document.
pub fn terms(max_price_minor: i64, constraints: &Value, now_ms: i64) -> Result<WorkTerms, EvaluationError> {
    let max_latency_ms = match constraints.get("max_latency_ms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|ms| *ms > 0)
                .ok_or_else(|| EvaluationError::Invalid("constraints.max_latency_ms must be positive".into()))?,
        ),
    };
    let min_trust_tier = match constraints.get("min_trust_tier") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_str().and_then(TrustTier::parse).ok_or_else(|| {
            EvaluationError::Invalid("constraints.min_trust_tier must be BRONZE, SILVER, GOLD or PLATINUM".into())
        })?),
    };
    let required_capabilities = match constraints.get("required_capabilities") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|c| {
                c.as_str().map(str::to_string).ok_or_else(|| {
                    EvaluationError::Invalid("constraints.required_capabilities must hold strings".into())
                })
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(EvaluationError::Invalid("constraints.required_capabilities must be a list".into())),
    };
    if max_price_minor <= 0 {
        return Err(EvaluationError::Invalid("the budget must be positive".into()));
    }
    Ok(WorkTerms { max_price_minor, max_latency_ms, min_trust_tier, required_capabilities, now_ms })
}

impl Evaluator {
    async fn fetch_bids(&self, work_id: &str) -> Result<Vec<BidView>, EvaluationError> {
        let path = format!("/internal/v1/work/{work_id}/bids");
        match self.client.get_json::<BidList>(&self.work_publisher, &path).await {
            Ok(list) => Ok(list.bids),
            Err(CallError::Status { status, .. }) if status.as_u16() == 404 => Err(EvaluationError::WorkNotFound),
            Err(error) => Err(EvaluationError::Unavailable(error.to_string())),
        }
    }

    /// Trust and certifications for `provider_ids`, or `None` for both when certauth fails.
    async fn fetch_context(&self, provider_ids: &[String]) -> Context {
        if provider_ids.is_empty() {
            return Context { trust: Some(HashMap::new()), certifications: Some(HashMap::new()) };
        }
        let body = TrustRequest { provider_ids };
        let answer: Result<BatchTrust, CallError> =
            self.client.post_json(&self.certauth, "/internal/v1/providers/trust", &body).await;
        match answer {
            Ok(batch) => {
                let mut trust = HashMap::new();
                let mut certifications = HashMap::new();
                for (provider_id, facts) in batch.providers {
                    if let Some(tier) = TrustTier::parse(&facts.tier) {
                        trust.insert(provider_id.clone(), TrustFacts { score: facts.score, tier });
                    }
                    let held: HashSet<String> = facts
                        .certified_capabilities
                        .into_iter()
                        .flat_map(|c| {
                            let qualified =
                                (!c.category.is_empty()).then(|| format!("{}.{}", c.category, c.capability));
                            std::iter::once(c.capability).chain(qualified)
                        })
                        .collect();
                    certifications.insert(provider_id, held);
                }
                Context { trust: Some(trust), certifications: Some(certifications) }
            }
            Err(error) => {
                tracing::warn!(%error, "certauth unavailable; evaluating without trust and certification");
                Context { trust: None, certifications: None }
            }
        }
    }

    /// Fetches, scores and records one evaluation of `work` in `tx`, with its outbox event.
    /// With a `trigger_event_id` already evaluated, records nothing and answers `None`.
    pub async fn evaluate(
        &self,
        tx: &mut PgConnection,
        work: &WorkSpec,
        trigger_event_id: Option<&str>,
    ) -> Result<Option<EvaluationView>, EvaluationError> {
        let now = Timestamp::now();
        let terms = terms(work.max_price_minor, &work.constraints, now.unix_millis())?;
        let bids = self.fetch_bids(&work.work_id).await?;
        let inputs: Vec<BidInput> =
            bids.iter().filter(|b| b.status.as_deref().is_none_or(|s| s != "WITHDRAWN")).map(to_input).collect();
        let mut provider_ids: Vec<String> = inputs.iter().map(|b| b.provider_id.clone()).collect();
        provider_ids.sort();
        provider_ids.dedup();
        let context = self.fetch_context(&provider_ids).await;
        let ranking = scoring::evaluate(work.strategy, &terms, &inputs, &context);
        let view = view_of(&ranking, work, EvaluationId::new().to_string(), inputs.len(), now.to_string());
        let inserted = store(tx, &view, &ranking, work, trigger_event_id).await?;
        if !inserted {
            return Ok(None);
        }
        let event = event_of(&view, work);
        outbox::enqueue(tx, SERVICE, NewEvent::new(subjects::BIDS_EVALUATED, &event).tenant(&work.consumer_tenant_id))
            .await
            .map_err(|e| EvaluationError::Unavailable(format!("outbox: {e}")))?;
        Ok(Some(view))
    }
}

fn name_of<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        _ => String::new(),
    }
}

fn view_of(ranking: &Ranking, work: &WorkSpec, evaluation_id: String, total: usize, at: String) -> EvaluationView {
    let ranked_bids: Vec<RankedView> = ranking
        .ranked
        .iter()
        .map(|r| RankedView {
            rank: i64::try_from(r.rank).unwrap_or(i64::MAX),
            bid_id: r.bid_id.clone(),
            provider_id: r.provider_id.clone(),
            price_minor: r.price_minor,
            total_score: r.total_score,
            scores: ScoresView {
                price: r.scores.price,
                trust: r.scores.trust,
                confidence: r.scores.confidence,
                mvp_sample: r.scores.mvp_sample,
                sla: r.scores.sla,
                certification: r.scores.certification,
            },
        })
        .collect();
    EvaluationView {
        evaluation_id,
        work_id: work.work_id.clone(),
        strategy: work.strategy.as_str().to_string(),
        total_bids: i64::try_from(total).unwrap_or(i64::MAX),
        valid_bids: i64::try_from(ranked_bids.len()).unwrap_or(i64::MAX),
        ranked_bids,
        disqualified_bids: ranking
            .disqualified
            .iter()
            .map(|d| DisqualifiedView {
                bid_id: d.bid_id.clone(),
                provider_id: d.provider_id.clone(),
                reason: name_of(&d.reason),
            })
            .collect(),
        degraded: ranking.degraded.iter().map(name_of).collect(),
        evaluated_at: at,
    }
}

fn event_of(view: &EvaluationView, work: &WorkSpec) -> BidsEvaluated {
    BidsEvaluated {
        work_id: view.work_id.clone(),
        evaluation_id: view.evaluation_id.clone(),
        consumer_tenant_id: work.consumer_tenant_id.clone(),
        strategy: view.strategy.clone(),
        auto_award: work.auto_award,
        total_bids: view.total_bids,
        valid_bids: view.valid_bids,
        ranking: view
            .ranked_bids
            .iter()
            .map(|r| EvaluatedBid {
                rank: r.rank,
                bid_id: r.bid_id.clone(),
                provider_id: r.provider_id.clone(),
                price_minor: r.price_minor,
                total_score: r.total_score,
            })
            .collect(),
        degraded: view.degraded.clone(),
        evaluated_at: view.evaluated_at.clone(),
    }
}

async fn store(
    tx: &mut PgConnection,
    view: &EvaluationView,
    ranking: &Ranking,
    work: &WorkSpec,
    trigger_event_id: Option<&str>,
) -> Result<bool, EvaluationError> {
    let result = sqlx::query(
        "INSERT INTO evaluations (evaluation_id, work_id, consumer_tenant_id, strategy, total_bids, valid_bids, \
         ranked, disqualified, degraded, weights, max_price_minor, constraints, auto_award, trigger_event_id, \
         evaluated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15::timestamptz) \
         ON CONFLICT (trigger_event_id) DO NOTHING",
    )
    .bind(&view.evaluation_id)
    .bind(&view.work_id)
    .bind(&work.consumer_tenant_id)
    .bind(&view.strategy)
    .bind(i32::try_from(view.total_bids).unwrap_or(i32::MAX))
    .bind(i32::try_from(view.valid_bids).unwrap_or(i32::MAX))
    .bind(json(&view.ranked_bids))
    .bind(json(&view.disqualified_bids))
    .bind(&view.degraded)
    .bind(json(&ranking.weights[..]))
    .bind(work.max_price_minor)
    .bind(&work.constraints)
    .bind(work.auto_award)
    .bind(trigger_event_id)
    .bind(&view.evaluated_at)
    .execute(tx)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A JSON document of a plain value (serializing these types cannot fail).
fn json<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The most recent evaluation of `work_id`, with the tenant that owns the work.
pub async fn latest(conn: &mut PgConnection, work_id: &str) -> Result<Option<(EvaluationView, String)>, sqlx::Error> {
    let row: Option<StoredRow> = sqlx::query_as(
        "SELECT evaluation_id, work_id, consumer_tenant_id, strategy, total_bids, valid_bids, ranked, disqualified, \
         degraded, to_char(evaluated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS evaluated_at \
         FROM evaluations WHERE work_id = $1 ORDER BY seq DESC LIMIT 1",
    )
    .bind(work_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| {
        let view = EvaluationView {
            evaluation_id: r.evaluation_id,
            work_id: r.work_id,
            strategy: r.strategy,
            total_bids: i64::from(r.total_bids),
            valid_bids: i64::from(r.valid_bids),
            ranked_bids: serde_json::from_value(r.ranked).unwrap_or_default(),
            disqualified_bids: serde_json::from_value(r.disqualified).unwrap_or_default(),
            degraded: r.degraded,
            evaluated_at: r.evaluated_at,
        };
        (view, r.consumer_tenant_id)
    }))
}

#[derive(sqlx::FromRow)]
struct StoredRow {
    evaluation_id: String,
    work_id: String,
    consumer_tenant_id: String,
    strategy: String,
    total_bids: i32,
    valid_bids: i32,
    ranked: Value,
    disqualified: Value,
    degraded: Vec<String>,
    evaluated_at: String,
}

/// What a re-evaluation starts from: the terms recorded with the latest evaluation.
pub async fn latest_spec(conn: &mut PgConnection, work_id: &str) -> Result<Option<WorkSpec>, sqlx::Error> {
    let row: Option<(String, String, i64, Value)> = sqlx::query_as(
        "SELECT consumer_tenant_id, strategy, max_price_minor, constraints FROM evaluations WHERE work_id = $1 \
         ORDER BY seq DESC LIMIT 1",
    )
    .bind(work_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(consumer_tenant_id, strategy, max_price_minor, constraints)| WorkSpec {
        work_id: work_id.to_string(),
        consumer_tenant_id,
        strategy: Strategy::parse(&strategy).unwrap_or(Strategy::Balanced),
        max_price_minor,
        constraints,
        auto_award: false,
    }))
}

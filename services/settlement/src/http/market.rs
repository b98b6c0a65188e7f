//! The market feed: per-category deal count, volume and median price. The public feed is
//! delayed at least an hour; the premium feed (authenticated) is not. Both leave out any
//! category with fewer than K deals, so no single deal can be read off the aggregate.

use crate::AppState;
use crate::error::Result;
use crate::store::settlements::{self, MarketLine};
use aex_common::auth::Principal;
use aex_common::server::Json;
use axum::extract::State;
use serde::Serialize;

/// Fewest deals a category needs to appear.
pub const K_ANONYMITY: i64 = 5;
const PUBLIC_DELAY_HOURS: i32 = 1;
const WINDOW_HOURS: i32 = 24 * 7;

#[derive(Debug, Serialize)]
pub struct Feed {
    pub delayed_hours: i32,
    pub window_hours: i32,
    pub min_deals_per_category: i64,
    pub categories: Vec<MarketLine>,
}

pub async fn public_feed(State(state): State<AppState>) -> Result<Json<Feed>> {
    let categories = settlements::market_lines(&state.pool, PUBLIC_DELAY_HOURS, WINDOW_HOURS, K_ANONYMITY).await?;
    Ok(Json(Feed {
        delayed_hours: PUBLIC_DELAY_HOURS,
        window_hours: WINDOW_HOURS,
        min_deals_per_category: K_ANONYMITY,
        categories,
    }))
}

pub async fn premium_feed(State(state): State<AppState>, principal: Principal) -> Result<Json<Feed>> {
    principal.require_tenant()?;
    let categories = settlements::market_lines(&state.pool, 0, WINDOW_HOURS, K_ANONYMITY).await?;
    Ok(Json(Feed { delayed_hours: 0, window_hours: WINDOW_HOURS, min_deals_per_category: K_ANONYMITY, categories }))
}

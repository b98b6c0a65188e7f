//! Pagination: one [`Page`] of a `limit`/`offset` list with its `total`, and a stream that walks
//! every page of a list.

use crate::error::{Error, Result};
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::future::Future;

/// Which page of a list to fetch: `limit` (bounded by each route, typically 1–100 or 1–200) and
/// `offset`. `None` takes the route's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PageParams {
    /// Items per page.
    pub limit: Option<u32>,
    /// Items to skip.
    pub offset: Option<u64>,
}

impl PageParams {
    /// The first page with `limit` items.
    pub fn limit(limit: u32) -> Self {
        Self { limit: Some(limit), offset: None }
    }

    /// These parameters starting at `offset`.
    pub fn at(self, offset: u64) -> Self {
        Self { offset: Some(offset), ..self }
    }

    pub(crate) fn pairs(&self) -> [(&'static str, Option<u64>); 2] {
        [("limit", self.limit.map(u64::from)), ("offset", self.offset)]
    }
}

/// One page of a list: its items, the list's `total`, and the `limit` and `offset` the server applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// This page's items, in the list's order.
    pub items: Vec<T>,
    /// Items in the whole list.
    pub total: u64,
    /// The page size the server applied.
    pub limit: u64,
    /// The offset of the first item.
    pub offset: u64,
}

impl<T> Page<T> {
    /// The parameters of the next page, or `None` on the last one.
    pub fn next(&self) -> Option<PageParams> {
        let next = self.offset.saturating_add(self.items.len() as u64);
        let limit = u32::try_from(self.limit).ok();
        (!self.items.is_empty() && next < self.total).then_some(PageParams { limit, offset: Some(next) })
    }

    /// Whether more items follow this page.
    pub fn has_more(&self) -> bool {
        self.next().is_some()
    }

    /// Decodes a list answer whose items are under `field` (`{"<field>": [...], "total", "limit", "offset"}`).
    pub(crate) fn decode(mut body: Value, field: &str) -> Result<Page<T>>
    where
        T: DeserializeOwned,
    {
        let decode = |source| Error::Decode { status: 200, source };
        let number = |body: &Value, name: &str| body.get(name).and_then(Value::as_u64);
        let items = body.get_mut(field).map(Value::take).unwrap_or(Value::Null);
        let items: Vec<T> = serde_json::from_value(items).map_err(decode)?;
        let total = number(&body, "total").unwrap_or(items.len() as u64);
        Ok(Page {
            limit: number(&body, "limit").unwrap_or(items.len() as u64),
            offset: number(&body, "offset").unwrap_or(0),
            total,
            items,
        })
    }
}

/// Every item of a list, fetching page after page with `fetch` from `first` until the list
/// ends. The stream stops at the first error, which it yields.
pub(crate) fn walk<T, F, Fut>(first: PageParams, fetch: F) -> BoxStream<'static, Result<T>>
where
    T: Send + 'static,
    F: FnMut(PageParams) -> Fut + Send + 'static,
    Fut: Future<Output = Result<Page<T>>> + Send + 'static,
{
    stream::try_unfold((fetch, Some(first)), |(mut fetch, next)| async move {
        let Some(params) = next else { return Ok(None) };
        let page = fetch(params).await?;
        let following = page.next();
        Ok(Some((page.items, (fetch, following))))
    })
    .map_ok(|items| stream::iter(items.into_iter().map(Ok)))
    .try_flatten()
    .boxed()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn a_page_knows_whether_another_follows() {
        let page: Page<u32> =
            Page::decode(json!({"keys": [1, 2], "total": 5, "limit": 2, "offset": 2}), "keys").unwrap();
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next(), Some(PageParams { limit: Some(2), offset: Some(4) }));
        let last: Page<u32> = Page::decode(json!({"keys": [5], "total": 5, "limit": 2, "offset": 4}), "keys").unwrap();
        assert_eq!(last.next(), None);
        let empty: Page<u32> = Page::decode(json!({"keys": [], "total": 9, "limit": 2, "offset": 20}), "keys").unwrap();
        assert!(!empty.has_more(), "an empty page ends the walk even if total disagrees");
    }

    #[tokio::test]
    async fn walking_yields_every_item_once_in_order() {
        let data: Vec<u32> = (0..7).collect();
        let items: Vec<u32> = walk(PageParams::limit(3), move |params| {
            let data = data.clone();
            async move {
                let offset = params.offset.unwrap_or(0) as usize;
                let items: Vec<u32> = data.iter().copied().skip(offset).take(3).collect();
                Ok(Page { items, total: 7, limit: 3, offset: offset as u64 })
            }
        })
        .try_collect()
        .await
        .unwrap();
        assert_eq!(items, (0..7).collect::<Vec<_>>());
    }
}

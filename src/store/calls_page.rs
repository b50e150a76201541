//! Call records a page at a time, for the API's call list.
//!
//! The page is chosen by one query over the `calls_offered_at` index and
//! each record is then read by [`Store::call`], so that the one mapping of
//! a row to a [`CallRecord`] stays in `calls.rs`.

use super::{CallRecord, Store, StoreError};

impl Store {
    /// The newest calls first, skipping the first `offset`.
    pub async fn list_calls_page(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<CallRecord>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM calls ORDER BY offered_at DESC, id DESC LIMIT $1 OFFSET $2",
        )
        .bind(i64::from(limit))
        .bind(i64::try_from(offset).unwrap_or(i64::MAX))
        .fetch_all(self.pool())
        .await?;
        let mut calls = Vec::with_capacity(ids.len());
        for id in ids {
            match self.call(&id).await {
                Ok(call) => calls.push(call),
                // Call records are never deleted; should one vanish between the
                // two reads, the page is one shorter rather than an error.
                Err(StoreError::NotFound { .. }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(calls)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::{NewCall, testing};

    fn new_call(id: &str, offered_at: i64) -> NewCall {
        NewCall {
            id: id.to_string(),
            sip_call_id: format!("{id}@127.0.0.1"),
            direction: "inbound".into(),
            caller_raw: "13812345678".into(),
            caller: Some("+8613812345678".into()),
            dialled: "hotline".into(),
            community: None,
            offered_at,
            node: "node-a".into(),
        }
    }

    #[tokio::test]
    async fn pages_of_calls_are_newest_first_and_do_not_overlap_on_both_engines() {
        for store in testing::stores().await {
            for (id, at) in [("a", 1), ("b", 4), ("c", 2), ("d", 3)] {
                store.insert_call(&new_call(id, at)).await.expect("insert");
            }
            let page = |limit, offset| {
                let store = store.clone();
                async move {
                    store
                        .list_calls_page(limit, offset)
                        .await
                        .expect("page")
                        .into_iter()
                        .map(|c| c.id)
                        .collect::<Vec<_>>()
                }
            };
            assert_eq!(page(2, 0).await, ["b", "d"]);
            assert_eq!(page(2, 2).await, ["c", "a"]);
            assert!(page(2, 4).await.is_empty());
            assert!(page(2, u64::MAX).await.is_empty());
        }
    }
}

//! The call log as the desk shows it: call records newest first, a page at
//! a time, and one call by id. Owns the paging limits; knows no HTTP.

use crate::store::{Store, StoreError};

pub use crate::store::{CallLeg, CallRecord};

/// Most calls one page may hold.
pub const MAX_PAGE: u32 = 200;

/// What can go wrong reading the call log.
#[derive(Debug, thiserror::Error)]
pub enum CallLogError {
    #[error("no call with id {id}")]
    NotFound { id: String },
    #[error("a page holds 1 to {MAX_PAGE} calls, not {limit}")]
    PageSize { limit: u32 },
    #[error(transparent)]
    Store(StoreError),
}

/// Reads call records.
#[derive(Debug, Clone)]
pub struct CallLog {
    store: Store,
}

impl CallLog {
    pub fn new(store: Store) -> CallLog {
        CallLog { store }
    }

    /// `limit` calls, newest first, after skipping the newest `offset`.
    pub async fn page(&self, limit: u32, offset: u64) -> Result<Vec<CallRecord>, CallLogError> {
        if limit == 0 || limit > MAX_PAGE {
            return Err(CallLogError::PageSize { limit });
        }
        self.store
            .list_calls_page(limit, offset)
            .await
            .map_err(CallLogError::Store)
    }

    /// The rings of operators' phones for a call, in order (none for a call
    /// that never waited for an operator).
    pub async fn legs(&self, id: &str) -> Result<Vec<CallLeg>, CallLogError> {
        self.store.call_legs(id).await.map_err(CallLogError::Store)
    }

    /// One call by id.
    pub async fn get(&self, id: &str) -> Result<CallRecord, CallLogError> {
        match self.store.call(id).await {
            Ok(call) => Ok(call),
            Err(StoreError::NotFound { .. }) => Err(CallLogError::NotFound { id: id.to_string() }),
            Err(err) => Err(CallLogError::Store(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{NewCall, testing};

    #[tokio::test]
    async fn pages_are_bounded_and_an_unknown_call_is_not_found() {
        let log = CallLog::new(testing::sqlite().await);
        assert!(matches!(
            log.page(0, 0).await,
            Err(CallLogError::PageSize { limit: 0 })
        ));
        assert!(matches!(
            log.page(MAX_PAGE + 1, 0).await,
            Err(CallLogError::PageSize { .. })
        ));
        assert!(log.page(MAX_PAGE, 0).await.expect("page").is_empty());
        assert!(matches!(
            log.get("nope").await,
            Err(CallLogError::NotFound { .. })
        ));
    }

    #[tokio::test]
    async fn a_recorded_call_is_read_back() {
        let store = testing::sqlite().await;
        let call = NewCall {
            id: "c1".into(),
            sip_call_id: "c1@127.0.0.1".into(),
            direction: "inbound".into(),
            caller_raw: "13812345678".into(),
            caller: None,
            dialled: "hotline".into(),
            community: None,
            offered_at: 1,
            node: "node-a".into(),
        };
        store.insert_call(&call).await.expect("insert");
        let log = CallLog::new(store);
        assert_eq!(log.get("c1").await.expect("get").caller_raw, "13812345678");
        assert_eq!(log.page(10, 0).await.expect("page").len(), 1);
    }
}

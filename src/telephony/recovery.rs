//! Start-up repair after a crash: every call of this node that never ended
//! had its daemon killed under it. Its recording is repaired so it plays
//! (the WAV header brought up to date with what reached the disk) and its
//! record is finished with the reason `crashed`.

use std::path::Path;

use tracing::{info, warn};

use crate::desk::EndReason;
use crate::recording;
use crate::store::{CallEnd, Store, StoreError};

use super::failure::CallFailure;

/// Finishes the calls a crash left open; returns how many.
pub async fn recover(
    store: &Store,
    node: &str,
    recordings_root: &Path,
) -> Result<usize, StoreError> {
    let calls = store.unfinished_calls(node).await?;
    for call in &calls {
        let mut end = CallEnd {
            ended_at: call.answered_at.unwrap_or(call.offered_at),
            end_reason: EndReason::Crashed.as_str().to_string(),
            end_code: Some(CallFailure::DaemonRestarted.code().to_string()),
            ..CallEnd::default()
        };
        if let Some(relative) = &call.recording_path {
            let path = recordings_root.join(relative);
            let repair = {
                let path = path.clone();
                tokio::task::spawn_blocking(move || recording::repair(&path)).await
            };
            match repair {
                Ok(Ok(report)) => {
                    let duration_ms =
                        i64::try_from(report.duration.as_millis()).unwrap_or(i64::MAX);
                    end.ended_at = end.ended_at.saturating_add(duration_ms);
                    end.duration_ms = Some(duration_ms);
                    end.recording_sha256 = Some(report.sha256);
                    info!(call = %call.id, path = %path.display(), repaired = report.was_damaged, "recording recovered");
                }
                Ok(Err(err)) => warn!(call = %call.id, %err, "recording could not be repaired"),
                Err(err) => warn!(call = %call.id, %err, "repair task failed"),
            }
        }
        store.call_ended(&call.id, &end).await?;
    }
    Ok(calls.len())
}

//! The event bus: what happens to calls, the queue and the operators, for
//! whoever shows it live (the WebSocket `/api/live`, the console). In
//! process, one broadcast channel: publishers never wait, and a subscriber
//! that falls too far behind loses the oldest events and is told so.
//!
//! `telephony` publishes; `api` subscribes and sends each client what its
//! role may see ([`Event::audience`]). The events are plain data with their
//! JSON shape (a `type` field names each one); the screen pop's archive
//! and work-order parts arrive already shaped as JSON, since this layer
//! knows nothing above it.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

/// Events kept for a subscriber that has not read them yet; one that falls
/// further behind loses the oldest.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Who may receive an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience<'a> {
    /// This operator (and supervisors, who see every operator).
    Operator(&'a str),
    /// Supervisors and administrators only.
    Supervisors,
}

/// The caller as the screen pop shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallerCard {
    /// The number as received.
    pub number: String,
    /// The number in E.164, when it reads as one.
    pub e164: Option<String>,
    /// `person`, `household` or `unknown`.
    #[serde(rename = "match")]
    pub match_kind: String,
    /// The people the archive knows with that number, with role and rooms.
    pub people: serde_json::Value,
    /// Open work orders of their rooms, latest first (at most 10).
    pub open_tickets: serde_json::Value,
    /// Their last calls (at most 5).
    pub recent_calls: serde_json::Value,
}

/// Something that happened, as sent to clients.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Event {
    /// An operator's phone is being rung for a call: the screen pop.
    #[serde(rename = "call.offered")]
    CallOffered {
        operator: String,
        call_id: String,
        community: String,
        /// The menu choice code (`repair`, `complaint`, … `operator`).
        menu_choice: Option<String>,
        caller: Box<CallerCard>,
        /// Milliseconds since the Unix epoch.
        at: i64,
    },
    /// The operator picked up.
    #[serde(rename = "call.answered")]
    CallAnswered {
        operator: String,
        call_id: String,
        at: i64,
    },
    /// The operator's call ended.
    #[serde(rename = "call.ended")]
    CallEnded {
        operator: String,
        call_id: String,
        /// `caller`, `operator` or `hotline`.
        hung_up_by: String,
        at: i64,
    },
    /// An operator's state changed.
    #[serde(rename = "operator.state")]
    OperatorState {
        operator: String,
        state: String,
        reason: Option<String>,
        call_id: Option<String>,
        since: i64,
    },
    /// A caller joined the queue.
    #[serde(rename = "queue.joined")]
    QueueJoined {
        call_id: String,
        community: String,
        menu_choice: Option<String>,
        /// Calls waiting now, and the longest wait in milliseconds.
        waiting: usize,
        longest_wait_ms: i64,
        at: i64,
    },
    /// A caller left the queue.
    #[serde(rename = "queue.left")]
    QueueLeft {
        call_id: String,
        /// `answered`, `abandoned`, `voicemail`, `max_wait`, `shutdown`.
        reason: String,
        waiting: usize,
        longest_wait_ms: i64,
        at: i64,
    },
}

impl Event {
    /// Who may receive it.
    pub fn audience(&self) -> Audience<'_> {
        match self {
            Event::CallOffered { operator, .. }
            | Event::CallAnswered { operator, .. }
            | Event::CallEnded { operator, .. }
            | Event::OperatorState { operator, .. } => Audience::Operator(operator),
            Event::QueueJoined { .. } | Event::QueueLeft { .. } => Audience::Supervisors,
        }
    }
}

/// The bus; cheap to clone.
#[derive(Debug, Clone)]
pub struct Bus {
    sender: broadcast::Sender<Arc<Event>>,
}

/// A subscription to the bus.
pub type Subscription = broadcast::Receiver<Arc<Event>>;

impl Bus {
    pub fn new(capacity: usize) -> Bus {
        let (sender, _) = broadcast::channel(capacity.max(1));
        Bus { sender }
    }

    /// Sends an event to every subscriber; never waits, and an event nobody
    /// listens to is simply gone.
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(Arc::new(event));
    }

    /// Every event published from now on.
    pub fn subscribe(&self) -> Subscription {
        self.sender.subscribe()
    }
}

impl Default for Bus {
    fn default() -> Self {
        Bus::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(operator: &str) -> Event {
        Event::OperatorState {
            operator: operator.to_string(),
            state: "available".to_string(),
            reason: None,
            call_id: None,
            since: 1,
        }
    }

    #[tokio::test]
    async fn subscribers_get_what_is_published_after_they_subscribe_in_order() {
        let bus = Bus::new(8);
        bus.publish(state("early"));
        let mut one = bus.subscribe();
        let mut two = bus.subscribe();
        bus.publish(state("zhang"));
        bus.publish(state("li"));
        for subscription in [&mut one, &mut two] {
            for expected in ["zhang", "li"] {
                let event = subscription.recv().await.expect("an event");
                assert_eq!(event.audience(), Audience::Operator(expected));
            }
        }
    }

    #[tokio::test]
    async fn a_subscriber_that_falls_behind_is_told_and_goes_on_with_the_newest() {
        let bus = Bus::new(2);
        let mut slow = bus.subscribe();
        for n in 0..5 {
            bus.publish(state(&format!("op{n}")));
        }
        assert!(matches!(
            slow.recv().await,
            Err(broadcast::error::RecvError::Lagged(3))
        ));
        let event = slow.recv().await.expect("the newest remain");
        assert_eq!(event.audience(), Audience::Operator("op3"));
    }

    #[test]
    fn events_serialise_with_their_type_and_queue_events_go_to_supervisors() {
        let joined = Event::QueueJoined {
            call_id: "c1".to_string(),
            community: "JF".to_string(),
            menu_choice: Some("operator".to_string()),
            waiting: 1,
            longest_wait_ms: 0,
            at: 5,
        };
        let json = serde_json::to_value(&joined).expect("serialises");
        assert_eq!(json["type"], "queue.joined");
        assert_eq!(json["waiting"], 1);
        assert_eq!(joined.audience(), Audience::Supervisors);
        let json = serde_json::to_value(state("zhang")).expect("serialises");
        assert_eq!(json["type"], "operator.state");
        assert_eq!(json["operator"], "zhang");
    }
}

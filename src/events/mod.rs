//! The event bus (DESIGN.md: in-process, and PostgreSQL LISTEN/NOTIFY
//! between nodes) through which `telephony` and `api` will publish what the
//! console shows live (`CallRinging`, `TicketChanged`, …). Nothing publishes
//! yet: the console and the queue arrive with the operators' issue, and the
//! bus with them. It will know nothing above it.

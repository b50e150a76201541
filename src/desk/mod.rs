//! The business of the customer-service centre: users and their roles, the
//! call log, and (in later layers) the owner archive and work orders. No
//! sockets, no SIP types, no HTTP; it reaches the database only through
//! `store`.

pub mod call_log;
pub mod users;

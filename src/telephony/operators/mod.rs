//! Operators: the board that follows their phones and states and hands
//! waiting calls to them (`board`), and the queue's configuration.

mod board;
mod config;
mod registrar;
mod start;

pub use config::{GroupConfig, QueueConfig};

pub use board::{
    Board, LeaveReason, NobodyToAnswer, OperatorInfo, Phone, PhoneTarget, QueueEvent, WaitingCall,
};
pub use registrar::{RegistrarError, RegistrarHandle, start_registrar};
pub use start::start_board;

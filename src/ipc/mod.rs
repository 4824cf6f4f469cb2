//! Client ⇄ daemon protocol: a hello, then length-prefixed postcard frames over a local socket.

pub mod frame;
pub mod hello;
pub mod messages;

pub use frame::{read_frame, write_frame, FrameError, MAX_FRAME};
pub use hello::{read_hello, write_hello, HelloError};
pub use messages::*;

//! Client ⇄ daemon protocol: length-prefixed postcard frames over a local socket.

pub mod frame;
pub mod messages;

pub use frame::{read_frame, write_frame, FrameError};
pub use messages::*;

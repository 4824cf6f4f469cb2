//! Client ⇄ daemon protocol: a hello, then length-prefixed postcard frames over a local socket.

pub mod fds;
pub mod frame;
pub mod hello;
pub mod messages;

pub use fds::{read_frame_with_fds, write_frame_with_fds};
pub use frame::{read_frame, write_frame, FrameError, MAX_FRAME};
pub use hello::{read_hello, write_hello, HelloError};
pub use messages::*;

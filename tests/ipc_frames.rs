//! Property tests of the socket framing (the fast, always-run companion of the `frame` and
//! `hello` fuzz targets): a message round-trips through a frame, and any truncation of a
//! frame, or a byte more inside it, is refused.

use proptest::prelude::*;
use zccache::ipc::{read_frame, write_frame, CompileRequest, FrameError, Request};

fn request() -> impl Strategy<Value = CompileRequest> {
    (
        any::<u32>(),
        any::<String>(),
        any::<String>(),
        prop::collection::vec(any::<String>(), 0..8),
        prop::collection::vec((any::<String>(), any::<String>()), 0..4),
    )
        .prop_map(|(protocol, cwd, compiler, args, env)| CompileRequest {
            protocol,
            cwd,
            compiler,
            args,
            env,
        })
}

fn encode(msg: &Request) -> Vec<u8> {
    let mut buf = Vec::new();
    write_frame(&mut buf, msg).expect("encode");
    buf
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn frames_round_trip_and_refuse_truncation_and_trailing_bytes(req in request(), cut in any::<prop::sample::Index>()) {
        let frame = encode(&Request::Compile(req.clone()));
        let Request::Compile(back) = read_frame::<Request>(&mut frame.as_slice()).expect("decode") else {
            panic!("decoded another variant");
        };
        prop_assert_eq!(
            (back.protocol, &back.cwd, &back.compiler, &back.args, &back.env),
            (req.protocol, &req.cwd, &req.compiler, &req.args, &req.env)
        );

        let cut = cut.index(frame.len());
        prop_assert!(read_frame::<Request>(&mut &frame[..cut]).is_err());

        let mut longer = frame.clone();
        let len = u32::from_le_bytes([frame[0], frame[1], frame[2], frame[3]]);
        longer[..4].copy_from_slice(&(len + 1).to_le_bytes());
        longer.push(0);
        prop_assert!(matches!(read_frame::<Request>(&mut longer.as_slice()), Err(FrameError::Trailing(1))));
    }

    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = read_frame::<Request>(&mut bytes.as_slice());
        let _ = zccache::ipc::read_hello(&mut bytes.as_slice());
    }
}

//! Adapters: argv -> normalized Invocation (stub).

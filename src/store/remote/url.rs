//! Remote URLs: which engine a `ZCCACHE_REMOTE` entry names, and its text with credentials
//! removed (the only form logs, `zccache config`, stats and errors ever show).

use super::backend::RemoteError;

/// The engine family of a URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// Bazel HTTP remote cache protocol (`http://`, `https://`).
    Http,
    /// REAPI v2 over gRPC (`grpc://`, `grpcs://`).
    Grpc,
    /// Redis (`redis://`, `rediss://`, `redis+unix://`).
    Redis,
    /// S3 and compatible stores (`s3://bucket/prefix`).
    S3,
}

/// Classifies `url`.
pub fn scheme(url: &str) -> Result<Scheme, RemoteError> {
    let (scheme, _) = url
        .split_once("://")
        .ok_or_else(|| RemoteError::Config(format!("{}: not a URL", redact(url))))?;
    match scheme {
        "http" | "https" => Ok(Scheme::Http),
        "grpc" | "grpcs" => Ok(Scheme::Grpc),
        "redis" | "rediss" | "redis+unix" | "unix" => Ok(Scheme::Redis),
        "s3" => Ok(Scheme::S3),
        "gs" | "az" | "azure" => Err(RemoteError::Config(format!(
            "{}: gs:// and az:// are not supported by this build",
            redact(url)
        ))),
        other => Err(RemoteError::Config(format!(
            "{}: unknown scheme {other}:// (use http, https, grpc, grpcs, redis, rediss, redis+unix or s3)",
            redact(url)
        ))),
    }
}

/// `url` without a `user:password@` part (and without a query string, which may carry
/// tokens).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<invalid url>".into();
    };
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let host = match authority.rfind('@') {
        Some(at) => format!("***@{}", &authority[at + 1..]),
        None => authority.to_string(),
    };
    format!("{scheme}://{host}{path}")
}

/// Removes a header value (`Name: secret`) from text.
pub fn redact_header(header: &str) -> String {
    match header.split_once(':') {
        Some((name, _)) => format!("{}: ***", name.trim()),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_and_redacts() {
        assert_eq!(scheme("http://h:8080/p").unwrap(), Scheme::Http);
        assert_eq!(scheme("grpcs://h:443/inst").unwrap(), Scheme::Grpc);
        assert_eq!(scheme("redis+unix:///run/r.sock").unwrap(), Scheme::Redis);
        assert_eq!(scheme("s3://bucket/prefix").unwrap(), Scheme::S3);
        assert!(scheme("ftp://x").is_err());
        assert!(scheme("nonsense").is_err());
        assert_eq!(
            redact("redis://:s3cret@host:6379/2"),
            "redis://***@host:6379/2"
        );
        assert_eq!(
            redact("https://user:pw@cache.example/pre?token=abc"),
            "https://***@cache.example/pre"
        );
        assert_eq!(redact("http://h/p"), "http://h/p");
        assert!(!scheme("ftp://u:topsecret@h")
            .unwrap_err()
            .to_string()
            .contains("topsecret"));
        assert_eq!(
            redact_header("Authorization: Bearer xyz"),
            "Authorization: ***"
        );
    }
}

//! The Bazel HTTP remote cache protocol: `GET`/`PUT`/`HEAD` on `<prefix>/ac/<64 hex>` and
//! `<prefix>/cas/<sha256 hex>` — what bazel-remote, BuildBuddy, nginx WebDAV and most
//! artifact stores accept. Credentials come from the URL (basic auth) or
//! `ZCCACHE_REMOTE_HEADER`.

use super::backend::{Backend, Kind, RemoteError};
use super::url::redact;
use reqwest::StatusCode;
use std::time::Duration;
use tokio::runtime::Handle;

pub struct HttpBackend {
    base: String,
    shown: String,
    client: reqwest::Client,
    basic: Option<(String, Option<String>)>,
    runtime: Handle,
}

impl HttpBackend {
    pub fn new(url: &str, header: Option<&str>, runtime: Handle) -> Result<Self, RemoteError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| RemoteError::Config(format!("{}: {e}", redact(url))))?;
        let basic = (!parsed.username().is_empty()).then(|| {
            (
                percent_decode(parsed.username()),
                parsed.password().map(percent_decode),
            )
        });
        let mut clean = parsed.clone();
        let _ = clean.set_username("");
        let _ = clean.set_password(None);
        let base = clean.as_str().trim_end_matches('/').to_string();
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(header) = header {
            let (name, value) = header.split_once(':').ok_or_else(|| {
                RemoteError::Config("ZCCACHE_REMOTE_HEADER must read `Name: value`".into())
            })?;
            let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| RemoteError::Config("ZCCACHE_REMOTE_HEADER: bad name".into()))?;
            let mut value = reqwest::header::HeaderValue::from_str(value.trim())
                .map_err(|_| RemoteError::Config("ZCCACHE_REMOTE_HEADER: bad value".into()))?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(Duration::from_secs(2))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| RemoteError::Config(format!("{}: {e}", redact(url))))?;
        Ok(HttpBackend {
            shown: redact(url),
            base,
            client,
            basic,
            runtime,
        })
    }

    fn url(&self, kind: Kind, key: &str) -> String {
        format!("{}/{}/{key}", self.base, kind.dir())
    }

    fn auth(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.basic {
            Some((user, pass)) => req.basic_auth(user, pass.as_ref()),
            None => req,
        }
    }

    fn run<T>(
        &self,
        deadline: Duration,
        fut: impl std::future::Future<Output = Result<T, RemoteError>>,
    ) -> Result<T, RemoteError> {
        self.runtime.block_on(async {
            tokio::time::timeout(deadline, fut)
                .await
                .unwrap_or(Err(RemoteError::Timeout))
        })
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(hex, 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A transport error, without the URL reqwest would print (it may carry credentials).
fn transport(e: reqwest::Error) -> RemoteError {
    if e.is_timeout() {
        return RemoteError::Timeout;
    }
    let kind = if e.is_connect() {
        "connect failed"
    } else if e.is_body() || e.is_decode() {
        "response body failed"
    } else {
        "request failed"
    };
    RemoteError::Failed(kind.to_string())
}

impl Backend for HttpBackend {
    fn describe(&self) -> &str {
        &self.shown
    }

    fn get(
        &self,
        kind: Kind,
        key: &str,
        _size: u64,
        deadline: Duration,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        let req = self.auth(self.client.get(self.url(kind, key)));
        self.run(deadline, async move {
            let resp = req.send().await.map_err(transport)?;
            match resp.status() {
                StatusCode::NOT_FOUND => Ok(None),
                s if s.is_success() => {
                    let body = resp.bytes().await.map_err(transport)?;
                    Ok(Some(body.to_vec()))
                }
                s => Err(RemoteError::Failed(format!("GET {}: HTTP {s}", kind.dir()))),
            }
        })
    }

    fn put(
        &self,
        kind: Kind,
        key: &str,
        bytes: &[u8],
        deadline: Duration,
    ) -> Result<(), RemoteError> {
        let req = self
            .auth(self.client.put(self.url(kind, key)))
            .body(bytes.to_vec());
        self.run(deadline, async move {
            let resp = req.send().await.map_err(transport)?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(RemoteError::Failed(format!(
                    "PUT {}: HTTP {}",
                    kind.dir(),
                    resp.status()
                )))
            }
        })
    }

    fn missing(
        &self,
        blobs: &[(String, u64)],
        deadline: Duration,
    ) -> Result<Vec<(String, u64)>, RemoteError> {
        let requests: Vec<_> = blobs
            .iter()
            .map(|(key, size)| {
                (
                    key.clone(),
                    *size,
                    self.auth(self.client.head(self.url(Kind::Cas, key))),
                )
            })
            .collect();
        self.run(deadline, async move {
            let mut missing = Vec::new();
            for (key, size, req) in requests {
                let resp = req.send().await.map_err(transport)?;
                match resp.status() {
                    s if s.is_success() => {}
                    StatusCode::NOT_FOUND => missing.push((key, size)),
                    s => return Err(RemoteError::Failed(format!("HEAD cas: HTTP {s}"))),
                }
            }
            Ok(missing)
        })
    }
}

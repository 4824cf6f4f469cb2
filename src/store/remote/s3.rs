//! S3 and compatible stores (`s3://bucket[/prefix]`, R2, MinIO, SeaweedFS) through
//! `object_store`: the standard AWS variables (`AWS_ENDPOINT_URL`, `AWS_REGION`,
//! `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, and `AWS_PROFILE` read
//! from `~/.aws/credentials`), requests SigV4-signed; an `http://` endpoint is used as given.
//! Values are the same records as every engine under `<prefix>/ac/<hex>` and
//! `<prefix>/cas/<hex>`, compressed with zstd. object_store's 30 s / 10-retry defaults are
//! replaced by one quick retry: the tier's deadline and circuit breaker handle the rest.

use super::backend::{Backend, Kind, RemoteError};
use super::compress::{compress, decompress};
use super::url::redact;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use std::time::Duration;
use tokio::runtime::Handle;

pub struct S3Backend {
    store: AmazonS3,
    prefix: String,
    shown: String,
    runtime: Handle,
}

/// `[profile]` keys from an AWS credentials file.
fn profile_credentials(profile: &str) -> Option<(String, String, Option<String>)> {
    let path = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(std::path::PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".aws/credentials")))?;
    let text = std::fs::read_to_string(path).ok()?;
    let mut in_section = false;
    let (mut id, mut secret, mut token) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == profile;
            continue;
        }
        if !in_section {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().to_string();
            match k.trim() {
                "aws_access_key_id" => id = Some(v),
                "aws_secret_access_key" => secret = Some(v),
                "aws_session_token" => token = Some(v),
                _ => {}
            }
        }
    }
    Some((id?, secret?, token))
}

impl S3Backend {
    pub fn new(url: &str, runtime: Handle) -> Result<Self, RemoteError> {
        let shown = redact(url);
        let rest = url.strip_prefix("s3://").unwrap_or(url);
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(RemoteError::Config(format!("{shown}: no bucket")));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(object_store::RetryConfig {
                max_retries: 1,
                retry_timeout: Duration::from_secs(2),
                ..Default::default()
            });
        if std::env::var_os("AWS_REGION").is_none()
            && std::env::var_os("AWS_DEFAULT_REGION").is_none()
        {
            builder = builder.with_region("us-east-1");
        }
        let endpoint = std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .or_else(|_| std::env::var("AWS_ENDPOINT"))
            .ok();
        if let Some(endpoint) = &endpoint {
            builder = builder.with_endpoint(endpoint);
            if endpoint.starts_with("http://") {
                builder = builder.with_allow_http(true);
            }
        }
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".into());
            if let Some((id, secret, token)) = profile_credentials(&profile) {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
                if let Some(token) = token {
                    builder = builder.with_token(token);
                }
            }
        }
        let store = builder
            .build()
            .map_err(|e| RemoteError::Config(format!("{shown}: {}", short(&e.to_string()))))?;
        Ok(S3Backend {
            store,
            prefix: prefix.trim_matches('/').to_string(),
            shown,
            runtime,
        })
    }

    fn path(&self, kind: Kind, key: &str) -> ObjectPath {
        if self.prefix.is_empty() {
            ObjectPath::from(format!("{}/{key}", kind.dir()))
        } else {
            ObjectPath::from(format!("{}/{}/{key}", self.prefix, kind.dir()))
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

/// First line of an object_store error, which never holds the secret key.
fn short(text: &str) -> String {
    text.lines()
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

fn failed(e: object_store::Error) -> RemoteError {
    RemoteError::Failed(format!("s3: {}", short(&e.to_string())))
}

impl Backend for S3Backend {
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
        let path = self.path(kind, key);
        let packed = self.run(deadline, async {
            match self.store.get(&path).await {
                Ok(got) => Ok(Some(got.bytes().await.map_err(failed)?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(failed(e)),
            }
        })?;
        packed.map(|p| decompress(&p)).transpose()
    }

    fn put(
        &self,
        kind: Kind,
        key: &str,
        bytes: &[u8],
        deadline: Duration,
    ) -> Result<(), RemoteError> {
        let path = self.path(kind, key);
        let payload = PutPayload::from(compress(bytes)?);
        self.run(deadline, async {
            self.store.put(&path, payload).await.map_err(failed)?;
            Ok(())
        })
    }

    fn missing(
        &self,
        blobs: &[(String, u64)],
        deadline: Duration,
    ) -> Result<Vec<(String, u64)>, RemoteError> {
        self.run(deadline, async {
            let mut missing = Vec::new();
            for (key, size) in blobs {
                match self.store.head(&self.path(Kind::Cas, key)).await {
                    Ok(_) => {}
                    Err(object_store::Error::NotFound { .. }) => missing.push((key.clone(), *size)),
                    Err(e) => return Err(failed(e)),
                }
            }
            Ok(missing)
        })
    }
}

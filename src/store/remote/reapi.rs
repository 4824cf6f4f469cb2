//! REAPI v2 over gRPC (`grpc://host:port[/instance]`, `grpcs://…`): ActionCache for action
//! results, ContentAddressableStorage (FindMissingBlobs, BatchUpdateBlobs, BatchReadBlobs)
//! for small blobs and ByteStream for large ones — what bazel-remote, BuildBuddy, Buildbarn,
//! NativeLink and BuildGrid serve. The channel connects lazily on first use.

use super::backend::{Backend, Kind, RemoteError};
use super::url::redact;
use bazel_remote_apis::build::bazel::remote::execution::v2 as re;
use bazel_remote_apis::google::bytestream as bs;
use prost::Message;
use re::action_cache_client::ActionCacheClient;
use re::content_addressable_storage_client::ContentAddressableStorageClient;
use std::time::Duration;
use tokio::runtime::Handle;
use tonic::codegen::tokio_stream;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};

/// Blobs above this go through ByteStream (gRPC messages are limited to 4 MiB by default).
const BATCH_LIMIT: u64 = 2 << 20;
/// ByteStream write chunk.
const CHUNK: usize = 1 << 20;

pub struct ReapiBackend {
    channel: Channel,
    instance: String,
    shown: String,
    header: Option<(String, String)>,
    runtime: Handle,
}

fn status(what: &str, s: tonic::Status) -> RemoteError {
    match s.code() {
        tonic::Code::DeadlineExceeded => RemoteError::Timeout,
        code => RemoteError::Failed(format!("{what}: {code:?}")),
    }
}

impl ReapiBackend {
    pub fn new(url: &str, header: Option<&str>, runtime: Handle) -> Result<Self, RemoteError> {
        let shown = redact(url);
        let (tls, rest) = match url.split_once("://") {
            Some(("grpcs", rest)) => (true, rest),
            Some((_, rest)) => (false, rest),
            None => return Err(RemoteError::Config(format!("{shown}: not a URL"))),
        };
        let (authority, instance) = rest.split_once('/').unwrap_or((rest, ""));
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let scheme = if tls { "https" } else { "http" };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{authority}"))
            .map_err(|_| RemoteError::Config(format!("{shown}: bad host")))?
            .connect_timeout(Duration::from_secs(2));
        if tls {
            endpoint = endpoint
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .map_err(|_| RemoteError::Config(format!("{shown}: TLS setup failed")))?;
        }
        let channel = {
            let _guard = runtime.enter();
            endpoint.connect_lazy()
        };
        let header = match header {
            Some(h) => {
                let (name, value) = h.split_once(':').ok_or_else(|| {
                    RemoteError::Config("ZCCACHE_REMOTE_HEADER must read `Name: value`".into())
                })?;
                Some((name.trim().to_ascii_lowercase(), value.trim().to_string()))
            }
            None => None,
        };
        Ok(ReapiBackend {
            channel,
            instance: instance.trim_matches('/').to_string(),
            shown,
            header,
            runtime,
        })
    }

    fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut req = tonic::Request::new(message);
        if let Some((name, value)) = &self.header {
            if let (Ok(name), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(name.as_bytes()),
                value.parse(),
            ) {
                req.metadata_mut().insert(name, value);
            }
        }
        req
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

    fn digest(key: &str, size: u64) -> re::Digest {
        re::Digest {
            hash: key.to_string(),
            size_bytes: size as i64,
        }
    }

    fn resource(&self, key: &str, size: u64) -> String {
        if self.instance.is_empty() {
            format!("blobs/{key}/{size}")
        } else {
            format!("{}/blobs/{key}/{size}", self.instance)
        }
    }

    async fn read_stream(&self, key: &str, size: u64) -> Result<Option<Vec<u8>>, RemoteError> {
        let mut client = bs::byte_stream_client::ByteStreamClient::new(self.channel.clone());
        let req = self.request(bs::ReadRequest {
            resource_name: self.resource(key, size),
            read_offset: 0,
            read_limit: 0,
        });
        let mut stream = match client.read(req).await {
            Ok(resp) => resp.into_inner(),
            Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
            Err(s) => return Err(status("ByteStream.Read", s)),
        };
        let mut out = Vec::with_capacity(size as usize);
        loop {
            match stream.message().await {
                Ok(Some(chunk)) => out.extend_from_slice(&chunk.data),
                Ok(None) => return Ok(Some(out)),
                Err(s) if s.code() == tonic::Code::NotFound => return Ok(None),
                Err(s) => return Err(status("ByteStream.Read", s)),
            }
        }
    }

    async fn write_stream(&self, key: &str, bytes: &[u8]) -> Result<(), RemoteError> {
        let mut client = bs::byte_stream_client::ByteStreamClient::new(self.channel.clone());
        let nonce = blake3::hash(key.as_bytes()).to_hex();
        let name = if self.instance.is_empty() {
            format!("uploads/{}/blobs/{key}/{}", &nonce[..32], bytes.len())
        } else {
            format!(
                "{}/uploads/{}/blobs/{key}/{}",
                self.instance,
                &nonce[..32],
                bytes.len()
            )
        };
        let total = bytes.len();
        let mut requests = Vec::new();
        let mut offset = 0;
        loop {
            let end = (offset + CHUNK).min(total);
            requests.push(bs::WriteRequest {
                resource_name: if offset == 0 {
                    name.clone()
                } else {
                    String::new()
                },
                write_offset: offset as i64,
                finish_write: end == total,
                data: bytes[offset..end].to_vec(),
            });
            offset = end;
            if offset == total {
                break;
            }
        }
        let req = self.request(tokio_stream::iter(requests));
        client
            .write(req)
            .await
            .map_err(|s| status("ByteStream.Write", s))?;
        Ok(())
    }
}

impl Backend for ReapiBackend {
    fn describe(&self) -> &str {
        &self.shown
    }

    fn get(
        &self,
        kind: Kind,
        key: &str,
        size: u64,
        deadline: Duration,
    ) -> Result<Option<Vec<u8>>, RemoteError> {
        self.run(deadline, async {
            match kind {
                Kind::Ac => {
                    let mut client = ActionCacheClient::new(self.channel.clone());
                    let req = self.request(re::GetActionResultRequest {
                        instance_name: self.instance.clone(),
                        action_digest: Some(Self::digest(key, size)),
                        ..Default::default()
                    });
                    match client.get_action_result(req).await {
                        Ok(resp) => Ok(Some(resp.into_inner().encode_to_vec())),
                        Err(s) if s.code() == tonic::Code::NotFound => Ok(None),
                        Err(s) => Err(status("GetActionResult", s)),
                    }
                }
                Kind::Cas if size > BATCH_LIMIT => self.read_stream(key, size).await,
                Kind::Cas => {
                    let mut client = ContentAddressableStorageClient::new(self.channel.clone());
                    let req = self.request(re::BatchReadBlobsRequest {
                        instance_name: self.instance.clone(),
                        digests: vec![Self::digest(key, size)],
                        ..Default::default()
                    });
                    let resp = client
                        .batch_read_blobs(req)
                        .await
                        .map_err(|s| status("BatchReadBlobs", s))?
                        .into_inner();
                    let Some(one) = resp.responses.into_iter().next() else {
                        return Ok(None);
                    };
                    match one.status.map(|s| s.code).unwrap_or(0) {
                        0 => Ok(Some(one.data)),
                        5 => Ok(None), // NOT_FOUND
                        code => Err(RemoteError::Failed(format!(
                            "BatchReadBlobs: status {code}"
                        ))),
                    }
                }
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
        self.run(deadline, async {
            match kind {
                Kind::Ac => {
                    let result = re::ActionResult::decode(bytes)
                        .map_err(|_| RemoteError::failed("not an ActionResult"))?;
                    let mut client = ActionCacheClient::new(self.channel.clone());
                    let req = self.request(re::UpdateActionResultRequest {
                        instance_name: self.instance.clone(),
                        action_digest: Some(Self::digest(key, super::entry::ACTION_SIZE)),
                        action_result: Some(result),
                        ..Default::default()
                    });
                    client
                        .update_action_result(req)
                        .await
                        .map_err(|s| status("UpdateActionResult", s))?;
                    Ok(())
                }
                Kind::Cas if bytes.len() as u64 > BATCH_LIMIT => {
                    self.write_stream(key, bytes).await
                }
                Kind::Cas => {
                    let mut client = ContentAddressableStorageClient::new(self.channel.clone());
                    let req = self.request(re::BatchUpdateBlobsRequest {
                        instance_name: self.instance.clone(),
                        requests: vec![re::batch_update_blobs_request::Request {
                            digest: Some(Self::digest(key, bytes.len() as u64)),
                            data: bytes.to_vec(),
                            compressor: 0,
                        }],
                        ..Default::default()
                    });
                    let resp = client
                        .batch_update_blobs(req)
                        .await
                        .map_err(|s| status("BatchUpdateBlobs", s))?
                        .into_inner();
                    match resp
                        .responses
                        .first()
                        .and_then(|r| r.status.as_ref())
                        .map(|s| s.code)
                    {
                        None | Some(0) => Ok(()),
                        Some(code) => Err(RemoteError::Failed(format!(
                            "BatchUpdateBlobs: status {code}"
                        ))),
                    }
                }
            }
        })
    }

    fn missing(
        &self,
        blobs: &[(String, u64)],
        deadline: Duration,
    ) -> Result<Vec<(String, u64)>, RemoteError> {
        if blobs.is_empty() {
            return Ok(Vec::new());
        }
        self.run(deadline, async {
            let mut client = ContentAddressableStorageClient::new(self.channel.clone());
            let req = self.request(re::FindMissingBlobsRequest {
                instance_name: self.instance.clone(),
                blob_digests: blobs.iter().map(|(k, s)| Self::digest(k, *s)).collect(),
                ..Default::default()
            });
            let resp = client
                .find_missing_blobs(req)
                .await
                .map_err(|s| status("FindMissingBlobs", s))?
                .into_inner();
            Ok(resp
                .missing_blob_digests
                .into_iter()
                .map(|d| (d.hash, d.size_bytes.max(0) as u64))
                .collect())
        })
    }
}

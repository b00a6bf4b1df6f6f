//! Where photo bytes live: a local directory by default, any `object_store` backend by URL.

use std::sync::Arc;

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The photo store, keyed by photo id.
#[derive(Debug, Clone)]
pub(crate) struct Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: Path,
}

impl Blobs {
    /// Opens the store named by `url`: a plain path or `file://` URL is a local directory
    /// (created if missing), `memory://` keeps photos in memory (tests), and `s3://bucket/prefix`
    /// is S3 or an S3-compatible store configured by the usual `AWS_*` variables (needs the
    /// crate's `s3` feature).
    pub(crate) fn open(url: &str) -> anyhow::Result<Self> {
        if url == "memory://" {
            return Ok(Self {
                store: Arc::new(object_store::memory::InMemory::new()),
                prefix: Path::default(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            return Self::s3(url, rest);
        }
        if url.contains("://") && !url.starts_with("file://") {
            anyhow::bail!("BOARD_BLOB_URL: unsupported scheme in {url}");
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        campus_shared::config::create_private_dir(std::path::Path::new(dir))?;
        let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
        Ok(Self { store: Arc::new(store), prefix: Path::default() })
    }

    #[cfg(feature = "s3")]
    fn s3(url: &str, rest: &str) -> anyhow::Result<Self> {
        let store = object_store::aws::AmazonS3Builder::from_env().with_url(url).build()?;
        let prefix = rest.split_once('/').map(|(_, p)| Path::from(p)).unwrap_or_default();
        Ok(Self { store: Arc::new(store), prefix })
    }

    #[cfg(not(feature = "s3"))]
    fn s3(url: &str, _rest: &str) -> anyhow::Result<Self> {
        anyhow::bail!("BOARD_BLOB_URL={url} needs campus-board built with the `s3` feature")
    }

    fn key(&self, id: i64) -> Path {
        self.prefix.clone().join("photos").join(id.to_string().as_str())
    }

    pub(crate) async fn put(&self, id: i64, bytes: Vec<u8>) -> object_store::Result<()> {
        self.store.put(&self.key(id), PutPayload::from(bytes)).await.map(|_| ())
    }

    pub(crate) async fn get(&self, id: i64) -> object_store::Result<Vec<u8>> {
        Ok(self.store.get(&self.key(id)).await?.bytes().await?.to_vec())
    }

    pub(crate) async fn delete(&self, id: i64) -> object_store::Result<()> {
        self.store.delete(&self.key(id)).await
    }
}

//! The local transport: a Unix domain socket in a private folder.

use std::path::{Path, PathBuf};

use tokio::net::UnixListener;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};

use super::Transport;

pub struct UnixTransport {
    listener: UnixListener,
    path: PathBuf,
}

impl UnixTransport {
    /// Listens at `path` (a stale socket file there is replaced).
    pub fn bind(path: &Path) -> std::io::Result<Self> {
        if path.exists() {
            std::fs::remove_file(path)?;
        }
        Ok(Self { listener: UnixListener::bind(path)?, path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for UnixTransport {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Transport for UnixTransport {
    type Reader = OwnedReadHalf;
    type Writer = OwnedWriteHalf;

    async fn accept(&mut self) -> std::io::Result<(OwnedReadHalf, OwnedWriteHalf)> {
        let (stream, _) = self.listener.accept().await?;
        Ok(stream.into_split())
    }
}

/// Consumer side: connects to the producer's socket.
pub async fn connect(path: &Path) -> std::io::Result<(OwnedReadHalf, OwnedWriteHalf)> {
    Ok(tokio::net::UnixStream::connect(path).await?.into_split())
}

//! Reading the files an operator points Weft at — manifests, components, `file:` secrets —
//! as regular files of bounded size. A FIFO would block the reader for ever (and with it a
//! reload, `weft check`, shutdown), and `/dev/zero` would grow without end: both are refused
//! before anything is read, and no read goes past the size cap even if the file grows meanwhile.

use std::io::Read;
use std::path::Path;

/// Largest manifest.
pub const MAX_MANIFEST: u64 = 1024 * 1024;
/// Largest component.
pub const MAX_COMPONENT: u64 = 256 * 1024 * 1024;
/// Largest secret file.
pub const MAX_SECRET: u64 = 64 * 1024;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// It could not be opened or read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// It is a FIFO, a device, a socket or a folder.
    #[error("is not a regular file (a FIFO, device, socket or folder is refused)")]
    NotRegular,
    /// It is larger than the cap.
    #[error("is larger than {max} bytes")]
    TooLarge {
        /// The cap.
        max: u64,
    },
}

/// Reads `path` if it is a regular file of at most `max` bytes (symbolic links are followed to
/// their target, which must itself be a regular file).
pub fn read_regular(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(FileError::NotRegular);
    }
    if meta.len() > max {
        return Err(FileError::TooLarge { max });
    }
    let file = std::fs::File::open(path)?;
    // Checked again on the open file: the path may have been swapped since the stat.
    if !file.metadata()?.is_file() {
        return Err(FileError::NotRegular);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(FileError::TooLarge { max });
    }
    Ok(bytes)
}

/// [`read_regular`] off the async executor.
pub async fn read_regular_async(path: &Path, max: u64) -> Result<Vec<u8>, FileError> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || read_regular(&path, max))
        .await
        .map_err(|e| FileError::Io(std::io::Error::other(e.to_string())))?
}

/// True if `path`'s permissions let its group or everyone read it.
pub fn readable_by_others(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_folders_and_oversized_files_are_refused() {
        assert!(matches!(
            read_regular(Path::new("/dev/zero"), 1024),
            Err(FileError::NotRegular)
        ));
        assert!(matches!(
            read_regular(Path::new("/tmp"), 1024),
            Err(FileError::NotRegular)
        ));
        let dir = tempfile::tempdir().expect("dir");
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).expect("write");
        assert!(matches!(
            read_regular(&big, 1024),
            Err(FileError::TooLarge { max: 1024 })
        ));
        assert_eq!(read_regular(&big, 4096).expect("read").len(), 2048);
    }
}

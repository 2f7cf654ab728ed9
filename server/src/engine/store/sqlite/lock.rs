//! One process per file: the lock on `PATH.lock`.

use std::path::Path;

use super::rows::storage;
use super::sibling;
use crate::engine::error::ChatError;

/// Locks `PATH.lock` for as long as the returned file stays open, or says who holds it.
pub(super) fn take_ownership(path: &Path) -> Result<std::fs::File, ChatError> {
    let lock_path = sibling(path, ".lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| storage(format!("cannot open {}: {e}", lock_path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(storage(format!(
            "{} is in use by another mcp-chat process; stop it, or give this one its own file \
             with --store sqlite:PATH",
            path.display()
        ))),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(storage(format!("cannot lock {}: {e}", lock_path.display())))
        }
    }
}

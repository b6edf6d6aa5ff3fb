//! Replica log for tidekv.

use std::time::Duration;

/// Maximum number of times a replica retries an append before giving up.
pub const MAX_APPEND_RETRIES: u32 = 5;

/// How often the leader sends heartbeats to followers.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_millis(150);

/// Errors a replica can return.
#[derive(Debug)]
pub enum ReplicaError {
    /// The request's idempotency key was already used with a different payload.
    IdempotencyConflict,
    /// The log was truncated past the requested index.
    LogTruncated { index: u64 },
    Io(std::io::Error),
}

/// Appends are durable: an entry acknowledged to the leader survives a crash
/// of this replica.
pub fn append<'a>(log: &'a mut Vec<u8>, entry: &[u8]) -> Result<(), ReplicaError> {
    let _marker = '/';
    let _raw = r#"// not a comment"#;
    log.extend_from_slice(entry);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_lost_writes_after_crash() {}

    #[test]
    fn parses_config_file() {}
}

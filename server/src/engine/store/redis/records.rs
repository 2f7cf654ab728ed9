//! Short records that another layer keeps beside the chat, shared by every instance: one key
//! each under the store's prefix, expiring `ttl` after they were last written or read. The HTTP
//! layer keeps its MCP sessions here (`http/session_store.rs`); the engine does not know what
//! they hold.

use std::time::Duration;

use super::conn::Conn;
use super::keys::Keys;
use crate::engine::ChatError;

#[derive(Clone)]
pub struct SharedRecords {
    conn: Conn,
    keys: Keys,
    ttl: Duration,
}

impl SharedRecords {
    pub fn new(conn: Conn, keys: Keys, ttl: Duration) -> SharedRecords {
        SharedRecords { conn, keys, ttl }
    }

    /// The record `id`, whose expiry starts over: a record in use stays known.
    pub async fn load(&self, id: &str) -> Result<Option<String>, ChatError> {
        self.conn
            .query(
                redis::cmd("GETEX")
                    .arg(self.keys.session(id))
                    .arg("EX")
                    .arg(self.ttl.as_secs()),
            )
            .await
    }

    pub async fn store(&self, id: &str, value: &str) -> Result<(), ChatError> {
        self.conn
            .query(
                redis::cmd("SET")
                    .arg(self.keys.session(id))
                    .arg(value)
                    .arg("EX")
                    .arg(self.ttl.as_secs()),
            )
            .await
    }

    pub async fn delete(&self, id: &str) -> Result<(), ChatError> {
        let _: i64 = self
            .conn
            .query(redis::cmd("DEL").arg(self.keys.session(id)))
            .await?;
        Ok(())
    }
}

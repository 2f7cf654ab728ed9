//! MCP sessions shared by every instance.
//!
//! rmcp keeps a session's worker in the process that created it. With a
//! [`SessionStore`] configured, it saves the client's `initialize` parameters after the
//! handshake; a request carrying an `Mcp-Session-Id` this process does not know is then not
//! answered 404: rmcp loads the parameters, replays `initialize` and `notifications/initialized`
//! into a fresh local worker and serves the request (see rmcp's
//! `StreamableHttpService::try_restore_from_store`). Chat state is all in Redis, so a restored
//! session is as good as the original: no sticky sessions are needed.

use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use super::keys::Keys;

pub struct RedisSessionStore {
    conn: ConnectionManager,
    keys: Keys,
    ttl: Duration,
}

impl RedisSessionStore {
    /// Sessions are forgotten `ttl` after they were created or last restored somewhere.
    pub fn new(conn: ConnectionManager, keys: Keys, ttl: Duration) -> RedisSessionStore {
        RedisSessionStore { conn, keys, ttl }
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        // GETEX: a session that moves between instances stays known while it is in use.
        let stored: Option<String> = redis::cmd("GETEX")
            .arg(self.keys.session(session_id))
            .arg("EX")
            .arg(self.ttl.as_secs())
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(stored.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(state)?;
        let () = redis::cmd("SET")
            .arg(self.keys.session(session_id))
            .arg(json)
            .arg("EX")
            .arg(self.ttl.as_secs())
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        let _: i64 = redis::cmd("DEL")
            .arg(self.keys.session(session_id))
            .query_async(&mut self.conn.clone())
            .await?;
        Ok(())
    }
}

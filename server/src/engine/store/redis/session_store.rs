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
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use super::conn::Conn;
use super::keys::Keys;

pub struct RedisSessionStore {
    conn: Conn,
    keys: Keys,
    ttl: Duration,
}

impl RedisSessionStore {
    /// Sessions are forgotten `ttl` after they were created or last restored somewhere.
    pub fn new(conn: Conn, keys: Keys, ttl: Duration) -> RedisSessionStore {
        RedisSessionStore { conn, keys, ttl }
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        // GETEX: a session that moves between instances stays known while it is in use.
        let stored: Option<String> = self
            .conn
            .query(
                redis::cmd("GETEX")
                    .arg(self.keys.session(session_id))
                    .arg("EX")
                    .arg(self.ttl.as_secs()),
            )
            .await?;
        Ok(stored.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        let json = serde_json::to_string(state)?;
        let () = self
            .conn
            .query(
                redis::cmd("SET")
                    .arg(self.keys.session(session_id))
                    .arg(json)
                    .arg("EX")
                    .arg(self.ttl.as_secs()),
            )
            .await?;
        Ok(())
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        let _: i64 = self
            .conn
            .query(redis::cmd("DEL").arg(self.keys.session(session_id)))
            .await?;
        Ok(())
    }
}

//! MCP sessions shared by every instance, kept in the Redis store's shared records.
//!
//! rmcp keeps a session's worker in the process that created it. With a [`SessionStore`]
//! configured, it saves the client's `initialize` parameters after the handshake; a request
//! carrying an `Mcp-Session-Id` this process does not know is then not answered 404: rmcp loads
//! the parameters, replays `initialize` and `notifications/initialized` into a fresh local worker
//! and serves the request (see rmcp's `StreamableHttpService::try_restore_from_store`). Chat
//! state is all in Redis, so a restored session is as good as the original: no sticky sessions
//! are needed.

use async_trait::async_trait;
use rmcp::transport::streamable_http_server::session::store::{
    SessionState, SessionStore, SessionStoreError,
};

use crate::engine::store::redis::SharedRecords;

pub struct SharedSessions(pub SharedRecords);

#[async_trait]
impl SessionStore for SharedSessions {
    async fn load(&self, session_id: &str) -> Result<Option<SessionState>, SessionStoreError> {
        let stored = self.0.load(session_id).await?;
        Ok(stored.map(|s| serde_json::from_str(&s)).transpose()?)
    }

    async fn store(&self, session_id: &str, state: &SessionState) -> Result<(), SessionStoreError> {
        Ok(self
            .0
            .store(session_id, &serde_json::to_string(state)?)
            .await?)
    }

    async fn delete(&self, session_id: &str) -> Result<(), SessionStoreError> {
        Ok(self.0.delete(session_id).await?)
    }
}

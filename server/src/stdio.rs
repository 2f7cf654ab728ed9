//! MCP over stdin/stdout: one private server for the client that launched us.

use rmcp::ServiceExt;
use rmcp::service::ServerInitializeError;
use tokio_util::sync::CancellationToken;

use crate::mcp::ChatServer;

pub async fn run(server: ChatServer, shutdown: CancellationToken) -> anyhow::Result<()> {
    // `stdio_pipes` (not `stdio`) so that a shutdown does not hang on a blocking stdin read.
    let running = match server
        .serve_with_ct(rmcp::transport::stdio_pipes(), shutdown.clone())
        .await
    {
        Ok(running) => running,
        // Stopped (or stdin closed) before the client said `initialize`: nothing to clean up.
        Err(ServerInitializeError::Cancelled) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    tracing::info!("serving MCP over stdio");
    let reason = running.waiting().await?;
    tracing::info!(?reason, "stdio session ended");
    Ok(())
}

//! An agent on rmcp's client, as an SDK-built agent talks to the server: HTTP, rmcp's default
//! revision (2026-07-28), and *without* the MCP Apps extension — it shows no View. The
//! end-to-end tests (`e2e/browser-page.test.mjs`) drive it: one JSON line per tool call on
//! stdin, `{"tool": NAME, "arguments": {…}}`, and one line per result on stdout,
//! `{"isError": bool, "text": "…", "structured": {…}}`.
//!
//!     cargo run -p mcp-chat --example agent -- http://127.0.0.1:8000/mcp

use std::io::{BufRead, Write};

use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use serde_json::{Value, json};

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let url = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: agent MCP_URL"))?;
    let client = ().serve(StreamableHttpClientTransport::from_uri(url)).await?;
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let request: Value = serde_json::from_str(&line?)?;
        let tool = request["tool"].as_str().unwrap_or_default().to_owned();
        let arguments = request["arguments"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let answer = match client
            .call_tool(CallToolRequestParams::new(tool).with_arguments(arguments))
            .await
        {
            Ok(result) => {
                let text: Vec<String> = result
                    .content
                    .iter()
                    .filter_map(|block| block.as_text().map(|t| t.text.clone()))
                    .collect();
                json!({
                    "isError": result.is_error.unwrap_or(false),
                    "text": text.join("\n"),
                    "structured": result.structured_content,
                })
            }
            Err(e) => json!({"isError": true, "text": e.to_string(), "structured": null}),
        };
        writeln!(stdout, "{answer}")?;
        stdout.flush()?;
    }
    client.cancel().await?;
    Ok(())
}

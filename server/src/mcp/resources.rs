//! The View as an MCP Apps UI resource.

use rmcp::ErrorData;
use rmcp::model::{MetaObject, ReadResourceResult, Resource, ResourceContents};
use serde_json::json;

use crate::view::{
    VIEW_DESCRIPTION, VIEW_MIME_TYPE, VIEW_NAME, VIEW_URI, document, hosting, ui_meta,
};

/// `_meta` for both the list entry and the read contents: hosts read it from either (VS Code
/// from the contents, microsoft/vscode#287106).
///
/// Beside the MCP Apps `ui` object, the keys ChatGPT reads: it widens its iframe's policy only
/// from `openai/widgetCSP` (snake_case lists; empty here, like `ui.csp`: the View connects
/// nowhere and loads nothing), and takes its sandbox origin from `openai/widgetDomain`.
fn meta() -> MetaObject {
    let mut meta = json!({
        "ui": ui_meta(),
        "openai/widgetCSP": { "connect_domains": [], "resource_domains": [] },
        "openai/widgetPrefersBorder": true,
        "openai/widgetDescription": VIEW_DESCRIPTION,
    });
    if let Some(domain) = &hosting().openai_widget_domain {
        meta["openai/widgetDomain"] = json!(domain);
    }
    MetaObject(rmcp::model::object(meta))
}

pub fn view_resource() -> Resource {
    let resource = Resource::new(VIEW_URI, VIEW_NAME)
        .with_title("MCP Chat")
        .with_description(VIEW_DESCRIPTION)
        .with_mime_type(VIEW_MIME_TYPE)
        .with_meta(meta());
    match document() {
        Ok(html) => resource.with_size(html.len() as u64),
        // Only with `--view-file` (a developer's setting); `read` reports the error.
        Err(_) => resource,
    }
}

pub fn read(uri: &str) -> Result<ReadResourceResult, ErrorData> {
    if uri != VIEW_URI {
        return Err(ErrorData::resource_not_found(
            format!("no resource at {uri}; this server serves {VIEW_URI}"),
            Some(json!({ "uri": uri })),
        ));
    }
    let html = document().map_err(|e| ErrorData::internal_error(e, None))?;
    Ok(ReadResourceResult::new(vec![
        ResourceContents::text(html, VIEW_URI)
            .with_mime_type(VIEW_MIME_TYPE)
            .with_meta(meta()),
    ]))
}

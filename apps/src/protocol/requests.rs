//! The requests of the specification beyond the handshake: app-provided tools, server resources,
//! sampling, file downloads, cancellation and progress — standard MCP shapes, as the View sends
//! and reads them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ContentBlock;
use crate::json::{Error, Fields, FromJson, object};
use crate::jsonrpc::RequestId;

/// A tool the View provides (the MCP `Tool` shape its `tools/list` answer carries).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolDefinition {
    /// Its name: the key the host calls it by.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A name for people.
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// What it does, for the model.
    pub description: Option<String>,
    /// A JSON Schema whose `type` is `"object"`: hosts validate the list against that.
    pub input_schema: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A JSON Schema of its `structuredContent`.
    pub output_schema: Option<Value>,
    /// MCP tool annotations (`readOnlyHint`, `destructiveHint`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

impl ToolDefinition {
    /// A tool that takes no arguments (its schema is an object with no properties).
    pub fn new(name: impl Into<String>, description: impl Into<String>) -> ToolDefinition {
        ToolDefinition {
            name: name.into(),
            title: None,
            description: Some(description.into()),
            input_schema: object(vec![
                ("type", Value::from("object")),
                ("properties", Value::Object(Map::new())),
            ]),
            output_schema: None,
            annotations: None,
        }
    }

    /// The JSON Schema of the arguments; its `type` must be `"object"`.
    pub fn with_input_schema(mut self, schema: Value) -> ToolDefinition {
        self.input_schema = schema;
        self
    }

    /// A name for people.
    pub fn with_title(mut self, title: impl Into<String>) -> ToolDefinition {
        self.title = Some(title.into());
        self
    }

    /// MCP tool annotations, e.g. `{"readOnlyHint": true}`.
    pub fn with_annotations(mut self, annotations: Value) -> ToolDefinition {
        self.annotations = Some(annotations);
        self
    }

    /// The tool as JSON, as `tools/list` answers it.
    pub fn to_json(&self) -> Value {
        let mut entries = vec![("name", Value::from(self.name.as_str()))];
        let text = |s: &Option<String>| s.as_deref().map(Value::from);
        if let Some(title) = text(&self.title) {
            entries.push(("title", title));
        }
        if let Some(description) = text(&self.description) {
            entries.push(("description", description));
        }
        entries.push(("inputSchema", self.input_schema.clone()));
        if let Some(schema) = &self.output_schema {
            entries.push(("outputSchema", schema.clone()));
        }
        if let Some(annotations) = &self.annotations {
            entries.push(("annotations", annotations.clone()));
        }
        object(entries)
    }
}

impl FromJson for ToolDefinition {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "a tool")?;
        Ok(ToolDefinition {
            name: f.req("name")?,
            title: f.opt("title")?,
            description: f.opt("description")?,
            input_schema: f.req("inputSchema")?,
            output_schema: f.opt("outputSchema")?,
            annotations: f.opt("annotations")?,
        })
    }
}

/// `tools/call` parameters, in either direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallToolParams {
    /// The tool's name.
    pub name: String,
    #[serde(default)]
    /// Its arguments (an object; absent is empty).
    pub arguments: Map<String, Value>,
}

impl FromJson for CallToolParams {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "tools/call parameters")?;
        Ok(CallToolParams {
            name: f.req("name")?,
            arguments: f.opt("arguments")?.unwrap_or_default(),
        })
    }
}

/// A resource the server lists (`resources/list` entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceInfo {
    /// Its URI.
    pub uri: String,
    /// Its name.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// A name for people.
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// What it is.
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its MIME type.
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its size in bytes.
    pub size: Option<u64>,
}

impl FromJson for ResourceInfo {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "a resource")?;
        Ok(ResourceInfo {
            uri: f.req("uri")?,
            name: f.req("name")?,
            title: f.opt("title")?,
            description: f.opt("description")?,
            mime_type: f.opt("mimeType")?,
            size: f.opt("size")?,
        })
    }
}

/// A `resources/list` result: one page, and the cursor of the next if there is one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListResourcesResult {
    #[serde(default)]
    /// This page of the list.
    pub resources: Vec<ResourceInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Where the next page starts; `None` on the last.
    pub next_cursor: Option<String>,
}

impl FromJson for ListResourcesResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "a resources/list result")?;
        Ok(ListResourcesResult {
            resources: f.def("resources")?,
            next_cursor: f.opt("nextCursor")?,
        })
    }
}

/// One item of a `resources/read` result: text, or binary as base64 in `blob`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceContents {
    /// Its URI.
    pub uri: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its MIME type.
    pub mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Text contents.
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Binary contents, base64-encoded.
    pub blob: Option<String>,
    #[serde(default, rename = "_meta", skip_serializing_if = "Option::is_none")]
    /// Its `_meta` (e.g. `ui` for a View).
    pub meta: Option<Map<String, Value>>,
}

impl FromJson for ResourceContents {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "resource contents")?;
        Ok(ResourceContents {
            uri: f.req("uri")?,
            mime_type: f.opt("mimeType")?,
            text: f.opt("text")?,
            blob: f.opt("blob")?,
            meta: f.opt("_meta")?,
        })
    }
}

/// A `resources/read` result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadResourceResult {
    #[serde(default)]
    /// One entry per resource (or part).
    pub contents: Vec<ResourceContents>,
}

impl FromJson for ReadResourceResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "a resources/read result")?;
        Ok(ReadResourceResult {
            contents: f.def("contents")?,
        })
    }
}

/// Who speaks in a sampled conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The person.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

impl FromJson for Role {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match value.as_str() {
            Some("user") => Ok(Role::User),
            Some("assistant") => Ok(Role::Assistant),
            _ => Err("invalid role: expected \"user\" or \"assistant\"".into()),
        }
    }
}

/// One turn of a `sampling/createMessage` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplingMessage {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: ContentBlock,
}

/// `sampling/createMessage` parameters: ask the host's model for one message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageParams {
    /// The conversation so far.
    pub messages: Vec<SamplingMessage>,
    /// The most the answer may take.
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Instructions for the model.
    pub system_prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Sampling temperature.
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Where the answer stops.
    pub stop_sequences: Option<Vec<String>>,
    /// MCP model preferences (hints, cost/speed/intelligence priorities), passed as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_preferences: Option<Value>,
}

impl CreateMessageParams {
    /// One user message, answered in at most `max_tokens`.
    pub fn ask(text: impl Into<String>, max_tokens: u32) -> CreateMessageParams {
        CreateMessageParams {
            messages: vec![SamplingMessage {
                role: Role::User,
                content: ContentBlock::text(text),
            }],
            max_tokens,
            system_prompt: None,
            temperature: None,
            stop_sequences: None,
            model_preferences: None,
        }
    }

    /// The parameters as JSON.
    pub fn to_json(&self) -> Value {
        let messages = self
            .messages
            .iter()
            .map(|m| {
                object(vec![
                    ("role", Value::from(m.role.as_str())),
                    ("content", m.content.to_json()),
                ])
            })
            .collect();
        let mut entries = vec![
            ("messages", Value::Array(messages)),
            ("maxTokens", Value::from(self.max_tokens)),
        ];
        if let Some(prompt) = &self.system_prompt {
            entries.push(("systemPrompt", Value::from(prompt.as_str())));
        }
        if let Some(temperature) = self.temperature {
            entries.push(("temperature", Value::from(temperature)));
        }
        if let Some(stops) = &self.stop_sequences {
            let stops = stops.iter().map(|s| Value::from(s.as_str())).collect();
            entries.push(("stopSequences", Value::Array(stops)));
        }
        if let Some(preferences) = &self.model_preferences {
            entries.push(("modelPreferences", preferences.clone()));
        }
        object(entries)
    }
}

/// What the host's model answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateMessageResult {
    /// Who speaks (the model: assistant).
    pub role: Role,
    /// The answer.
    pub content: ContentBlock,
    /// The model that answered.
    pub model: String,
    /// `endTurn`, `stopSequence`, `maxTokens`, or another reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_reason: Option<String>,
}

impl FromJson for CreateMessageResult {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "a sampling/createMessage result")?;
        Ok(CreateMessageResult {
            role: f.req("role")?,
            content: f.req("content")?,
            model: f.req("model")?,
            stop_reason: f.opt("stopReason")?,
        })
    }
}

/// One file offered with `ui/download-file`: its contents inline, or a link the host fetches.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadItem {
    /// An MCP embedded resource (`{type: "resource", resource: {uri, mimeType, text | blob}}`).
    Text {
        /// The file's URI (its name for the host).
        uri: String,
        /// Its MIME type.
        mime_type: String,
        /// Its text.
        text: String,
    },
    /// The same with binary contents, base64-encoded.
    Blob {
        /// The file's URI (its name for the host).
        uri: String,
        /// Its MIME type.
        mime_type: String,
        /// Its bytes, base64-encoded.
        blob: String,
    },
    /// An MCP resource link (`{type: "resource_link", uri, name, mimeType?}`).
    Link {
        /// Where the host fetches it.
        uri: String,
        /// Its name.
        name: String,
        /// Its MIME type.
        mime_type: Option<String>,
    },
}

impl DownloadItem {
    /// The item as JSON.
    pub fn to_json(&self) -> Value {
        let embedded = |uri: &str, mime: &str, key: &'static str, data: &str| {
            object(vec![
                ("type", Value::from("resource")),
                (
                    "resource",
                    object(vec![
                        ("uri", Value::from(uri)),
                        ("mimeType", Value::from(mime)),
                        (key, Value::from(data)),
                    ]),
                ),
            ])
        };
        match self {
            DownloadItem::Text {
                uri,
                mime_type,
                text,
            } => embedded(uri, mime_type, "text", text),
            DownloadItem::Blob {
                uri,
                mime_type,
                blob,
            } => embedded(uri, mime_type, "blob", blob),
            DownloadItem::Link {
                uri,
                name,
                mime_type,
            } => {
                let mut entries = vec![
                    ("type", Value::from("resource_link")),
                    ("uri", Value::from(uri.as_str())),
                    ("name", Value::from(name.as_str())),
                ];
                if let Some(mime) = mime_type {
                    entries.push(("mimeType", Value::from(mime.as_str())));
                }
                object(entries)
            }
        }
    }
}

/// `notifications/cancelled`: the sender no longer wants the answer to `request_id`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelledParams {
    /// The id of the request withdrawn.
    pub request_id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Why.
    pub reason: Option<String>,
}

impl CancelledParams {
    /// The parameters as JSON.
    pub fn to_json(&self) -> Value {
        let mut entries = vec![("requestId", self.request_id.to_json())];
        if let Some(reason) = &self.reason {
            entries.push(("reason", Value::from(reason.as_str())));
        }
        object(entries)
    }
}

impl FromJson for CancelledParams {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "notifications/cancelled parameters")?;
        Ok(CancelledParams {
            request_id: f.req("requestId")?,
            reason: f.opt("reason")?,
        })
    }
}

/// `notifications/progress`: how far a request the View made has got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    /// The token the View put in the request's `_meta.progressToken`.
    pub progress_token: Value,
    /// How far, in units the sender chooses.
    pub progress: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The whole, when known.
    pub total: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// What is going on.
    pub message: Option<String>,
}

impl FromJson for Progress {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "notifications/progress parameters")?;
        Ok(Progress {
            progress_token: f.req("progressToken")?,
            progress: f.req("progress")?,
            total: f.opt("total")?,
            message: f.opt("message")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The hand-written builders write what the derives write (the server side uses those).
    #[test]
    fn builders_agree_with_the_derives() {
        let tool = ToolDefinition {
            name: "t".into(),
            title: None,
            description: Some("d".into()),
            input_schema: json!({"type": "object"}),
            output_schema: None,
            annotations: Some(json!({"readOnlyHint": true})),
        };
        assert_eq!(tool.to_json(), json!(tool));
        assert_eq!(ToolDefinition::from_json(&json!(tool)).unwrap(), tool);

        let mut ask = CreateMessageParams::ask("hi", 100);
        ask.system_prompt = Some("be brief".into());
        ask.stop_sequences = Some(vec!["\n".into()]);
        assert_eq!(ask.to_json(), json!(ask));

        let cancelled = CancelledParams {
            request_id: RequestId::Number(7),
            reason: Some("timeout".into()),
        };
        assert_eq!(cancelled.to_json(), json!(cancelled));
        assert_eq!(
            CancelledParams::from_json(&json!(cancelled)).unwrap(),
            cancelled
        );
    }

    #[test]
    fn results_are_read_as_the_derives_read_them() {
        let sampled = json!({"role": "assistant", "content": {"type": "text", "text": "4"},
                             "model": "m", "stopReason": "endTurn", "_meta": {}});
        assert_eq!(
            CreateMessageResult::from_json(&sampled).unwrap(),
            serde_json::from_value::<CreateMessageResult>(sampled).unwrap()
        );
        let listed = json!({"resources": [{"uri": "ui://a", "name": "a", "mimeType": "text/html"}],
                            "nextCursor": "2"});
        assert_eq!(
            ListResourcesResult::from_json(&listed).unwrap(),
            serde_json::from_value::<ListResourcesResult>(listed).unwrap()
        );
        let read = json!({"contents": [{"uri": "ui://a", "text": "<p>", "_meta": {"ui": {}}}]});
        assert_eq!(
            ReadResourceResult::from_json(&read).unwrap(),
            serde_json::from_value::<ReadResourceResult>(read).unwrap()
        );
        let progress = json!({"progressToken": 3, "progress": 1.5, "total": 4.0});
        assert_eq!(
            Progress::from_json(&progress).unwrap(),
            serde_json::from_value::<Progress>(progress).unwrap()
        );
    }

    #[test]
    fn downloads_are_embedded_resources_or_links() {
        let text = DownloadItem::Text {
            uri: "file:///chat.txt".into(),
            mime_type: "text/plain".into(),
            text: "hello".into(),
        };
        assert_eq!(
            text.to_json(),
            json!({"type": "resource", "resource": {"uri": "file:///chat.txt", "mimeType": "text/plain", "text": "hello"}})
        );
        let link = DownloadItem::Link {
            uri: "https://example.com/a.pdf".into(),
            name: "a.pdf".into(),
            mime_type: None,
        };
        assert_eq!(
            link.to_json(),
            json!({"type": "resource_link", "uri": "https://example.com/a.pdf", "name": "a.pdf"})
        );
    }
}

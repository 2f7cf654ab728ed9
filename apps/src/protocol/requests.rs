//! The requests of the specification beyond the handshake: app-provided tools, server resources,
//! sampling, file downloads, cancellation and progress — standard MCP shapes, as the View sends
//! and reads them.

use serde_json::{Map, Value};

use super::ContentBlock;
use crate::json::{ToJson, object};
use crate::jsonrpc::RequestId;

json_struct! {
    /// A tool the View provides (the MCP `Tool` shape its `tools/list` answer carries).
    pub struct ToolDefinition {
        /// Its name: the key the host calls it by.
        pub name: String,
        /// A name for people.
        pub title: Option<String>,
        /// What it does, for the model.
        pub description: Option<String>,
        /// A JSON Schema whose `type` is `"object"`: hosts validate the list against that.
        pub input_schema as "inputSchema": Value,
        /// A JSON Schema of its `structuredContent`.
        pub output_schema as "outputSchema": Option<Value>,
        /// MCP tool annotations (`readOnlyHint`, `destructiveHint`, …).
        pub annotations: Option<Value>,
    }
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
}

json_struct! {
    /// `tools/call` parameters, in either direction.
    pub struct CallToolParams {
        /// The tool's name.
        pub name: String,
        /// Its arguments (an object; absent is empty).
        pub arguments: Map<String, Value> = default,
    }
}

json_struct! {
    /// A resource the server lists (`resources/list` entry).
    pub struct ResourceInfo {
        /// Its URI.
        pub uri: String,
        /// Its name.
        pub name: String,
        /// A name for people.
        pub title: Option<String>,
        /// What it is.
        pub description: Option<String>,
        /// Its MIME type.
        pub mime_type as "mimeType": Option<String>,
        /// Its size in bytes.
        pub size: Option<u64>,
    }
}

json_struct! {
    /// A `resources/list` result: one page, and the cursor of the next if there is one.
    #[derive(Default)]
    pub struct ListResourcesResult {
        /// This page of the list.
        pub resources: Vec<ResourceInfo> = default,
        /// Where the next page starts; `None` on the last.
        pub next_cursor as "nextCursor": Option<String>,
    }
}

json_struct! {
    /// One item of a `resources/read` result: text, or binary as base64 in `blob`.
    pub struct ResourceContents {
        /// Its URI.
        pub uri: String,
        /// Its MIME type.
        pub mime_type as "mimeType": Option<String>,
        /// Text contents.
        pub text: Option<String>,
        /// Binary contents, base64-encoded.
        pub blob: Option<String>,
        /// Its `_meta` (e.g. `ui` for a View).
        pub meta as "_meta": Option<Map<String, Value>>,
    }
}

json_struct! {
    /// A `resources/read` result.
    #[derive(Default)]
    pub struct ReadResourceResult {
        /// One entry per resource (or part).
        pub contents: Vec<ResourceContents> = default,
    }
}

json_enum! {
    /// Who speaks in a sampled conversation.
    pub enum Role {
        /// The person.
        User = "user",
        /// The model.
        Assistant = "assistant",
    }
}

json_struct! {
    /// One turn of a `sampling/createMessage` request.
    pub struct SamplingMessage {
        /// Who speaks.
        pub role: Role,
        /// What is said.
        pub content: ContentBlock,
    }
}

json_struct! {
    /// `sampling/createMessage` parameters: ask the host's model for one message.
    pub struct CreateMessageParams {
        /// The conversation so far.
        pub messages: Vec<SamplingMessage>,
        /// The most the answer may take.
        pub max_tokens as "maxTokens": u32,
        /// Instructions for the model.
        pub system_prompt as "systemPrompt": Option<String>,
        /// Sampling temperature.
        pub temperature: Option<f64>,
        /// Where the answer stops.
        pub stop_sequences as "stopSequences": Option<Vec<String>>,
        /// MCP model preferences (hints, cost/speed/intelligence priorities), passed as given.
        pub model_preferences as "modelPreferences": Option<Value>,
    }
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
}

json_struct! {
    /// What the host's model answered.
    pub struct CreateMessageResult {
        /// Who speaks (the model: assistant).
        pub role: Role,
        /// The answer.
        pub content: ContentBlock,
        /// The model that answered.
        pub model: String,
        /// `endTurn`, `stopSequence`, `maxTokens`, or another reason.
        pub stop_reason as "stopReason": Option<String>,
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

impl ToJson for DownloadItem {
    fn to_json(&self) -> Value {
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

json_struct! {
    /// `notifications/cancelled`: the sender no longer wants the answer to `request_id`.
    pub struct CancelledParams {
        /// The id of the request withdrawn.
        pub request_id as "requestId": RequestId,
        /// Why.
        pub reason: Option<String>,
    }
}

json_struct! {
    /// `notifications/progress`: how far a request the View made has got.
    pub struct Progress {
        /// The token the View put in the request's `_meta.progressToken`.
        pub progress_token as "progressToken": Value,
        /// How far, in units the sender chooses.
        pub progress: f64,
        /// The whole, when known.
        pub total: Option<f64>,
        /// What is going on.
        pub message: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::FromJson;
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

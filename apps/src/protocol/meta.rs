//! What a server declares about its Views: the `_meta.ui` of UI resources and of tools, and the
//! client capability that says whether a client renders MCP Apps at all.
//!
//! Servers build these with serde (they are plain `Serialize` types); nothing here is View-only.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{EXTENSION_ID, UI_MIME_TYPE};

/// The `_meta.ui` object of a UI resource (`McpUiResourceMeta`). Hosts read it from the
/// `resources/read` content item, and from the `resources/list` entry as a fallback: put it on
/// both. Never on a tool: hosts ignore `csp` and `permissions` there.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceUiMeta {
    /// Where the View may connect, load from, frame and point `<base>` at. Absent: the host's
    /// default policy (nothing outside the document).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csp: Option<ResourceCsp>,
    /// Browser permissions the View asks for; the host decides whether to grant them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<ResourcePermissions>,
    /// A dedicated sandbox origin for the View. Its format is host-specific.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Whether the View wants the host to draw a border around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefers_border: Option<bool>,
}

/// The origins a View needs beyond its own document (`McpUiResourceCsp`). An empty or absent
/// list adds nothing to the host's default policy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceCsp {
    /// Origins for `fetch`, XHR and WebSockets (`connect-src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_domains: Option<Vec<String>>,
    /// Origins for images, scripts, styles, fonts and media.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_domains: Option<Vec<String>>,
    /// Origins the View may embed in its own iframes (`frame-src`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_domains: Option<Vec<String>>,
    /// Origins allowed for the document's `<base href>` (`base-uri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_uri_domains: Option<Vec<String>>,
    /// Not in the 2026-01-26 specification: proposed in ext-apps PR #667 and read by lenient
    /// hosts, it adds `'wasm-unsafe-eval'`, which `WebAssembly.instantiate` needs and the default
    /// policy lacks. A View must still work without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wasm_unsafe_eval: Option<bool>,
}

/// A permission asked for: serialized as `{}`, the specification's "requested" marker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requested {}

/// Browser permissions a View asks for (`McpUiResourcePermissions`); each present key asks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourcePermissions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Asks for the camera.
    pub camera: Option<Requested>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Asks for the microphone.
    pub microphone: Option<Requested>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Asks for the location.
    pub geolocation: Option<Requested>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Asks to write to the clipboard.
    pub clipboard_write: Option<Requested>,
}

/// Who may call a tool (`McpUiToolMeta.visibility`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// The model sees the tool in `tools/list` and may call it.
    Model,
    /// Views of the same server may call it through the host.
    App,
}

/// The `_meta.ui` object of a tool (`McpUiToolMeta`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolUiMeta {
    /// The `ui://` resource the host renders for this tool's calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_uri: Option<String>,
    /// Absent means `[model, app]`. `[app]` hides the tool from the model: a helper only the
    /// View calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visibility: Option<Vec<Visibility>>,
}

impl ToolUiMeta {
    /// A tool whose calls the host shows with the View at `resource_uri`.
    pub fn linked(resource_uri: impl Into<String>) -> ToolUiMeta {
        ToolUiMeta {
            resource_uri: Some(resource_uri.into()),
            visibility: None,
        }
    }

    /// A tool only Views call: hidden from the model.
    pub fn app_only() -> ToolUiMeta {
        ToolUiMeta {
            resource_uri: None,
            visibility: Some(vec![Visibility::App]),
        }
    }

    /// Whether the model may see and call the tool.
    pub fn model_visible(&self) -> bool {
        self.visibility
            .as_ref()
            .is_none_or(|v| v.contains(&Visibility::Model))
    }

    /// The whole tool `_meta` object: `ui`, plus the legacy flat key `ui/resourceUri` that
    /// hosts written before the nested form still read (the official server helper writes both).
    pub fn to_tool_meta(&self) -> Map<String, Value> {
        let mut meta = Map::new();
        meta.insert("ui".into(), json!(self));
        if let Some(uri) = &self.resource_uri {
            meta.insert("ui/resourceUri".into(), Value::from(uri.as_str()));
        }
        meta
    }

    /// Reads the `ui` entry of a tool's `_meta`, with the legacy flat key as a fallback.
    pub fn from_tool_meta(meta: &Map<String, Value>) -> Option<ToolUiMeta> {
        let mut ui: ToolUiMeta = meta
            .get("ui")
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        if ui.resource_uri.is_none() {
            ui.resource_uri = meta
                .get("ui/resourceUri")
                .and_then(Value::as_str)
                .map(str::to_owned);
        }
        (ui != ToolUiMeta::default()).then_some(ui)
    }
}

/// What a client declares under `capabilities.extensions["io.modelcontextprotocol/ui"]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientUiCapability {
    /// The UI resource types the client renders; MCP Apps is [`UI_MIME_TYPE`].
    #[serde(default)]
    pub mime_types: Vec<String>,
}

impl ClientUiCapability {
    /// The client's MCP Apps support, read from its `capabilities.extensions` map (the
    /// counterpart of the JS server helper `getUiCapability`). `None`: it renders no Views, so
    /// a server should neither offer View-only tools nor link results to a View.
    pub fn from_extensions(extensions: Option<&Map<String, Value>>) -> Option<ClientUiCapability> {
        extensions?
            .get(EXTENSION_ID)?
            .as_object()
            .map(ClientUiCapability::from_settings)
    }

    /// The capability from its settings object (the value under [`EXTENSION_ID`]), for servers
    /// whose SDK keeps the extensions map in a type of its own. Unreadable settings declare no
    /// MIME type.
    pub fn from_settings(settings: &Map<String, Value>) -> ClientUiCapability {
        serde_json::from_value(Value::Object(settings.clone())).unwrap_or_default()
    }

    /// Whether the client renders MCP Apps HTML Views.
    pub fn renders_apps(&self) -> bool {
        self.mime_types.iter().any(|m| m == UI_MIME_TYPE)
    }

    /// The entry a client puts in its `capabilities.extensions` to say it renders MCP Apps.
    pub fn apps() -> ClientUiCapability {
        ClientUiCapability {
            mime_types: vec![UI_MIME_TYPE.into()],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_meta_serializes_every_field_in_camel_case() {
        let meta = ResourceUiMeta {
            csp: Some(ResourceCsp {
                connect_domains: Some(vec!["https://api.example.com".into()]),
                resource_domains: Some(vec![]),
                frame_domains: Some(vec!["https://www.youtube.com".into()]),
                base_uri_domains: Some(vec!["https://cdn.example.com".into()]),
                wasm_unsafe_eval: None,
            }),
            permissions: Some(ResourcePermissions {
                clipboard_write: Some(Requested {}),
                ..Default::default()
            }),
            domain: Some("a1b2.claudemcpcontent.com".into()),
            prefers_border: Some(false),
        };
        assert_eq!(
            json!(meta),
            json!({
                "csp": {
                    "connectDomains": ["https://api.example.com"],
                    "resourceDomains": [],
                    "frameDomains": ["https://www.youtube.com"],
                    "baseUriDomains": ["https://cdn.example.com"]
                },
                "permissions": {"clipboardWrite": {}},
                "domain": "a1b2.claudemcpcontent.com",
                "prefersBorder": false
            })
        );
        let back: ResourceUiMeta = serde_json::from_value(json!(meta)).unwrap();
        assert_eq!(back, meta);
    }

    #[test]
    fn tool_meta_writes_the_legacy_key_and_reads_either() {
        let linked = ToolUiMeta::linked("ui://x/view.html");
        let meta = linked.to_tool_meta();
        assert_eq!(
            Value::Object(meta.clone()),
            json!({"ui": {"resourceUri": "ui://x/view.html"}, "ui/resourceUri": "ui://x/view.html"})
        );
        assert_eq!(ToolUiMeta::from_tool_meta(&meta), Some(linked));
        let legacy = json!({"ui/resourceUri": "ui://old"});
        assert_eq!(
            ToolUiMeta::from_tool_meta(legacy.as_object().unwrap()),
            Some(ToolUiMeta::linked("ui://old"))
        );
        assert_eq!(ToolUiMeta::from_tool_meta(&Map::new()), None);

        let hidden = ToolUiMeta::app_only();
        assert!(!hidden.model_visible());
        assert!(ToolUiMeta::default().model_visible());
        assert_eq!(
            Value::Object(hidden.to_tool_meta()),
            json!({"ui": {"visibility": ["app"]}})
        );
    }

    #[test]
    fn client_capability_is_read_from_the_extensions_map() {
        let declared = json!({EXTENSION_ID: {"mimeTypes": [UI_MIME_TYPE]}, "other/x": {}});
        let ui = ClientUiCapability::from_extensions(declared.as_object()).unwrap();
        assert!(ui.renders_apps());
        assert_eq!(ClientUiCapability::from_extensions(None), None);
        let other = json!({"other/x": {}});
        assert_eq!(ClientUiCapability::from_extensions(other.as_object()), None);
        let no_html = json!({EXTENSION_ID: {"mimeTypes": ["text/x-other"]}});
        assert!(
            !ClientUiCapability::from_extensions(no_html.as_object())
                .unwrap()
                .renders_apps()
        );
        assert_eq!(
            json!(ClientUiCapability::apps()),
            json!({"mimeTypes": [UI_MIME_TYPE]})
        );
    }
}

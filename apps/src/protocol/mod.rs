//! MCP Apps (SEP-1865, protocol `2026-01-26`): the messages a View and its host exchange, and
//! what a server declares about its Views ([`ResourceUiMeta`], [`ToolUiMeta`],
//! [`ClientUiCapability`]).
//!
//! The shapes follow the shipped TypeScript types of `@modelcontextprotocol/ext-apps` (what hosts
//! validate against). Every field a host may omit is optional, unknown fields are kept in `extra`
//! so nothing a newer host sends is lost, and enums fall back to `Other` instead of failing the
//! whole message, because a View that rejects its host's context shows a blank frame.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::json::{Error, Fields, FromJson, JsonType, ToJson, object};

mod meta;
mod requests;

pub use meta::*;
pub use requests::*;

/// The protocol version a View announces in `ui/initialize`.
pub const PROTOCOL_VERSION: &str = "2026-01-26";
/// The MIME type of an MCP Apps HTML resource.
pub const UI_MIME_TYPE: &str = "text/html;profile=mcp-app";
/// The extension id in MCP client capabilities (`capabilities.extensions[..]`).
pub const EXTENSION_ID: &str = "io.modelcontextprotocol/ui";

/// Method names, so that no string literal is spelled twice.
pub mod methods {
    /// View → host request: the handshake.
    pub const INITIALIZE: &str = "ui/initialize";
    /// View → host notification: the handshake is done.
    pub const INITIALIZED: &str = "ui/notifications/initialized";
    /// View → host request: a message into the conversation.
    pub const MESSAGE: &str = "ui/message";
    /// View → host request: replace what the model knows of the View.
    pub const UPDATE_MODEL_CONTEXT: &str = "ui/update-model-context";
    /// View → host request: open a URL in the browser.
    pub const OPEN_LINK: &str = "ui/open-link";
    /// View → host request: inline, full screen or picture-in-picture.
    pub const REQUEST_DISPLAY_MODE: &str = "ui/request-display-mode";
    /// View → host request: offer files to save.
    pub const DOWNLOAD_FILE: &str = "ui/download-file";
    /// View → host notification: the document's size.
    pub const SIZE_CHANGED: &str = "ui/notifications/size-changed";
    /// View → host notification: please close the View.
    pub const REQUEST_TEARDOWN: &str = "ui/notifications/request-teardown";
    /// Host → View notification: the arguments of the tool call.
    pub const TOOL_INPUT: &str = "ui/notifications/tool-input";
    /// Host → View notification: arguments still being written.
    pub const TOOL_INPUT_PARTIAL: &str = "ui/notifications/tool-input-partial";
    /// Host → View notification: the tool call's result.
    pub const TOOL_RESULT: &str = "ui/notifications/tool-result";
    /// Host → View notification: the tool call was cancelled.
    pub const TOOL_CANCELLED: &str = "ui/notifications/tool-cancelled";
    /// Host → View notification: part of the host context changed.
    pub const HOST_CONTEXT_CHANGED: &str = "ui/notifications/host-context-changed";
    /// Host → View request: the View is being closed.
    pub const RESOURCE_TEARDOWN: &str = "ui/resource-teardown";
    /// A tool call (View → host for server tools, host → View for app tools).
    pub const TOOLS_CALL: &str = "tools/call";
    /// The tool list (host → View for app tools).
    pub const TOOLS_LIST: &str = "tools/list";
    /// The tool list changed (View → host for app tools).
    pub const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";
    /// The server's resources (View → host).
    pub const RESOURCES_LIST: &str = "resources/list";
    /// One of the server's resources (View → host).
    pub const RESOURCES_READ: &str = "resources/read";
    /// A message from the host's model (View → host).
    pub const SAMPLING_CREATE_MESSAGE: &str = "sampling/createMessage";
    /// Liveness, both ways.
    pub const PING: &str = "ping";
    /// A log line (View → host).
    pub const LOG: &str = "notifications/message";
    /// A request is withdrawn, both ways.
    pub const CANCELLED: &str = "notifications/cancelled";
    /// How far a request has got (host → View).
    pub const PROGRESS: &str = "notifications/progress";
}

json_struct! {
    /// Who is talking: an App or a host (`appInfo`, `hostInfo`).
    #[derive(Default)]
    pub struct Implementation {
        /// A machine name, e.g. `mcp-chat-view`.
        pub name: String,
        /// Its version.
        pub version: String,
        /// A name for people.
        pub title: Option<String>,
    }
}

json_enum! {
    /// The host's colour scheme.
    pub enum Theme {
        /// Light.
        Light = "light",
        /// Dark.
        Dark = "dark";
        /// A value newer than this crate (treat as light).
        Other = "other",
    }
}

json_enum! {
    /// Where the host shows the View.
    pub enum DisplayMode {
        /// In the conversation.
        Inline = "inline",
        /// Filling the window.
        Fullscreen = "fullscreen",
        /// Picture-in-picture.
        Pip = "pip";
        /// A value newer than this crate.
        Other = "other",
    }
}

json_struct! {
    /// What the View declares in `ui/initialize`.
    #[derive(Default)]
    pub struct AppCapabilities {
        /// The display modes the View can show itself in.
        pub available_display_modes as "availableDisplayModes": Option<Vec<DisplayMode>>,
        /// Present when the View provides tools the host may list and call.
        pub tools: Option<AppToolsCapability>,
    }
}

json_struct! {
    /// `appCapabilities.tools`: the View answers `tools/list` and `tools/call`.
    #[derive(Copy, Default, Eq)]
    pub struct AppToolsCapability {
        /// Whether the View sends `notifications/tools/list_changed`.
        pub list_changed as "listChanged": Option<bool>,
    }
}

json_struct! {
    /// `ui/initialize` parameters.
    pub struct InitializeParams {
        /// The App's name and version.
        pub app_info as "appInfo": Implementation,
        /// What the App offers.
        pub app_capabilities as "appCapabilities": AppCapabilities,
        /// The protocol version the App speaks ([`PROTOCOL_VERSION`]).
        pub protocol_version as "protocolVersion": String,
    }
}

json_struct! {
    /// What the host offers. Each capability is an object whose presence means "supported";
    /// its contents (e.g. content modalities) are kept as JSON.
    #[derive(Default)]
    pub struct HostCapabilities {
        /// The host opens links (`ui/open-link`).
        pub open_links as "openLinks": Option<Value>,
        /// The host offers files for download (`ui/download-file`).
        pub download_file as "downloadFile": Option<Value>,
        /// The host relays `tools/call` to the server.
        pub server_tools as "serverTools": Option<Value>,
        /// The host relays `resources/list` and `resources/read` to the server.
        pub server_resources as "serverResources": Option<Value>,
        /// The host takes log lines.
        pub logging: Option<Value>,
        /// What the sandbox grants (permissions, CSP).
        pub sandbox: Option<Value>,
        /// The host takes `ui/update-model-context` (the content kinds it accepts).
        pub update_model_context as "updateModelContext": Option<Value>,
        /// The host takes `ui/message` (the content kinds it accepts).
        pub message: Option<Value>,
        /// The host answers `sampling/createMessage`.
        pub sampling: Option<Value>,
        /// Anything experimental the host offers.
        pub experimental: Option<Value>,
    }
}

json_struct! {
    /// The host's styles (`hostContext.styles`).
    #[derive(Default)]
    pub struct HostStyles {
        /// CSS custom properties (`--color-background-primary`, …) to set on `<html>`.
        pub variables: Option<Map<String, Value>>,
        /// CSS the host provides.
        pub css: Option<HostCss>,
    }
}

json_struct! {
    /// CSS rules the host provides.
    #[derive(Default)]
    pub struct HostCss {
        /// `@font-face` / `@import` rules for the host's fonts.
        pub fonts: Option<String>,
    }
}

json_struct! {
    /// `height` fixed or `maxHeight` flexible; the same for width.
    #[derive(Copy, Default)]
    pub struct ContainerDimensions {
        /// A fixed height: the View fills it.
        pub height: Option<f64>,
        /// A maximum height: the View sizes itself up to it.
        pub max_height as "maxHeight": Option<f64>,
        /// A fixed width.
        pub width: Option<f64>,
        /// A maximum width.
        pub max_width as "maxWidth": Option<f64>,
    }
}

json_struct! {
    /// Insets the View keeps clear (notches, overlays), in CSS pixels.
    #[derive(Copy, Default)]
    pub struct SafeAreaInsets {
        /// Top inset.
        pub top: f64 = default,
        /// Right inset.
        pub right: f64 = default,
        /// Bottom inset.
        pub bottom: f64 = default,
        /// Left inset.
        pub left: f64 = default,
    }
}

macro_rules! host_context {
    ($( $(#[$doc:meta])* $field:ident ($key:literal) : $ty:ty ),* $(,)?) => {
        /// The host's context: theme, styles, layout, locale. Every field is optional.
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct HostContext {
            $( $(#[$doc])* #[serde(default, skip_serializing_if = "Option::is_none")] pub $field: Option<$ty>, )*
            /// Keys this version does not know, kept so a merge never drops them.
            #[serde(flatten)]
            pub extra: Map<String, Value>,
        }

        impl HostContext {
            /// Applies a `host-context-changed` notification: a shallow merge in which every key
            /// present in `changed` replaces the old value, and absent keys are kept.
            pub fn merge(&mut self, changed: HostContext) {
                $( if changed.$field.is_some() { self.$field = changed.$field; } )*
                self.extra.extend(changed.extra);
            }
        }

        impl ToJson for HostContext {
            fn to_json(&self) -> Value {
                let mut map = self.extra.clone();
                $( if let Some(value) = &self.$field { map.insert($key.into(), value.to_json()); } )*
                Value::Object(map)
            }
        }

        impl JsonType for HostContext {
            const TYPE: &'static str = "object";
        }

        impl FromJson for HostContext {
            fn from_json(value: &Value) -> Result<Self, Error> {
                let f = Fields::of(value, "struct HostContext")?;
                let mut extra = Map::new();
                for (k, v) in f.0 {
                    if !matches!(k.as_str(), $( $key )|*) {
                        extra.insert(k.clone(), v.clone());
                    }
                }
                Ok(HostContext {
                    $( $field: f.opt($key)?, )*
                    extra,
                })
            }
        }
    };
}

host_context! {
    /// The tool call that opened the View (`{id, tool}`).
    tool_info("toolInfo"): Value,
    /// Light or dark.
    theme("theme"): Theme,
    /// CSS variables and fonts to look like the host.
    styles("styles"): HostStyles,
    /// Where the View is shown now.
    display_mode("displayMode"): DisplayMode,
    /// Where the host can show it.
    available_display_modes("availableDisplayModes"): Vec<DisplayMode>,
    /// The room the View has.
    container_dimensions("containerDimensions"): ContainerDimensions,
    /// BCP 47 tag, e.g. `en-US`.
    locale("locale"): String,
    /// IANA zone, e.g. `Europe/Paris`.
    time_zone("timeZone"): String,
    /// The host application's user agent.
    user_agent("userAgent"): String,
    /// `web`, `desktop` or `mobile`.
    platform("platform"): String,
    /// Input the device has (`{touch, hover}`).
    device_capabilities("deviceCapabilities"): Value,
    /// Insets to keep clear.
    safe_area_insets("safeAreaInsets"): SafeAreaInsets,
}

json_struct! {
    /// The `ui/initialize` result.
    #[derive(Default)]
    pub struct InitializeResult {
        /// The protocol version the host speaks.
        pub protocol_version as "protocolVersion": String = default,
        /// The host's name and version.
        pub host_info as "hostInfo": Implementation = default,
        /// What the host offers: gate requests on it.
        pub host_capabilities as "hostCapabilities": HostCapabilities = default,
        /// Theme, styles, layout, locale and the tool that opened the View.
        pub host_context as "hostContext": HostContext = default,
    }
}

/// An MCP content block. Text and images are typed; any other block (audio, resource links,
/// embedded resources, kinds newer than this crate) is kept whole as JSON, so relaying a result
/// loses nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "Value", into = "Value")]
pub enum ContentBlock {
    /// Text.
    Text {
        /// The text.
        text: String,
    },
    /// An image, base64-encoded.
    Image {
        /// The image's bytes, base64-encoded.
        data: String,
        /// Its MIME type, e.g. `image/png`.
        mime_type: String,
    },
    /// Any other block, kept whole.
    Other(Value),
}

impl ContentBlock {
    /// A text block.
    pub fn text(text: impl Into<String>) -> Self {
        ContentBlock::Text { text: text.into() }
    }

    /// The text of a text block.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            ContentBlock::Text { text } => Some(text),
            _ => None,
        }
    }
}

impl From<Value> for ContentBlock {
    fn from(value: Value) -> Self {
        ContentBlock::from_json(&value).unwrap_or(ContentBlock::Other(value))
    }
}

impl From<ContentBlock> for Value {
    fn from(block: ContentBlock) -> Self {
        block.to_json()
    }
}

json_struct! {
    /// `ui/message` parameters: content is an **array** of blocks (hosts reject an object).
    pub struct MessageParams {
        /// Always `"user"`: the message is the person's.
        pub role: String,
        /// What the message says.
        pub content: Vec<ContentBlock>,
    }
}

json_struct! {
    /// `ui/update-model-context` parameters; each call replaces the previous context.
    pub struct ModelContextParams {
        /// What the model reads.
        pub content: Vec<ContentBlock>,
        /// Data beside it.
        pub structured_content as "structuredContent": Option<Value>,
    }
}

json_struct! {
    /// A `tools/call` result as the host relays it (MCP `CallToolResult`).
    #[derive(Default)]
    pub struct ToolResult {
        /// What the model reads.
        pub content: Vec<ContentBlock> = default,
        /// Data for programs and Views.
        pub structured_content as "structuredContent": Option<Value>,
        /// Whether the tool failed (`true`): the text says why.
        pub is_error as "isError": Option<bool>,
    }
}

impl ToolResult {
    /// A successful result whose text is `text` (what the model reads).
    pub fn from_text(text: impl Into<String>) -> ToolResult {
        ToolResult {
            content: vec![ContentBlock::text(text)],
            structured_content: None,
            is_error: None,
        }
    }

    /// A failed result (`isError: true`) explaining `message`: the model reads it and may retry.
    pub fn error(message: impl Into<String>) -> ToolResult {
        ToolResult {
            is_error: Some(true),
            ..ToolResult::from_text(message)
        }
    }

    /// Adds data for programs (and Views) beside the text.
    pub fn with_structured(mut self, structured: Value) -> ToolResult {
        self.structured_content = Some(structured);
        self
    }

    /// Whether the tool failed (`isError: true`).
    pub fn is_error(&self) -> bool {
        self.is_error == Some(true)
    }

    /// The readable text of the result (what a model would read).
    pub fn text(&self) -> String {
        self.content
            .iter()
            .filter_map(ContentBlock::as_text)
            .collect::<Vec<_>>()
            .join("\n")
    }
}

json_struct! {
    /// `ui/notifications/size-changed` parameters, in CSS pixels.
    #[derive(Copy)]
    pub struct SizeChanged {
        /// The document's width.
        pub width: u32,
        /// The document's height.
        pub height: u32,
    }
}

// ---------------------------------------------------------------------------------------------
// Content blocks are read and written by hand: their shape depends on their `type`, and a block
// of a kind this crate does not type is kept whole.
// ---------------------------------------------------------------------------------------------

impl FromJson for ContentBlock {
    /// Never fails: a block of a kind this crate does not type, or one lacking a field, is kept
    /// whole as [`ContentBlock::Other`], so relaying a result never drops or refuses it.
    fn from_json(value: &Value) -> Result<Self, Error> {
        let Ok(f) = Fields::of(value, "a content block") else {
            return Ok(ContentBlock::Other(value.clone()));
        };
        let typed = match f
            .opt::<String>("type")
            .ok()
            .flatten()
            .as_deref()
            .unwrap_or("")
        {
            "text" => f.req("text").map(|text| ContentBlock::Text { text }),
            "image" => f.req("data").and_then(|data| {
                Ok(ContentBlock::Image {
                    data,
                    mime_type: f.req("mimeType")?,
                })
            }),
            _ => Err(Error::new()),
        };
        Ok(typed.unwrap_or_else(|_| ContentBlock::Other(value.clone())))
    }
}

impl ToJson for ContentBlock {
    fn to_json(&self) -> Value {
        match self {
            ContentBlock::Text { text } => object(vec![
                ("type", Value::from("text")),
                ("text", Value::from(text.as_str())),
            ]),
            ContentBlock::Image { data, mime_type } => object(vec![
                ("type", Value::from("image")),
                ("data", Value::from(data.as_str())),
                ("mimeType", Value::from(mime_type.as_str())),
            ]),
            ContentBlock::Other(value) => value.clone(),
        }
    }
}

impl JsonType for ContentBlock {
    const TYPE: &'static str = "object";
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_realistic_initialize_result() {
        let v = json!({
            "protocolVersion": "2026-01-26",
            "hostInfo": {"name": "basic-host", "version": "1.0.0"},
            "hostCapabilities": {"openLinks": {}, "serverTools": {}, "message": {"text": {}}},
            "hostContext": {
                "theme": "dark",
                "styles": {"variables": {"--color-background-primary": "#111"}},
                "displayMode": "inline",
                "availableDisplayModes": ["inline", "fullscreen"],
                "containerDimensions": {"maxHeight": 600, "width": 400},
                "locale": "fr-FR",
                "timeZone": "Europe/Paris",
                "somethingNew": {"x": 1}
            }
        });
        let r: InitializeResult = serde_json::from_value(v).unwrap();
        assert_eq!(r.host_info.name, "basic-host");
        assert!(r.host_capabilities.message.is_some());
        assert!(r.host_capabilities.update_model_context.is_none());
        assert_eq!(r.host_context.theme, Some(Theme::Dark));
        assert_eq!(
            r.host_context.container_dimensions.unwrap().max_height,
            Some(600.0)
        );
        assert_eq!(r.host_context.extra["somethingNew"], json!({"x": 1}));
    }

    #[test]
    fn unknown_enum_values_do_not_fail_the_context() {
        let c: HostContext =
            serde_json::from_value(json!({"theme": "sepia", "displayMode": "sidebar"})).unwrap();
        assert_eq!(c.theme, Some(Theme::Other));
        assert_eq!(c.display_mode, Some(DisplayMode::Other));
    }

    #[test]
    fn message_content_is_an_array_of_typed_blocks() {
        let p = MessageParams {
            role: "user".into(),
            content: vec![ContentBlock::text("hi")],
        };
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            json!({"role": "user", "content": [{"type": "text", "text": "hi"}]})
        );
        let r: ToolResult = serde_json::from_value(json!({
            "content": [{"type": "image", "data": "x", "mimeType": "image/png"}, {"type": "text", "text": "ok"}],
            "structuredContent": {"a": 1}, "isError": false
        }))
        .unwrap();
        assert_eq!(r.text(), "ok");
        assert_eq!(
            r.content[0],
            ContentBlock::Image {
                data: "x".into(),
                mime_type: "image/png".into()
            }
        );
        let link = json!({"type": "resource_link", "uri": "file:///a", "name": "a"});
        assert_eq!(
            serde_json::to_value(ContentBlock::from(link.clone())).unwrap(),
            link
        );
    }

    #[test]
    fn merge_is_shallow() {
        let mut c: HostContext = serde_json::from_value(json!({
            "theme": "light", "locale": "en-US",
            "styles": {"variables": {"--a": "1", "--b": "2"}}
        }))
        .unwrap();
        let changed: HostContext = serde_json::from_value(json!({
            "theme": "dark", "styles": {"variables": {"--a": "3"}}
        }))
        .unwrap();
        c.merge(changed);
        assert_eq!(c.theme, Some(Theme::Dark));
        assert_eq!(c.locale.as_deref(), Some("en-US"));
        // Shallow: `styles` is replaced whole, not merged key by key.
        let vars = c.styles.unwrap().variables.unwrap();
        assert_eq!(vars.len(), 1);
        assert_eq!(vars["--a"], json!("3"));
    }

    #[test]
    fn initialize_params_serialize_in_camel_case() {
        let p = InitializeParams {
            app_info: Implementation {
                name: "mcp-chat-view".into(),
                version: "0.1.0".into(),
                title: None,
            },
            app_capabilities: AppCapabilities {
                available_display_modes: Some(vec![DisplayMode::Inline, DisplayMode::Fullscreen]),
                tools: None,
            },
            protocol_version: PROTOCOL_VERSION.into(),
        };
        assert_eq!(
            serde_json::to_value(p).unwrap(),
            json!({
                "appInfo": {"name": "mcp-chat-view", "version": "0.1.0"},
                "appCapabilities": {"availableDisplayModes": ["inline", "fullscreen"]},
                "protocolVersion": "2026-01-26"
            })
        );
    }
}

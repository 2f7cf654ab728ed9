//! Hand-written JSON reading and building, for the View.
//!
//! The derived `Deserialize`/`Serialize` impls stay for the server and the tests, but in the
//! View each derive becomes a large monomorphization (a map visitor, a sequence visitor, a field
//! identifier visitor, error strings) per type. The View instead parses host messages into a
//! [`Value`] once and reads the few fields it needs with the small, mostly non-generic helpers
//! here. The rules follow what the derives accept for the messages hosts send: unknown fields are
//! ignored, a missing or `null` optional field is `None`, a missing required field is an error,
//! a `#[serde(default)]` field may be missing (but not `null`), and enums with an `Other`
//! fallback take any string.

use serde_json::{Map, Value};

/// Why a value could not be read. Kept as text: it only ever ends up in a message.
pub type Error = String;

/// A type read from JSON (see the module documentation for the rules).
pub trait FromJson: Sized {
    fn from_json(value: &Value) -> Result<Self, Error>;
}

fn invalid(expected: &str) -> Error {
    format!("invalid type: expected {expected}")
}

impl FromJson for Value {
    fn from_json(value: &Value) -> Result<Self, Error> {
        Ok(value.clone())
    }
}

impl FromJson for String {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| invalid("a string"))
    }
}

impl FromJson for bool {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_bool().ok_or_else(|| invalid("a boolean"))
    }
}

impl FromJson for u64 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_u64().ok_or_else(|| invalid("u64"))
    }
}

impl FromJson for i64 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_i64().ok_or_else(|| invalid("i64"))
    }
}

impl FromJson for u32 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| invalid("u32"))
    }
}

impl FromJson for f64 {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_f64().ok_or_else(|| invalid("f64"))
    }
}

impl FromJson for Map<String, Value> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        value.as_object().cloned().ok_or_else(|| invalid("a map"))
    }
}

impl<T: FromJson> FromJson for Vec<T> {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let items = value.as_array().ok_or_else(|| invalid("a sequence"))?;
        // A plain loop: collecting into `Result<Vec<_>, _>` is a larger monomorphization.
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(T::from_json(item)?);
        }
        Ok(out)
    }
}

/// The fields of a JSON object, read by name.
#[derive(Clone, Copy)]
pub struct Fields<'a>(pub &'a Map<String, Value>);

impl<'a> Fields<'a> {
    /// `value` as an object; `what` names the type in the error.
    pub fn of(value: &'a Value, what: &str) -> Result<Fields<'a>, Error> {
        value.as_object().map(Fields).ok_or_else(|| invalid(what))
    }

    /// A field that must be present (`null` is passed on, and fails unless `T` accepts it).
    pub fn req<T: FromJson>(self, key: &str) -> Result<T, Error> {
        match self.0.get(key) {
            Some(v) => T::from_json(v),
            None => Err(format!("missing field `{key}`")),
        }
    }

    /// An optional field: absent or `null` is `None`.
    pub fn opt<T: FromJson>(self, key: &str) -> Result<Option<T>, Error> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => T::from_json(v).map(Some),
        }
    }

    /// A `#[serde(default)]` field: absent is the default, anything present must decode.
    pub fn def<T: FromJson + Default>(self, key: &str) -> Result<T, Error> {
        match self.0.get(key) {
            None => Ok(T::default()),
            Some(v) => T::from_json(v),
        }
    }

    /// Whether `key` holds something other than `null` (a capability's presence).
    pub fn has(self, key: &str) -> Option<Value> {
        self.0.get(key).filter(|v| !v.is_null()).cloned()
    }
}

/// Builds a JSON object from its entries.
pub fn object(entries: Vec<(&str, Value)>) -> Value {
    // One insert at a time: collecting into the map would sort the entries first, which brings
    // a whole sort implementation into the wasm for a handful of keys.
    let mut map = Map::new();
    for (k, v) in entries {
        map.insert(k.to_owned(), v);
    }
    Value::Object(map)
}

/// `value` as compact JSON text, exactly as `serde_json::to_string` writes it, without
/// serde's serializer in the wasm.
pub fn to_text(value: &Value) -> String {
    let mut out = String::new();
    write_text(value, &mut out);
    out
}

fn write_text(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_text(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(k, out);
                out.push(':');
                write_text(v, out);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                out.push_str("\\u00");
                out.push(HEX[(c as usize) >> 4] as char);
                out.push(HEX[(c as usize) & 0xf] as char);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `{}`.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests {
    //! The hand-written readers must agree with the derives on what hosts and our server send.
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use super::*;
    use crate::apps::{HostCapabilities, HostContext, InitializeResult, ToolResult};
    use crate::chat::{HistoryResult, RoomResult, SendMessageResult, WaitForMessageResult};
    use crate::jsonrpc::{Incoming, Notification, Request, RequestId, Response, RpcError};

    fn same<T: FromJson + DeserializeOwned + PartialEq + std::fmt::Debug>(v: Value) {
        let derived = serde_json::from_value::<T>(v.clone()).ok();
        let manual = T::from_json(&v).ok();
        assert_eq!(manual, derived, "for {v}");
    }

    fn message(seq: u64, sender: Value) -> Value {
        json!({"seq": seq, "message_id": "m", "room_id": "r", "kind": "chat", "sender": sender,
               "text": "hi", "timestamp": "t", "timestamp_ms": 5, "extra": 1})
    }

    #[test]
    fn chat_results_read_like_the_derives() {
        let alice = json!({"user_id": "u1", "display_name": "Alice"});
        for v in [
            json!({"messages": [message(1, alice.clone()), message(2, Value::Null)], "timeout": false,
                   "has_more": false, "room_id": "r", "room_status": "active", "last_seq": 2}),
            json!({"messages": [], "timeout": true, "has_more": false, "queue_position": 3, "last_seq": 0,
                   "message": null, "sender": "x"}),
            json!({"messages": [message(1, json!({"user_id": 1}))], "timeout": false, "has_more": false, "last_seq": 1}),
            json!({"messages": [], "timeout": true, "has_more": false, "room_status": "bogus", "last_seq": 0}),
            json!({"messages": [], "timeout": true, "has_more": false, "last_seq": -1}),
            json!({"messages": {}, "timeout": true, "has_more": false, "last_seq": 0}),
            json!({"timeout": true, "has_more": false, "last_seq": 0}),
            json!({"messages": [], "timeout": true, "has_more": false, "last_seq": 0, "queue_position": 5000000000u64}),
            json!(null),
        ] {
            same::<WaitForMessageResult>(v);
        }
        let member =
            json!({"user_id": "u1", "display_name": "Alice", "joined_at": "t", "is_you": true});
        for v in [
            json!({"room_id": "r", "status": "ended", "capacity": 2, "members": [member.clone()],
                   "latest_seq": 4, "created_at": "t", "you": alice.clone()}),
            json!({"room_id": "r", "status": "waiting", "capacity": 2.5, "members": [], "latest_seq": 4,
                   "created_at": "t", "you": alice.clone()}),
            json!({"room_id": "r", "status": "active", "capacity": 2, "members": [member.clone()],
                   "latest_seq": 4, "created_at": "t"}),
        ] {
            same::<RoomResult>(v);
        }
        same::<HistoryResult>(
            json!({"room_id": "r", "messages": [message(3, alice.clone())],
                                     "has_more": true, "latest_seq": 3}),
        );
        same::<HistoryResult>(
            json!({"room_id": "r", "messages": [message(3, alice)], "has_more": null,
                                     "latest_seq": 3}),
        );
        same::<SendMessageResult>(
            json!({"success": true, "message_id": "m", "seq": 9, "timestamp": "t",
                                         "members_present": 2, "room_status": "active"}),
        );
        same::<SendMessageResult>(
            json!({"success": true, "message_id": "m", "seq": 9, "timestamp": "t",
                                         "members_present": 2}),
        );
    }

    #[test]
    fn host_messages_read_like_the_derives() {
        let context = json!({
            "theme": "sepia", "displayMode": "fullscreen", "availableDisplayModes": ["inline", "pip", "x"],
            "styles": {"variables": {"--a": "1"}, "css": {"fonts": "@import x;"}},
            "containerDimensions": {"maxHeight": 600, "width": 400.5}, "locale": "fr-FR",
            "timeZone": "Europe/Paris", "safeAreaInsets": {"top": 1, "left": 2.5}, "toolInfo": {"id": 1},
            "platform": null, "somethingNew": {"x": 1}, "userAgent": "ua"
        });
        for v in [
            context.clone(),
            json!({}),
            json!({"theme": 3}),
            json!({"safeAreaInsets": {"top": null}}),
            json!({"styles": {"variables": []}}),
        ] {
            same::<HostContext>(v);
        }
        for v in [
            json!({"openLinks": {}, "serverTools": {"listChanged": true}, "message": null, "logging": 0,
                   "downloadFile": {}, "serverResources": {}, "updateModelContext": {}, "sandbox": {},
                   "sampling": {}, "experimental": {}, "other": 1}),
            json!({}),
        ] {
            same::<HostCapabilities>(v);
        }
        for v in [
            json!({"protocolVersion": "2026-01-26", "hostInfo": {"name": "h", "version": "1", "title": "H"},
                   "hostCapabilities": {"openLinks": {}}, "hostContext": context}),
            json!({}),
            json!({"hostInfo": {"name": "h"}}),
            json!({"hostInfo": null}),
        ] {
            same::<InitializeResult>(v);
        }
        for v in [
            json!({"content": [{"type": "image", "data": "x"}, {"type": "text", "text": "ok"}],
                   "structuredContent": {"a": 1}, "isError": false}),
            json!({"content": [{"type": "text"}]}),
            json!({"content": [{"text": "x"}]}),
            json!({"structuredContent": null, "isError": null}),
            json!({"isError": "yes"}),
        ] {
            same::<ToolResult>(v);
        }
        for v in [json!(1), json!("a"), json!(1.5), json!(-3), json!(true)] {
            same::<RequestId>(v);
        }
        for v in [
            json!({"code": -32601, "message": "nope", "data": {"x": 1}}),
            json!({"code": -32601}),
            json!({"code": "x", "message": "m"}),
        ] {
            same::<RpcError>(v);
        }
        let malformed = json!({"jsonrpc": "2.0", "id": 4, "error": {"code": "x"}});
        let Some(Incoming::Response {
            outcome: Err(e), ..
        }) = Incoming::classify(&malformed)
        else {
            panic!("not a response");
        };
        assert_eq!(e.message, r#"malformed error: {"code":"x"}"#);
    }

    #[test]
    fn text_is_written_like_serde_json() {
        let tricky = "q\"b\\n\nr\rt\tb\u{8}f\u{c}c\u{1}\u{1f}\u{7f}é€😀</script>";
        for v in [
            json!(null),
            json!(true),
            json!({"a": [1, -2, 1.5, 1e300, 0.1, 12345678901234567890u64, false, null], "b": {}, "c": []}),
            json!({ tricky: tricky, "z": {"y": [tricky]} }),
            json!(-0.0),
            json!(f64::MIN_POSITIVE),
        ] {
            assert_eq!(to_text(&v), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn outgoing_messages_build_like_the_derives() {
        let params = Some(json!({"a": [1, 2]}));
        let request = Request::new(3, "tools/call", params.clone());
        assert_eq!(request.to_json(), serde_json::to_value(&request).unwrap());
        let request = Request::new(RequestId::String("x".into()), "ping", None);
        assert_eq!(request.to_json(), serde_json::to_value(&request).unwrap());
        let n = Notification::new("ui/notifications/initialized", None);
        assert_eq!(n.to_json(), serde_json::to_value(&n).unwrap());
        let n = Notification::new("ui/notifications/size-changed", params);
        assert_eq!(n.to_json(), serde_json::to_value(&n).unwrap());
        let r = Response::ok(RequestId::Number(1), json!({}));
        assert_eq!(r.to_json(), serde_json::to_value(&r).unwrap());
        let mut error = RpcError::new(-32601, "unknown method x");
        let r = Response::err(RequestId::String("s".into()), error.clone());
        assert_eq!(r.to_json(), serde_json::to_value(&r).unwrap());
        error.data = Some(json!([1]));
        assert_eq!(error.to_json(), serde_json::to_value(&error).unwrap());
    }

    #[test]
    fn app_messages_build_like_the_derives() {
        use crate::apps::*;
        let mut p = InitializeParams {
            app_info: Implementation {
                name: "v".into(),
                version: "1".into(),
                title: Some("V".into()),
            },
            app_capabilities: AppCapabilities {
                available_display_modes: Some(vec![DisplayMode::Inline, DisplayMode::Fullscreen]),
                tools: None,
            },
            protocol_version: PROTOCOL_VERSION.into(),
        };
        assert_eq!(p.to_json(), serde_json::to_value(&p).unwrap());
        p.app_info.title = None;
        p.app_capabilities = AppCapabilities {
            available_display_modes: None,
            tools: Some(json!({})),
        };
        assert_eq!(p.to_json(), serde_json::to_value(&p).unwrap());
        let m = MessageParams {
            role: "user".into(),
            content: vec![ContentBlock::text("hi"), ContentBlock::Other],
        };
        assert_eq!(m.to_json(), serde_json::to_value(&m).unwrap());
        for structured in [None, Some(json!({"room_id": "r"}))] {
            let c = ModelContextParams {
                content: vec![ContentBlock::text("t")],
                structured_content: structured,
            };
            assert_eq!(c.to_json(), serde_json::to_value(&c).unwrap());
        }
        for mode in [
            DisplayMode::Inline,
            DisplayMode::Fullscreen,
            DisplayMode::Pip,
            DisplayMode::Other,
        ] {
            assert_eq!(json!(mode.as_str()), serde_json::to_value(mode).unwrap());
        }
        for theme in [Theme::Light, Theme::Dark, Theme::Other] {
            assert_eq!(json!(theme.as_str()), serde_json::to_value(theme).unwrap());
        }
        use crate::chat::{MessageKind, RoomStatus};
        for s in [RoomStatus::Waiting, RoomStatus::Active, RoomStatus::Ended] {
            assert_eq!(json!(s.as_str()), serde_json::to_value(s).unwrap());
            same::<RoomStatus>(json!(s.as_str()));
        }
        for k in [
            MessageKind::Chat,
            MessageKind::Joined,
            MessageKind::Left,
            MessageKind::Matched,
            MessageKind::RoomEnded,
        ] {
            assert_eq!(json!(k.as_str()), serde_json::to_value(k).unwrap());
            same::<MessageKind>(json!(k.as_str()));
        }
        same::<MessageKind>(json!("other"));
    }
}

//! JSON-RPC 2.0 framing, as the View and its host exchange it over `postMessage`.
//!
//! Messages arrive as untyped JSON (anything can be posted to a window), so [`Incoming::classify`]
//! routes by shape, the way the MCP Apps specification describes: `method` + `id` is a request,
//! `method` alone a notification, `id` + `result`/`error` a response. Everything else is not ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::json::{Error, Fields, FromJson, JsonType, ToJson, object};

/// The `jsonrpc` member of every message.
pub const VERSION: &str = "2.0";

/// JSON-RPC error codes the View produces or interprets.
pub mod codes {
    /// The text is not JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// The JSON is not a request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// The peer does not implement the method: for optional host requests this means "unsupported".
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// The parameters are wrong.
    pub const INVALID_PARAMS: i64 = -32602;
    /// The peer failed.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Not a JSON-RPC code on the wire: the View's own marker for a request the host never answered.
    pub const TIMEOUT: i64 = -32001;
}

/// A request id. The View only ever sends numbers, but a host may use strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id (the View always uses these).
    Number(i64),
    /// A string id (hosts may use these).
    String(String),
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// A JSON-RPC error object.
pub struct RpcError {
    /// The error code ([`codes`]).
    pub code: i64,
    /// A sentence for people.
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Anything more the peer says about it.
    pub data: Option<Value>,
}

impl RpcError {
    /// An error with `code` and `message`, without data.
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Whether the peer does not implement the method (-32601).
    pub fn is_method_not_found(&self) -> bool {
        self.code == codes::METHOD_NOT_FOUND
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (code {})", self.message, self.code)
    }
}

impl std::error::Error for RpcError {}

/// An outgoing request. `params` is omitted when `None`, never sent as `null`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Request {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// Pairs the response with the request.
    pub id: RequestId,
    /// The method called.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its parameters, if any.
    pub params: Option<Value>,
}

impl Request {
    /// A request with `id`, `method` and `params`.
    pub fn new(id: impl Into<RequestId>, method: impl Into<String>, params: Option<Value>) -> Self {
        Self {
            jsonrpc: VERSION.into(),
            id: id.into(),
            method: method.into(),
            params,
        }
    }
}

/// An outgoing notification: it has no `id` at all (hosts reject `"id": null`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Notification {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The method notified.
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Its parameters, if any.
    pub params: Option<Value>,
}

impl Notification {
    /// A notification of `method` with `params`.
    pub fn new(method: impl Into<String>, params: Option<Value>) -> Self {
        Self {
            jsonrpc: VERSION.into(),
            method: method.into(),
            params,
        }
    }
}

/// An outgoing response to a request the host sent us.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Response {
    /// Always `"2.0"`.
    pub jsonrpc: String,
    /// The id of the request answered.
    pub id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The result, on success.
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The error, on failure.
    pub error: Option<RpcError>,
}

impl Response {
    /// A successful response.
    pub fn ok(id: RequestId, result: Value) -> Self {
        Self {
            jsonrpc: VERSION.into(),
            id,
            result: Some(result),
            error: None,
        }
    }

    /// A failed response.
    pub fn err(id: RequestId, error: RpcError) -> Self {
        Self {
            jsonrpc: VERSION.into(),
            id,
            result: None,
            error: Some(error),
        }
    }
}

/// A message received from the host, routed by shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: the host expects an answer.
    Request {
        /// Its id, to answer with.
        id: RequestId,
        /// The method.
        method: String,
        /// Its parameters (`null` when absent).
        params: Value,
    },
    /// A notification: no answer.
    Notification {
        /// The method.
        method: String,
        /// Its parameters (`null` when absent).
        params: Value,
    },
    /// A response to one of our requests.
    Response {
        /// The id of our request.
        id: RequestId,
        /// Its result, or the error.
        outcome: Result<Value, RpcError>,
    },
}

impl Incoming {
    /// Classifies a posted value. Returns `None` for anything that is not a JSON-RPC 2.0
    /// message (other scripts post to windows too); such messages must be ignored, not failed on.
    pub fn classify(value: &Value) -> Option<Incoming> {
        let obj = value.as_object()?;
        if obj.get("jsonrpc").and_then(Value::as_str) != Some(VERSION) {
            return None;
        }
        let id = obj
            .get("id")
            .filter(|v| !v.is_null())
            .map(RequestId::from_json);
        let params = obj.get("params").cloned().unwrap_or(Value::Null);
        match (obj.get("method").and_then(Value::as_str), id) {
            (Some(method), Some(Ok(id))) => Some(Incoming::Request {
                id,
                method: method.to_owned(),
                params,
            }),
            (Some(method), None) => Some(Incoming::Notification {
                method: method.to_owned(),
                params,
            }),
            (None, Some(Ok(id))) => {
                let outcome = if let Some(error) = obj.get("error") {
                    Err(RpcError::from_json(error).unwrap_or_else(|_| {
                        RpcError::new(
                            codes::INTERNAL_ERROR,
                            format!("malformed error: {}", crate::json::to_text(error)),
                        )
                    }))
                } else if let Some(result) = obj.get("result") {
                    Ok(result.clone())
                } else {
                    return None;
                };
                Some(Incoming::Response { id, outcome })
            }
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hand-written reading and building, for the View (see `crate::json`): same rules as the derives.
// ---------------------------------------------------------------------------------------------

impl FromJson for RequestId {
    fn from_json(value: &Value) -> Result<Self, Error> {
        match (value.as_i64(), value.as_str()) {
            (Some(n), _) => Ok(RequestId::Number(n)),
            (None, Some(s)) => Ok(RequestId::String(s.to_owned())),
            _ => Err("data did not match any variant of untagged enum RequestId".into()),
        }
    }
}

impl ToJson for RequestId {
    fn to_json(&self) -> Value {
        match self {
            RequestId::Number(n) => Value::from(*n),
            RequestId::String(s) => Value::from(s.as_str()),
        }
    }
}

/// A number or a string: no one `type` in a schema.
impl JsonType for RequestId {
    const TYPE: &'static str = "";
}

impl FromJson for RpcError {
    fn from_json(value: &Value) -> Result<Self, Error> {
        let f = Fields::of(value, "struct RpcError")?;
        Ok(RpcError {
            code: f.req("code")?,
            message: f.req("message")?,
            data: f.opt("data")?,
        })
    }
}

impl RpcError {
    /// The error as a JSON object.
    pub fn to_json(&self) -> Value {
        let mut entries = vec![
            ("code", Value::from(self.code)),
            ("message", Value::from(self.message.as_str())),
        ];
        if let Some(data) = &self.data {
            entries.push(("data", data.clone()));
        }
        object(entries)
    }
}

/// The entries every outgoing message starts with.
fn envelope<'a>(id: Option<&RequestId>, method: Option<&str>) -> Vec<(&'a str, Value)> {
    let mut entries = vec![("jsonrpc", Value::from(VERSION))];
    if let Some(id) = id {
        entries.push(("id", id.to_json()));
    }
    if let Some(method) = method {
        entries.push(("method", Value::from(method)));
    }
    entries
}

impl Request {
    /// The request as JSON, ready to post.
    pub fn to_json(&self) -> Value {
        let mut entries = envelope(Some(&self.id), Some(&self.method));
        if let Some(params) = &self.params {
            entries.push(("params", params.clone()));
        }
        object(entries)
    }
}

impl Notification {
    /// The notification as JSON (no `id` at all), ready to post.
    pub fn to_json(&self) -> Value {
        let mut entries = envelope(None, Some(&self.method));
        if let Some(params) = &self.params {
            entries.push(("params", params.clone()));
        }
        object(entries)
    }
}

impl Response {
    /// The response as JSON, ready to post.
    pub fn to_json(&self) -> Value {
        let mut entries = envelope(Some(&self.id), None);
        if let Some(result) = &self.result {
            entries.push(("result", result.clone()));
        }
        if let Some(error) = &self.error {
            entries.push(("error", error.to_json()));
        }
        object(entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notification_never_carries_an_id() {
        let text = serde_json::to_string(&Notification::new("ui/notifications/initialized", None))
            .unwrap();
        assert_eq!(
            text,
            r#"{"jsonrpc":"2.0","method":"ui/notifications/initialized"}"#
        );
    }

    #[test]
    fn classifies_by_shape() {
        let req = json!({"jsonrpc":"2.0","id":7,"method":"ping"});
        assert!(matches!(
            Incoming::classify(&req),
            Some(Incoming::Request {
                id: RequestId::Number(7),
                ..
            })
        ));
        let note = json!({"jsonrpc":"2.0","method":"ui/notifications/tool-result","params":{}});
        assert!(matches!(
            Incoming::classify(&note),
            Some(Incoming::Notification { .. })
        ));
        let ok = json!({"jsonrpc":"2.0","id":"a","result":{}});
        assert!(matches!(
            Incoming::classify(&ok),
            Some(Incoming::Response { outcome: Ok(_), .. })
        ));
        let err = json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"nope"}});
        match Incoming::classify(&err) {
            Some(Incoming::Response {
                outcome: Err(e), ..
            }) => assert!(e.is_method_not_found()),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn ignores_foreign_messages() {
        for v in [
            json!("hello"),
            json!({"type":"webpackOk"}),
            json!({"jsonrpc":"1.0","id":1,"method":"x"}),
            json!({"jsonrpc":"2.0","id":1}),
            json!(null),
        ] {
            assert_eq!(Incoming::classify(&v), None, "{v}");
        }
    }
}

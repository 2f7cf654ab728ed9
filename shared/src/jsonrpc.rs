//! JSON-RPC 2.0 framing, as the View and its host exchange it over `postMessage`.
//!
//! Messages arrive as untyped JSON (anything can be posted to a window), so [`Incoming::classify`]
//! routes by shape, the way the MCP Apps specification describes: `method` + `id` is a request,
//! `method` alone a notification, `id` + `result`/`error` a response. Everything else is not ours.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const VERSION: &str = "2.0";

/// JSON-RPC error codes the View produces or interprets.
pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    /// The peer does not implement the method: for optional host requests this means "unsupported".
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL_ERROR: i64 = -32603;
    /// Not a JSON-RPC code on the wire: the View's own marker for a request the host never answered.
    pub const TIMEOUT: i64 = -32001;
}

/// A request id. The View only ever sends numbers, but a host may use strings.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    Number(i64),
    String(String),
}

impl From<i64> for RequestId {
    fn from(n: i64) -> Self {
        RequestId::Number(n)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
        }
    }

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
    pub jsonrpc: String,
    pub id: RequestId,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl Request {
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
    pub jsonrpc: String,
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params: Option<Value>,
}

impl Notification {
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
    pub jsonrpc: String,
    pub id: RequestId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RpcError>,
}

impl Response {
    pub fn ok(id: RequestId, result: Value) -> Self {
        Self {
            jsonrpc: VERSION.into(),
            id,
            result: Some(result),
            error: None,
        }
    }

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
    Request {
        id: RequestId,
        method: String,
        params: Value,
    },
    Notification {
        method: String,
        params: Value,
    },
    Response {
        id: RequestId,
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
            .map(|v| serde_json::from_value::<RequestId>(v.clone()));
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
                    Err(
                        serde_json::from_value::<RpcError>(error.clone()).unwrap_or_else(|_| {
                            RpcError::new(
                                codes::INTERNAL_ERROR,
                                format!("malformed error: {error}"),
                            )
                        }),
                    )
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

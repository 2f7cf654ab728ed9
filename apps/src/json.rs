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
    /// Reads `value`, or says why it cannot be read.
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

/// A type written as JSON: the counterpart of [`FromJson`], without serde's serializer in the
/// wasm. `T::from_json(&t.to_json())` gives `t` back.
pub trait ToJson {
    /// The value as JSON.
    fn to_json(&self) -> Value;
}

impl ToJson for Value {
    fn to_json(&self) -> Value {
        self.clone()
    }
}

impl ToJson for String {
    fn to_json(&self) -> Value {
        Value::from(self.as_str())
    }
}

impl ToJson for bool {
    fn to_json(&self) -> Value {
        Value::Bool(*self)
    }
}

impl ToJson for u64 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for i64 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for u32 {
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for f64 {
    /// A number, or `null` for NaN and the infinities (as serde_json writes them).
    fn to_json(&self) -> Value {
        Value::from(*self)
    }
}

impl ToJson for Map<String, Value> {
    fn to_json(&self) -> Value {
        Value::Object(self.clone())
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(&self) -> Value {
        let mut out = Vec::with_capacity(self.len());
        for item in self {
            out.push(item.to_json());
        }
        Value::Array(out)
    }
}

/// The JSON Schema `type` a Rust type is written as, for the small input schemas an App's own
/// tools declare (an App has no schema generator in its wasm).
pub trait JsonType {
    /// `"string"`, `"integer"`, `"number"`, `"boolean"`, `"array"` or `"object"`.
    const TYPE: &'static str;
}

impl JsonType for String {
    const TYPE: &'static str = "string";
}

impl JsonType for bool {
    const TYPE: &'static str = "boolean";
}

impl JsonType for u64 {
    const TYPE: &'static str = "integer";
}

impl JsonType for i64 {
    const TYPE: &'static str = "integer";
}

impl JsonType for u32 {
    const TYPE: &'static str = "integer";
}

impl JsonType for f64 {
    const TYPE: &'static str = "number";
}

impl<T> JsonType for Vec<T> {
    const TYPE: &'static str = "array";
}

/// Any JSON at all: no `type` in a schema.
impl JsonType for Value {
    const TYPE: &'static str = "";
}

impl JsonType for Map<String, Value> {
    const TYPE: &'static str = "object";
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

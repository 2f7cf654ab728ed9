//! One declaration per contract type, two ways to read and write it.
//!
//! The server reads and writes the contract with serde (and describes it with schemars); the
//! View, where every serde derive costs kilobytes of wasm, with the small [`FromJson`] and
//! [`ToJson`] of `mcp_apps::json`. Both used to be written by hand and kept in step by tests.
//! Here a type is declared once, and [`json_struct!`] and [`json_enum!`] emit the type with its
//! serde and schemars derives *and* its `FromJson` / `ToJson` from the same field list, so a
//! field cannot be renamed, added or made optional on one side only. The equivalence tests
//! (`reader_tests.rs`) stay: they check that the two readings agree on every input.
//!
//! The rules the macros follow: a field declared `Option<T>` may be absent or `null` and is
//! left out when `None`; any other field is required. JSON keys are the field names; enum
//! variants are written as the literal declared beside them.
//!
//! [`FromJson`]: crate::json::FromJson
//! [`ToJson`]: crate::json::ToJson

use serde_json::Value;

/// A struct of the contract: `json_struct! { /// docs  pub struct Name { /// docs  pub field: Type, … } }`.
///
/// Besides the type, emits `FromJson`, `ToJson`, `JsonType` (`"object"`), `Name::FIELDS` (its
/// JSON keys) and `Name::input_schema()` (a JSON Schema of the fields, their types and docs,
/// for tools an App declares itself).
macro_rules! json_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        json_struct!(@fields [$(#[$meta])* pub struct $name] [] $($body)*);
    };

    // Each field becomes `(kind [serde attribute] [docs] name (declared type) inner type)`: an
    // optional one is recognised by its `Option<…>` spelling, before the general rule.
    (@fields $head:tt [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident : Option<$inner:ty> $(, $($rest:tt)*)?
    ) => {
        json_struct!(@fields $head [$($done)*
            (opt [skip_serializing_if = "Option::is_none"] [$($doc)*] $field (Option<$inner>) $inner)
        ] $($($rest)*)?);
    };
    (@fields $head:tt [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident : $ty:ty $(, $($rest:tt)*)?
    ) => {
        json_struct!(@fields $head [$($done)* (req [] [$($doc)*] $field ($ty) $ty)] $($($rest)*)?);
    };

    (@fields [$(#[$meta:meta])* pub struct $name:ident]
        [$( ($kind:ident [$($serde:tt)*] [$($doc:literal)*] $field:ident ($ty:ty) $inner:ty) )*]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[serde($($serde)*)]
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The JSON keys of this type, in declaration order.
            pub const FIELDS: &'static [&'static str] = &[$(stringify!($field)),*];

            /// A JSON Schema of this type: each field's JSON type and documentation, and which
            /// fields are required.
            pub fn input_schema() -> serde_json::Value {
                let mut properties = serde_json::Map::new();
                let mut required = Vec::new();
                $(
                    properties.insert(
                        stringify!($field).into(),
                        $crate::declare::property(
                            <$inner as $crate::json::JsonType>::TYPE,
                            &[$($doc),*],
                        ),
                    );
                    if json_struct!(@is_required $kind) {
                        required.push(serde_json::Value::from(stringify!($field)));
                    }
                )*
                $crate::declare::object_schema(properties, required)
            }
        }

        impl $crate::json::FromJson for $name {
            fn from_json(value: &serde_json::Value) -> Result<Self, $crate::json::Error> {
                let f = $crate::json::Fields::of(value, concat!("struct ", stringify!($name)))?;
                Ok($name { $( $field: f.$kind(stringify!($field))?, )* })
            }
        }

        impl $crate::json::ToJson for $name {
            fn to_json(&self) -> serde_json::Value {
                let mut map = serde_json::Map::new();
                $( json_struct!(@put $kind map, stringify!($field), &self.$field); )*
                serde_json::Value::Object(map)
            }
        }

        impl $crate::json::JsonType for $name {
            const TYPE: &'static str = "object";
        }
    };

    (@is_required req) => { true };
    (@is_required opt) => { false };
    (@put req $map:ident, $key:expr, $value:expr) => {
        $crate::declare::put(&mut $map, $key, $crate::json::ToJson::to_json($value));
    };
    (@put opt $map:ident, $key:expr, $value:expr) => {
        if let Some(value) = $value {
            $crate::declare::put(&mut $map, $key, $crate::json::ToJson::to_json(value));
        }
    };
}

/// An enum of the contract, each variant with its JSON text:
/// `json_enum! { pub enum Name { /// docs  Variant = "variant", … } }`.
///
/// Besides the type, emits `as_str`, `FromJson`, `ToJson` and `JsonType` (`"string"`).
macro_rules! json_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $text:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        pub enum $name {
            $( $(#[doc = $doc])* #[serde(rename = $text)] $variant, )*
        }

        impl $name {
            /// The JSON text of this variant.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                }
            }
        }

        impl $crate::json::FromJson for $name {
            fn from_json(value: &serde_json::Value) -> Result<Self, $crate::json::Error> {
                Ok(match value.as_str() {
                    $( Some($text) => $name::$variant, )*
                    _ => return Err(concat!("unknown variant of enum ", stringify!($name)).into()),
                })
            }
        }

        impl $crate::json::ToJson for $name {
            fn to_json(&self) -> serde_json::Value {
                serde_json::Value::from(self.as_str())
            }
        }

        impl $crate::json::JsonType for $name {
            const TYPE: &'static str = "string";
        }
    };
}

/// One entry of a written object. Out of line: inlined, the key's allocation and the map's
/// insertion would be repeated in the wasm for every field of every type.
#[inline(never)]
pub(crate) fn put(map: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    map.insert(key.to_owned(), value);
}

/// One property of an input schema: its type, and its doc comment as the description.
pub(crate) fn property(json_type: &str, doc: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("type".into(), Value::from(json_type));
    let mut description = String::new();
    for line in doc {
        let line = line.trim();
        if !line.is_empty() {
            if !description.is_empty() {
                description.push(' ');
            }
            description.push_str(line);
        }
    }
    if !description.is_empty() {
        map.insert("description".into(), Value::from(description));
    }
    Value::Object(map)
}

pub(crate) fn object_schema(
    properties: serde_json::Map<String, Value>,
    required: Vec<Value>,
) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("type".into(), Value::from("object"));
    map.insert("properties".into(), Value::Object(properties));
    if !required.is_empty() {
        map.insert("required".into(), Value::Array(required));
    }
    Value::Object(map)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::json::{FromJson, ToJson};

    json_enum! {
        pub enum Mood {
            Calm = "calm",
            /// Two words in Rust, one in JSON.
            RatherCross = "cross",
        }
    }

    json_struct! {
        /// A test type: one field of each kind.
        pub struct Note {
            /// What it says.
            /// Second line.
            pub text: String,
            pub mood: Option<Mood>,
            pub tags: Vec<String>,
        }
    }

    #[test]
    fn one_declaration_gives_keys_schema_and_both_directions() {
        assert_eq!(Note::FIELDS, ["text", "mood", "tags"]);
        assert_eq!(
            Note::input_schema(),
            json!({"type": "object", "required": ["text", "tags"], "properties": {
                "text": {"type": "string", "description": "What it says. Second line."},
                "mood": {"type": "string"},
                "tags": {"type": "array"},
            }})
        );
        let quiet = Note {
            text: "hi".into(),
            mood: None,
            tags: vec![],
        };
        assert_eq!(quiet.to_json(), json!({"text": "hi", "tags": []}));
        assert_eq!(quiet.to_json(), serde_json::to_value(&quiet).unwrap());
        let cross = Note {
            mood: Some(Mood::RatherCross),
            ..quiet
        };
        assert_eq!(cross.to_json()["mood"], "cross");
        assert_eq!(serde_json::to_value(&cross).unwrap()["mood"], "cross");
        assert_eq!(Note::from_json(&cross.to_json()), Ok(cross));
        assert_eq!(
            Note::from_json(&json!({"tags": []})),
            Err("missing field `text`".to_owned())
        );
        assert_eq!(
            Mood::from_json(&json!("RatherCross")),
            Err("unknown variant of enum Mood".to_owned())
        );
    }
}

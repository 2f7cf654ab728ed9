//! One declaration per wire type, two ways to read and write it.
//!
//! Servers read and write these types with serde (and may describe them with schemars); a
//! WebAssembly View, where every serde derive costs kilobytes of wasm, with the small
//! [`FromJson`] and [`ToJson`] of [`crate::json`]. [`json_struct!`](crate::json_struct) and
//! [`json_enum!`](crate::json_enum) emit the
//! type with its serde derives *and* its `FromJson` / `ToJson` from one field list, so a field
//! cannot be renamed, added or made optional on one side only. This crate's protocol types are
//! declared with them, and so are the types of crates built on it (MCP Chat's contract).
//!
//! The rules: a field declared `Option<T>` may be absent or `null` and is left out when `None`;
//! a field declared `T = default` may be absent (then `T::default()`) and is always written;
//! any other field is required. A field's JSON key is its name, or the literal after `as`
//! (`pub app_info as "appInfo": Implementation`). Enum variants are written as the literal
//! declared beside them; an enum may end with `; Variant = "text"` after its last variant: the
//! variant every unknown string reads as (a newer peer's value does not fail the whole message).
//!
//! [`FromJson`]: crate::json::FromJson
//! [`ToJson`]: crate::json::ToJson

use serde_json::Value;

/// A struct: `json_struct! { /// docs  pub struct Name { /// docs  pub field: Type, … } }`.
///
/// Besides the type (deriving `Debug, Clone, PartialEq, Serialize, Deserialize`, plus any
/// `#[derive]` given), emits `FromJson`, `ToJson`, `JsonType` (`"object"`), `Name::FIELDS` (its
/// JSON keys) and `Name::input_schema()` (a JSON Schema of the fields, their types and docs, for
/// tools an App declares itself).
#[macro_export]
macro_rules! json_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident { $($body:tt)* }
    ) => {
        $crate::json_struct!(@fields [$(#[$meta])* pub struct $name] [] $($body)*);
    };

    // Each field becomes `(kind [serde attributes] [docs] name key (declared type) inner type)`:
    // an optional one is recognised by its `Option<…>` spelling, a defaulted one by `= default`,
    // before the general rule.
    (@fields $head:tt [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident $(as $key:literal)? : Option<$inner:ty> $(, $($rest:tt)*)?
    ) => {
        $crate::json_struct!(@fields $head [$($done)*
            (opt [skip_serializing_if = "Option::is_none" $(, rename = $key)?]
                [$($doc)*] $field ($crate::json_struct!(@key $field $($key)?)) (Option<$inner>) $inner)
        ] $($($rest)*)?);
    };
    (@fields $head:tt [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident $(as $key:literal)? : $ty:ty = default $(, $($rest:tt)*)?
    ) => {
        $crate::json_struct!(@fields $head [$($done)*
            (def [default $(, rename = $key)?]
                [$($doc)*] $field ($crate::json_struct!(@key $field $($key)?)) ($ty) $ty)
        ] $($($rest)*)?);
    };
    (@fields $head:tt [$($done:tt)*]
        $(#[doc = $doc:literal])* pub $field:ident $(as $key:literal)? : $ty:ty $(, $($rest:tt)*)?
    ) => {
        $crate::json_struct!(@fields $head [$($done)*
            (req [$(rename = $key)?]
                [$($doc)*] $field ($crate::json_struct!(@key $field $($key)?)) ($ty) $ty)
        ] $($($rest)*)?);
    };

    (@fields [$(#[$meta:meta])* pub struct $name:ident]
        [$( ($kind:ident [$($serde:tt)*] [$($doc:literal)*] $field:ident ($key:expr) ($ty:ty) $inner:ty) )*]
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
        pub struct $name {
            $(
                $(#[doc = $doc])*
                #[serde($($serde)*)]
                pub $field: $ty,
            )*
        }

        impl $name {
            /// The JSON keys of this type, in declaration order.
            pub const FIELDS: &'static [&'static str] = &[$($key),*];

            /// A JSON Schema of this type: each field's JSON type and documentation, and which
            /// fields are required.
            pub fn input_schema() -> serde_json::Value {
                let mut properties = serde_json::Map::new();
                let mut required = Vec::new();
                $(
                    properties.insert(
                        ($key).into(),
                        $crate::declare::property(
                            <$inner as $crate::json::JsonType>::TYPE,
                            &[$($doc),*],
                        ),
                    );
                    if $crate::json_struct!(@is_required $kind) {
                        required.push(serde_json::Value::from($key));
                    }
                )*
                $crate::declare::object_schema(properties, required)
            }
        }

        impl $crate::json::FromJson for $name {
            fn from_json(value: &serde_json::Value) -> Result<Self, $crate::json::Error> {
                let f = $crate::json::Fields::of(value, concat!("struct ", stringify!($name)))?;
                Ok($name { $( $field: f.$kind($key)?, )* })
            }
        }

        impl $crate::json::ToJson for $name {
            fn to_json(&self) -> serde_json::Value {
                let mut map = serde_json::Map::new();
                $( $crate::json_struct!(@put $kind map, $key, &self.$field); )*
                serde_json::Value::Object(map)
            }
        }

        impl $crate::json::JsonType for $name {
            const TYPE: &'static str = "object";
        }
    };

    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $key:literal) => { $key };
    (@is_required req) => { true };
    (@is_required def) => { false };
    (@is_required opt) => { false };
    (@put opt $map:ident, $key:expr, $value:expr) => {
        if let Some(value) = $value {
            $crate::declare::put(&mut $map, $key, $crate::json::ToJson::to_json(value));
        }
    };
    (@put $kind:ident $map:ident, $key:expr, $value:expr) => {
        $crate::declare::put(&mut $map, $key, $crate::json::ToJson::to_json($value));
    };
}

/// An enum of strings, each variant with its JSON text:
/// `json_enum! { pub enum Name { /// docs  Variant = "variant", … } }`, optionally ending with
/// `; Variant = "text"` after the last variant: the variant any unknown string reads as.
///
/// Besides the type (deriving `Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize`), emits
/// `as_str`, `FromJson`, `ToJson` and `JsonType` (`"string"`).
#[macro_export]
macro_rules! json_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $text:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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

        $crate::json_enum!(@common $name);
    };
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[doc = $doc:literal])* $variant:ident = $text:literal ),* ;
            $(#[doc = $other_doc:literal])* $other:ident = $other_text:literal $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[doc = $doc])* #[serde(rename = $text)] $variant, )*
            $(#[doc = $other_doc])* #[serde(other, rename = $other_text)] $other,
        }

        impl $name {
            /// The JSON text of this variant.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )*
                    $name::$other => $other_text,
                }
            }
        }

        impl $crate::json::FromJson for $name {
            fn from_json(value: &serde_json::Value) -> Result<Self, $crate::json::Error> {
                Ok(match value.as_str() {
                    $( Some($text) => $name::$variant, )*
                    Some(_) => $name::$other,
                    None => return Err(concat!("invalid type: expected enum ", stringify!($name)).into()),
                })
            }
        }

        $crate::json_enum!(@common $name);
    };
    (@common $name:ident) => {
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
#[doc(hidden)]
pub fn put(map: &mut serde_json::Map<String, Value>, key: &str, value: Value) {
    map.insert(key.to_owned(), value);
}

/// One property of an input schema: its type, and its doc comment as the description.
#[doc(hidden)]
pub fn property(json_type: &str, doc: &[&str]) -> Value {
    let mut map = serde_json::Map::new();
    if !json_type.is_empty() {
        map.insert("type".into(), Value::from(json_type));
    }
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

#[doc(hidden)]
pub fn object_schema(properties: serde_json::Map<String, Value>, required: Vec<Value>) -> Value {
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

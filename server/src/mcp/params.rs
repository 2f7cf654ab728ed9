//! Tool arguments that, when malformed, say which field is wrong.
//!
//! rmcp's own `Parameters<T>` reports serde's message, which for a wrong type omits the field
//! ("invalid type: string \"soon\", expected f64"). This one has the same name — the `#[tool]`
//! macro derives the input schema from any argument type called `Parameters` — and prefixes the
//! path of the offending field: "timeout: invalid type: …". The tool boundary (`guard.rs`)
//! turns these errors into tool results the model reads (SEP-1303).

use rmcp::ErrorData;
use rmcp::handler::server::common::FromContextPart;
use rmcp::handler::server::tool::ToolCallContext;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

pub struct Parameters<P>(pub P);

impl<P: JsonSchema> JsonSchema for Parameters<P> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        P::schema_name()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut schema = P::json_schema(generator).to_value();
        absent_or_typed(&mut schema);
        schemars::Schema::try_from(schema).expect("a schema stays a schema")
    }
}

/// Advertises every optional argument as absent-or-typed: not `required`, one `type`.
///
/// schemars describes an `Option<T>` as nullable (`"type": ["string", "null"]`, or an `anyOf`
/// with `{"type": "null"}`). That is valid JSON Schema, but clients that turn tool schemas into
/// Gemini function declarations (Copilot CLI, Cursor and other agents with Gemini models)
/// reject it and fail the whole request, every tool lost. An optional argument is already
/// optional by being left out of `required`, so the `null` adds nothing a model needs; decoding
/// still accepts an explicit `null` (it is an `Option`).
pub fn absent_or_typed(schema: &mut Value) {
    let Some(object) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(types)) = object.get("type") {
        let named: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if let [only] = named.as_slice() {
            object.insert("type".into(), only.clone());
        }
    }
    for key in ["anyOf", "oneOf"] {
        let Some(Value::Array(branches)) = object.get(key) else {
            continue;
        };
        let named: Vec<Value> = branches
            .iter()
            .filter(|b| b.get("type").is_none_or(|t| t != "null"))
            .cloned()
            .collect();
        if let [Value::Object(only)] = named.as_slice() {
            object.remove(key);
            for (k, v) in only {
                object.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    if object.get("default").is_some_and(Value::is_null) {
        object.remove("default");
    }
    for key in ["properties", "$defs", "definitions"] {
        if let Some(Value::Object(children)) = object.get_mut(key) {
            children.values_mut().for_each(absent_or_typed);
        }
    }
    if let Some(items) = object.get_mut("items") {
        absent_or_typed(items);
    }
}

impl<S, P: DeserializeOwned> FromContextPart<ToolCallContext<'_, S>> for Parameters<P> {
    fn from_context_part(context: &mut ToolCallContext<'_, S>) -> Result<Self, ErrorData> {
        let arguments = Value::Object(context.arguments.take().unwrap_or_default());
        parse(arguments).map(Parameters)
    }
}

pub fn parse<P: DeserializeOwned>(arguments: Value) -> Result<P, ErrorData> {
    serde_path_to_error::deserialize(arguments).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // A missing field is reported at the parent (`.`), with the name inside the message.
        let field = if path == "." {
            inner
                .split('`')
                .nth(1)
                .map(str::to_owned)
                .unwrap_or_default()
        } else {
            path
        };
        let message = if field.is_empty() || inner.contains(&format!("`{field}`")) {
            format!("invalid arguments: {inner}")
        } else {
            format!("invalid arguments: {field}: {inner}")
        };
        let marker = super::guard::ARGUMENT_ERROR;
        ErrorData::invalid_params(message, Some(json!({ "field": field, marker: true })))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcp_chat_shared::chat::{SendMessageParams, WaitForMessageParams};

    #[test]
    fn optional_arguments_are_absent_or_typed() {
        let mut schema = json!({
            "type": "object",
            "properties": {
                "a": {"type": ["string", "null"], "description": "kept"},
                "b": {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}], "default": null},
                "c": {"type": "integer"},
                "d": {"type": ["string", "integer", "null"]},
            },
            "required": ["c"],
        });
        absent_or_typed(&mut schema);
        assert_eq!(
            schema["properties"],
            json!({
                "a": {"type": "string", "description": "kept"},
                "b": {"$ref": "#/$defs/X"},
                "c": {"type": "integer"},
                // Two real types stay a union: no portable single type says the same.
                "d": {"type": ["string", "integer", "null"]},
            })
        );
        // What the tools advertise, and an explicit null is still accepted.
        let served = rmcp::handler::server::common::schema_for_type::<
            Parameters<mcp_chat_shared::chat::WaitForMessageParams>,
        >();
        let text = serde_json::to_string(&*served).unwrap();
        assert!(!text.contains("null"), "{text}");
        let p = parse::<WaitForMessageParams>(json!({"client_id": "c", "timeout": null})).unwrap();
        assert_eq!(p.timeout, None);
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse::<WaitForMessageParams>(json!({"client_id": "c", "timeout": "soon"}))
            .err()
            .unwrap();
        assert!(
            e.message
                .starts_with("invalid arguments: timeout: invalid type"),
            "{}",
            e.message
        );
        assert_eq!(e.data.unwrap()["field"], "timeout");

        let e = parse::<SendMessageParams>(json!({"room_id": "r", "client_id": "c"}))
            .err()
            .unwrap();
        assert_eq!(e.message, "invalid arguments: missing field `message`");
        assert_eq!(e.data.unwrap()["field"], "message");
    }

    mod properties {
        //! Whatever a client sends as arguments, decoding answers (a value or an error naming a
        //! field that exists) and never panics; and every number that decodes is then
        //! validated without panicking.

        use mcp_chat_shared::chat::{
            EnterQueueParams, GetHistoryParams, JoinRoomParams, WaitForMessageParams,
        };
        use proptest::prelude::*;
        use serde_json::{Map, Number};

        use super::*;
        use crate::engine::Limits;

        /// Any JSON number, including those past every integer type and float edge cases.
        fn number() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
                Just(json!(1e20)),
                Just(json!(-0.0)),
                Just(json!(f64::MAX)),
                Just(json!(u64::MAX)),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                number(),
                ".{0,12}".prop_map(Value::String),
            ];
            leaf.prop_recursive(2, 8, 3, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z_]{1,10}", inner, 0..3)
                        .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
                ]
            })
        }

        const FIELDS: [&str; 10] = [
            "room_id",
            "client_id",
            "display_name",
            "message",
            "timeout",
            "after_seq",
            "before_seq",
            "limit",
            "capacity",
            "include_own",
        ];

        /// Arguments built from the tools' own field names, so decoding gets deep.
        fn arguments() -> impl Strategy<Value = Value> {
            prop::collection::btree_map(prop::sample::select(&FIELDS[..]), value(), 0..6).prop_map(
                |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
            )
        }

        fn names_a_known_field(e: &ErrorData) -> bool {
            let field = e.data.as_ref().and_then(|d| d["field"].as_str());
            field.is_some_and(|f| f.is_empty() || FIELDS.contains(&f))
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn decoding_any_arguments_answers_without_panicking(args in arguments()) {
                let limits = Limits::default();
                match parse::<WaitForMessageParams>(args.clone()) {
                    Ok(p) => {
                        let _ = limits.wait_timeout(p.timeout);
                    }
                    Err(e) => prop_assert!(names_a_known_field(&e), "{e:?}"),
                }
                match parse::<EnterQueueParams>(args.clone()) {
                    Ok(p) => {
                        let _ = limits.wait_timeout(p.timeout);
                    }
                    Err(e) => prop_assert!(names_a_known_field(&e), "{e:?}"),
                }
                match parse::<JoinRoomParams>(args.clone()) {
                    Ok(p) => {
                        let _ = limits.capacity(p.capacity);
                        let _ = limits.display_name(&p.display_name);
                        let _ = p.room_id.map(|r| limits.room_id(&r));
                    }
                    Err(e) => prop_assert!(names_a_known_field(&e), "{e:?}"),
                }
                match parse::<GetHistoryParams>(args) {
                    Ok(p) => {
                        let _ = limits.history_limit(p.limit);
                    }
                    Err(e) => prop_assert!(names_a_known_field(&e), "{e:?}"),
                }
            }

            #[test]
            fn any_timeout_is_clamped_or_refused(seconds in any::<f64>()) {
                let limits = Limits::default();
                match limits.wait_timeout(Some(seconds)) {
                    Ok(d) => prop_assert!(d <= limits.max_wait),
                    Err(e) => {
                        prop_assert_eq!(e.field(), Some("timeout"));
                        prop_assert!(!seconds.is_finite() || seconds < 0.0);
                    }
                }
            }

            #[test]
            fn any_text_is_validated_without_panicking(text in any::<String>()) {
                let limits = Limits::default();
                let _ = limits.message(&text);
                let _ = limits.room_id(&text);
                if let Ok(name) = limits.display_name(&text) {
                    prop_assert!(!name.is_empty());
                    prop_assert!(name.chars().all(|c| !c.is_control()));
                }
            }
        }
    }
}

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
        P::json_schema(generator)
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
}

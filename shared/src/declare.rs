//! The chat contract is declared with `mcp_apps`' declaration macros (one field list gives the
//! serde derives and the View's small readers; see `mcp_apps::declare` for the rules). These
//! local forms add what only this crate has: a schemars derive behind the `schema` feature, which
//! the server uses to describe its tools.

macro_rules! json_struct {
    ($(#[$meta:meta])* pub struct $($rest:tt)*) => {
        mcp_apps::json_struct! {
            $(#[$meta])*
            #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
            pub struct $($rest)*
        }
    };
}

macro_rules! json_enum {
    ($(#[$meta:meta])* pub enum $($rest:tt)*) => {
        mcp_apps::json_enum! {
            $(#[$meta])*
            #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
            pub enum $($rest)*
        }
    };
}

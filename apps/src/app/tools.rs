//! Tools the View provides: the host lists them (`tools/list`) and calls them (`tools/call`)
//! for the model while the View is open.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde_json::{Map, Value};

use super::App;
use super::bridge::Answer;
use crate::json::{FromJson, ToJson, object};
use crate::jsonrpc::{RpcError, codes};
use crate::protocol::{CallToolParams, ToolDefinition, ToolResult};

pub(super) type Handler =
    Rc<dyn Fn(Map<String, Value>) -> Pin<Box<dyn Future<Output = ToolResult>>>>;

struct Entry {
    id: u32,
    definition: ToolDefinition,
    handler: Handler,
    enabled: bool,
}

/// The View's tools, in registration order (a handful: a list).
#[derive(Default)]
pub(super) struct Registry {
    entries: RefCell<Vec<Entry>>,
    next_id: Cell<u32>,
    /// Whether any tool was ever registered: then the View declares `appCapabilities.tools`.
    declared: Cell<bool>,
}

impl Registry {
    pub(super) fn is_declared(&self) -> bool {
        self.declared.get()
    }

    pub(super) fn add(&self, definition: ToolDefinition, handler: Handler) -> u32 {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        self.declared.set(true);
        let mut entries = self.entries.borrow_mut();
        // A second registration under one name replaces the first: names are the tools' keys.
        entries.retain(|e| e.definition.name != definition.name);
        entries.push(Entry {
            id,
            definition,
            handler,
            enabled: true,
        });
        id
    }

    /// The `tools/list` answer: the enabled tools.
    pub(super) fn list(&self) -> Value {
        let tools = self
            .entries
            .borrow()
            .iter()
            .filter(|e| e.enabled)
            .map(|e| e.definition.to_json())
            .collect();
        object(vec![("tools", Value::Array(tools))])
    }

    /// Answers a `tools/call`. An unknown or disabled tool is a JSON-RPC error (-32602), as MCP
    /// servers answer it; a tool's own failure is a result with `isError: true`.
    pub(super) fn call(&self, params: &Value) -> Answer {
        let found = CallToolParams::from_json(params)
            .map_err(|e| RpcError::new(codes::INVALID_PARAMS, format!("tools/call: {e}")));
        let found = found.and_then(|call| {
            let entries = self.entries.borrow();
            let entry = entries
                .iter()
                .find(|e| e.enabled && e.definition.name == call.name)
                .ok_or_else(|| {
                    RpcError::new(codes::INVALID_PARAMS, format!("unknown tool {}", call.name))
                })?;
            Ok((entry.handler.clone(), call.arguments))
        });
        Box::pin(async move {
            let (handler, arguments) = found?;
            Ok(handler(arguments).await.to_json())
        })
    }

    /// Enables or disables tool `id`; false if it is gone or already so.
    fn set_enabled(&self, id: u32, enabled: bool) -> bool {
        let mut entries = self.entries.borrow_mut();
        match entries.iter_mut().find(|e| e.id == id) {
            Some(e) if e.enabled != enabled => {
                e.enabled = enabled;
                true
            }
            _ => false,
        }
    }

    /// Applies `change` to tool `id`'s definition; true if it is there and changed. A new name
    /// takes the place of another tool of that name (names are the tools' keys).
    fn update(&self, id: u32, change: impl FnOnce(&mut ToolDefinition)) -> bool {
        let mut entries = self.entries.borrow_mut();
        let Some(entry) = entries.iter_mut().find(|e| e.id == id) else {
            return false;
        };
        let before = entry.definition.clone();
        change(&mut entry.definition);
        if entry.definition == before {
            return false;
        }
        let name = entry.definition.name.clone();
        entries.retain(|e| e.id == id || e.definition.name != name);
        true
    }

    fn remove(&self, id: u32) -> bool {
        let mut entries = self.entries.borrow_mut();
        let before = entries.len();
        entries.retain(|e| e.id != id);
        entries.len() != before
    }
}

/// A tool the View registered ([`App::register_tool`]). Dropping it keeps the tool registered.
pub struct RegisteredTool {
    app: App,
    id: u32,
}

impl RegisteredTool {
    pub(super) fn new(app: App, id: u32) -> RegisteredTool {
        RegisteredTool { app, id }
    }

    /// Lists the tool again after [`RegisteredTool::disable`].
    pub fn enable(&self) {
        if self.app.state.tools.set_enabled(self.id, true) {
            self.app.send_tool_list_changed();
        }
    }

    /// Hides the tool from `tools/list` and refuses calls to it, until enabled again.
    pub fn disable(&self) {
        if self.app.state.tools.set_enabled(self.id, false) {
            self.app.send_tool_list_changed();
        }
    }

    /// Changes what the host lists for the tool (its title, description, schemas, annotations,
    /// even its name) and tells the host, as ext-apps' `RegisteredAppTool.update()` does. The
    /// handler stays. Nothing is announced when `change` leaves the definition as it was.
    ///
    /// ```ignore
    /// note.update(|tool| tool.description = Some("Show a note, in the person's language.".into()));
    /// ```
    pub fn update(&self, change: impl FnOnce(&mut ToolDefinition)) {
        if self.app.state.tools.update(self.id, change) {
            self.app.send_tool_list_changed();
        }
    }

    /// Withdraws the tool for good.
    pub fn remove(self) {
        if self.app.state.tools.remove(self.id) {
            self.app.send_tool_list_changed();
        }
    }
}

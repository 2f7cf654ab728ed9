//! The browser page `mcp-chat serve` offers at `/chat`: it hosts the chat View for a person who
//! has nothing but a browser, with `mcp_apps::host` as the host and MCP over HTTP (same origin,
//! the stateless 2026-07-28 revision) to the server that serves it.
//!
//! How a person gets here, from the link's fragment (never sent to the server, and removed
//! from the address bar at once):
//! - `#invite=CODE`: an invitation. They pick a name; the page joins with the code.
//! - `#link=CODE`: an `open_chat` link. The page exchanges the single-use code at `/chat/claim`
//!   for the member it opens.
//!
//! Either way the member's credential is kept in this tab's session storage, so a reload keeps
//! who they are, and nothing else does: closing the tab forgets it.
//!
//! The page offers the View exactly what it can do without an assistant: server tools and
//! resources, links, logging. No `ui/message` and no model context: nobody would read them, and
//! the View hides what needs them.

#[cfg(target_arch = "wasm32")]
mod credential;
#[cfg(target_arch = "wasm32")]
mod mcp;
#[cfg(target_arch = "wasm32")]
mod room;
#[cfg(target_arch = "wasm32")]
mod ui;

#[cfg(target_arch = "wasm32")]
fn main() {
    wasm_bindgen_futures::spawn_local(start());
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("mcp-chat-page is a WebAssembly program: scripts/build-view.sh --page builds it");
}

#[cfg(target_arch = "wasm32")]
async fn start() {
    use credential::Credential;

    let arrival = credential::take_fragment();
    let outcome = match arrival {
        Some(credential::Arrival::Link(code)) => match mcp::claim(&code).await {
            Ok(credential) => {
                credential.keep();
                Ok(credential)
            }
            Err(why) => Err(why),
        },
        Some(credential::Arrival::Invite(code)) => ui::join_with_invite(&code).await,
        None => Credential::kept().ok_or_else(|| {
            "This page opens a chat room from a link: an invitation, or a link from open_chat. \
             Ask for a new one."
                .to_owned()
        }),
    };
    match outcome {
        Ok(credential) => room::open(credential).await,
        Err(why) => ui::fail(&why),
    }
}

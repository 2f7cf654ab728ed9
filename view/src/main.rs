//! The binary trunk builds: it only starts the app (everything lives in the library, so browser
//! tests can mount the same components).

fn main() {
    mcp_chat_view::start();
}

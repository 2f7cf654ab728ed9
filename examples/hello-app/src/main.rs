//! The View's entry point (wasm32); natively there is nothing to run here: see hello-app-server.

fn main() {
    #[cfg(target_arch = "wasm32")]
    hello_app::start();
}

//! What the chat state of one client costs a store in this process: the heap the engine and
//! its store hold per member of a two-person room, once each has received the other's join
//! (as the load generator's parked clients have), counted by a wrapping allocator. No HTTP, no
//! MCP session, no wait: the rest of a parked client is the transport's (`loadgen --mode idle`).
//!
//!     cargo run --release -p mcp-chat --example state_per_client -- [STORE] [CLIENTS]
//!
//! STORE is `memory` (the default) or `sqlite:PATH`; CLIENTS defaults to 10,000.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use mcp_chat::engine::store::StoreSpec;
use mcp_chat::engine::{Engine, Limits};
use mcp_chat_shared::chat::WaitForMessageParams;
use tokio_util::sync::CancellationToken;

/// The system allocator, counting the bytes in use (what was asked for, not what it rounds to).
struct Counting;

static IN_USE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        IN_USE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        IN_USE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        IN_USE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let store: StoreSpec = args
        .next()
        .unwrap_or_else(|| "memory".into())
        .parse()
        .map_err(anyhow::Error::msg)?;
    let clients: usize = args.next().map_or(Ok(10_000), |n| n.parse())?;
    let limits = Limits {
        // One process creating every client: the per-address and per-minute limits are for
        // clients on a network.
        creations_per_minute: u32::MAX,
        creation_burst: u32::MAX,
        ..Limits::default()
    };
    let opened = store.open(&limits).await?;
    let engine = Engine::new(opened.store, limits, CancellationToken::new());
    let before = IN_USE.load(Ordering::Relaxed);
    let mut members = Vec::with_capacity(clients);
    for i in 0..clients {
        let room = format!("idle-{}", i / 2);
        let joined = engine
            .join_room(&room, &format!("P{i}"), Some(2), None, None)
            .await?;
        members.push((room, joined.client_id));
    }
    for (room, client_id) in &members {
        let wait = WaitForMessageParams {
            room_id: Some(room.clone()),
            client_id: client_id.clone(),
            timeout: Some(0.0),
            ..WaitForMessageParams::default()
        };
        engine.wait(&wait, &CancellationToken::new()).await?;
    }
    // The ids this program keeps are not the store's.
    let ours: usize = members
        .iter()
        .map(|(room, id)| room.capacity() + id.capacity())
        .sum::<usize>()
        + members.capacity() * size_of::<(String, String)>();
    let held = IN_USE.load(Ordering::Relaxed) - before - ours as isize;
    println!(
        "{}: {clients} clients in rooms of two, {:.0} bytes of chat state per client",
        store.describe(),
        held as f64 / clients as f64
    );
    Ok(())
}

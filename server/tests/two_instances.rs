//! Two instances on one Redis must behave as one process: a property test drives clients
//! through random sequences of calls, each served by a randomly chosen instance, and the same
//! sequence through a single `mcp-chat serve` on the memory store (the model); every outcome
//! must match.
//!
//! The calls cover every tool that changes or reads a room: joining (new and known identities,
//! rooms of two and three, so capacity is reached), sending (with and without an
//! `idempotency_key`, retried on the other instance), waiting, leaving, history, the room, the
//! queue (pairing across instances), with a room quota of two rooms per client and a log of a
//! dozen entries, so the limits are reached too. Outcomes are compared without what is random
//! by design (ids, times) and with the rooms the queue makes named by order of appearance.
//! Deliveries are compared after dropping entries already seen (by `seq`), as clients are told
//! to: with several instances a batch may be handed out again (README, "Every message at least
//! once"); nothing may be missing, and nothing else may differ.

mod common;

use std::collections::HashMap;

use common::{Client, HttpServer, NO_RATE_LIMITS, call};
use mcp_chat::testing::RedisServer;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

/// The same limits for every server: quotas small enough to reach, and no rate limits (they
/// depend on timing, which the two systems do not share: `NO_RATE_LIMITS`).
const QUOTAS: &[&str] = &[
    "--max-rooms-per-client",
    "2",
    "--max-messages-per-room",
    "12",
];

const PEOPLE: usize = 3;
/// Names that clash, so rooms must tell "Dana" and "dana" apart.
const NAMES: [&str; PEOPLE] = ["Dana", "dana", "Bo"];

#[derive(Debug, Clone, Copy)]
enum Room {
    Named(u8),
    /// The room the queue last put this person in (a named room until then).
    Queued,
}

#[derive(Debug, Clone)]
enum Action {
    Join { room: Room, capacity: Option<u32> },
    Send { room: Room, text: u8 },
    SendKeyed { room: Room, key: u8, text: u8 },
    Wait { room: Option<Room> },
    Leave { room: Room },
    History { room: Room },
    GetRoom { room: Room },
    EnterQueue,
    LeaveQueue,
}

#[derive(Debug, Clone)]
struct Step {
    person: usize,
    /// Which of the two instances serves the call.
    instance: usize,
    action: Action,
}

fn room() -> impl Strategy<Value = Room> {
    prop_oneof![
        3 => (0..2u8).prop_map(Room::Named),
        1 => Just(Room::Queued),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => (room(), prop_oneof![Just(None), Just(Some(2)), Just(Some(3))])
            .prop_map(|(room, capacity)| Action::Join { room, capacity }),
        3 => (room(), 0..3u8).prop_map(|(room, text)| Action::Send { room, text }),
        2 => (room(), 0..2u8, 0..2u8)
            .prop_map(|(room, key, text)| Action::SendKeyed { room, key, text }),
        3 => prop::option::of(room()).prop_map(|room| Action::Wait { room }),
        1 => room().prop_map(|room| Action::Leave { room }),
        1 => room().prop_map(|room| Action::History { room }),
        1 => room().prop_map(|room| Action::GetRoom { room }),
        1 => Just(Action::EnterQueue),
        1 => Just(Action::LeaveQueue),
    ]
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    prop::collection::vec(
        (0..PEOPLE, 0..2usize, action()).prop_map(|(person, instance, action)| Step {
            person,
            instance,
            action,
        }),
        1..28,
    )
}

/// One system under test: its clients (one per instance; the model has one) and what each
/// person has there.
struct System {
    clients: Vec<Client>,
    ids: [Option<String>; PEOPLE],
    queued_room: [Option<String>; PEOPLE],
    /// Rooms the queue made, by order of appearance: `pair-…` ids differ between systems.
    aliases: HashMap<String, String>,
    /// The highest `seq` each person has seen per room (repeats are dropped, as clients do).
    seen: HashMap<(usize, String), u64>,
}

impl System {
    fn new(clients: Vec<Client>) -> System {
        System {
            clients,
            ids: Default::default(),
            queued_room: Default::default(),
            aliases: HashMap::new(),
            seen: HashMap::new(),
        }
    }

    fn room_id(&self, case: usize, person: usize, room: Room) -> String {
        match room {
            Room::Queued => self.queued_room[person]
                .clone()
                .unwrap_or_else(|| format!("c{case}-r0")),
            Room::Named(n) => format!("c{case}-r{n}"),
        }
    }

    fn alias(&mut self, room_id: &str) -> String {
        if !room_id.starts_with("pair-") {
            return room_id.to_owned();
        }
        let next = self.aliases.len();
        self.aliases
            .entry(room_id.to_owned())
            .or_insert_with(|| format!("paired-{next}"))
            .clone()
    }

    /// Runs `step` and returns its outcome without what is random by design.
    async fn run(&mut self, case: usize, step: &Step) -> Value {
        let client = &self.clients[step.instance % self.clients.len()];
        let person = step.person;
        let id = self.ids[person].clone();
        let with_id = |mut args: Value| {
            if let Some(id) = &id {
                args["client_id"] = json!(id);
            }
            args
        };
        let (tool, args) = match &step.action {
            Action::Join { room, capacity } => {
                let mut args = json!({
                    "room_id": self.room_id(case, person, *room),
                    "display_name": NAMES[person],
                });
                if let Some(c) = capacity {
                    args["capacity"] = json!(c);
                }
                ("join_room", with_id(args))
            }
            Action::Send { room, text } => (
                "send_message",
                with_id(json!({
                    "room_id": self.room_id(case, person, *room),
                    "message": format!("{} says {text}", NAMES[person]),
                })),
            ),
            Action::SendKeyed { room, key, text } => (
                "send_message",
                with_id(json!({
                    "room_id": self.room_id(case, person, *room),
                    "message": format!("{} keyed {text}", NAMES[person]),
                    "idempotency_key": format!("case-{case}-person-{person}-key-{key}"),
                })),
            ),
            Action::Wait { room } => {
                let mut args = with_id(json!({"timeout": 0}));
                if let Some(room) = room {
                    args["room_id"] = json!(self.room_id(case, person, *room));
                }
                ("wait_for_message", args)
            }
            Action::Leave { room } => (
                "leave_chat",
                with_id(json!({"room_id": self.room_id(case, person, *room)})),
            ),
            Action::History { room } => (
                "get_history",
                with_id(json!({"room_id": self.room_id(case, person, *room)})),
            ),
            Action::GetRoom { room } => (
                "get_room",
                with_id(json!({"room_id": self.room_id(case, person, *room)})),
            ),
            Action::EnterQueue => (
                "enter_queue",
                with_id(json!({"display_name": NAMES[person], "timeout": 0})),
            ),
            Action::LeaveQueue => ("leave_queue", with_id(json!({}))),
        };
        // Calls that need an identity before there is one are not made: their refusal
        // (`unknown_client` for a made-up id) says nothing about instances.
        let needs_id = !matches!(step.action, Action::Join { .. } | Action::EnterQueue);
        if needs_id && id.is_none() {
            return json!("no identity yet");
        }
        let result = call(client, tool, args).await;
        let Some(body) = result.structured_content.clone() else {
            return json!({"unstructured": common::text_of(&result)});
        };
        if result.is_error == Some(true) {
            return json!({"error": body["code"]});
        }
        self.outcome(person, tool, &body)
    }

    fn outcome(&mut self, person: usize, tool: &str, body: &Value) -> Value {
        let names = |members: &Value| -> Vec<Value> {
            members
                .as_array()
                .map(|m| m.iter().map(|m| m["display_name"].clone()).collect())
                .unwrap_or_default()
        };
        match tool {
            "join_room" => {
                if self.ids[person].is_none() {
                    self.ids[person] = body["client_id"].as_str().map(str::to_owned);
                }
                json!({
                    "status": body["status"], "room_status": body["room_status"],
                    "capacity": body["capacity"], "latest_seq": body["latest_seq"],
                    "members": names(&body["members"]),
                    "partner": body["partner"]["display_name"],
                })
            }
            "send_message" => json!({
                "seq": body["seq"], "members_present": body["members_present"],
                "room_status": body["room_status"],
            }),
            "wait_for_message" => {
                let room = body["room_id"].as_str().map(|r| self.alias(r));
                let seen = room
                    .as_ref()
                    .map(|r| self.seen.entry((person, r.clone())).or_insert(0));
                let mut fresh = Vec::new();
                if let Some(seen) = seen {
                    for m in body["messages"].as_array().into_iter().flatten() {
                        let seq = m["seq"].as_u64().unwrap();
                        if seq > *seen {
                            *seen = seq;
                            fresh.push(json!([seq, m["kind"], m["text"]]));
                        }
                    }
                }
                json!({
                    "room": room, "messages": fresh, "room_status": body["room_status"],
                    "queue_position": body["queue_position"],
                })
            }
            "leave_chat" => json!({"room_status": body["room_status"]}),
            "get_history" => json!({
                "messages": body["messages"].as_array().map(|m| m.iter()
                    .map(|m| json!([m["seq"], m["kind"], m["text"]])).collect::<Vec<_>>()),
                "latest_seq": body["latest_seq"], "has_more": body["has_more"],
            }),
            "get_room" => json!({
                "status": body["status"], "capacity": body["capacity"],
                "members": names(&body["members"]), "latest_seq": body["latest_seq"],
            }),
            "enter_queue" => {
                if self.ids[person].is_none() {
                    self.ids[person] = body["client_id"].as_str().map(str::to_owned);
                }
                let room = body["room_id"].as_str().map(|r| {
                    self.queued_room[person] = Some(r.to_owned());
                    self.alias(r)
                });
                json!({
                    "status": body["status"], "room": room,
                    "partner": body["partner"]["display_name"], "position": body["position"],
                })
            }
            _ => json!({"success": body["success"]}),
        }
    }

    /// Ends a case: its people leave the queue (so the next case starts with an empty one) and
    /// are forgotten.
    async fn reset(&mut self) {
        for id in self.ids.iter().flatten() {
            call(&self.clients[0], "leave_queue", json!({"client_id": id})).await;
        }
        self.ids = Default::default();
        self.queued_room = Default::default();
        self.aliases.clear();
        self.seen.clear();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_answer_as_one_process_would() {
    let Some(redis) = RedisServer::try_start(&[]) else {
        return;
    };
    let with_store = |store: String| {
        let mut args = vec!["--store".to_owned(), store];
        args.extend(QUOTAS.iter().chain(NO_RATE_LIMITS).map(|a| a.to_string()));
        args
    };
    let redis_args = with_store(redis.url());
    let redis_args: Vec<&str> = redis_args.iter().map(String::as_str).collect();
    let model_args = with_store("memory".into());
    let model_args: Vec<&str> = model_args.iter().map(String::as_str).collect();
    let a = HttpServer::start(&redis_args).await;
    let b = HttpServer::start(&redis_args).await;
    let model = HttpServer::start(&model_args).await;
    let (a_client, b_client, model_client) =
        (a.client().await, b.client().await, model.client().await);
    let instances = System::new(vec![a_client, b_client]);
    let one = System::new(vec![model_client]);
    let runtime = tokio::runtime::Handle::current();

    let cases = std::env::var("MCP_CHAT_PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48);
    let mut runner = TestRunner::new(Config {
        cases,
        // A failing sequence shrinks on the same servers; later cases use rooms of their own.
        max_shrink_iters: 200,
        ..Config::default()
    });
    // `run` takes a `Fn`: the systems are borrowed per case.
    let systems = std::cell::RefCell::new((0, instances, one));
    let outcome = runner.run(&steps(), |steps| {
        let mut systems = systems.borrow_mut();
        let (case, instances, one) = &mut *systems;
        *case += 1;
        let case = *case;
        tokio::task::block_in_place(|| {
            runtime.block_on(async {
                let mut trace = Vec::new();
                for step in &steps {
                    let there = instances.run(case, step).await;
                    let here = one.run(case, step).await;
                    trace.push(format!("{step:?} -> {here}"));
                    if there != here {
                        instances.reset().await;
                        one.reset().await;
                        return Err(TestCaseError::fail(format!(
                            "two instances answered {there}\none process answered {here}\n\
                             after:\n{}",
                            trace.join("\n")
                        )));
                    }
                }
                instances.reset().await;
                one.reset().await;
                Ok(())
            })
        })
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}

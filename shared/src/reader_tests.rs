//! The hand-written JSON readers (`mcp_apps::json`) against the serde derives, for every type
//! the View reads: the MCP Apps messages of `mcp-apps` and the chat results of this crate.
//! (Here rather than in `mcp-apps` because they cover both crates' types.)

#[cfg(test)]
mod tests {
    //! The hand-written readers must agree with the derives on what hosts and our server send.
    use serde::de::DeserializeOwned;
    use serde_json::json;

    use crate::chat::{HistoryResult, RoomResult, SendMessageResult, WaitForMessageResult};
    use mcp_apps::json::*;
    use mcp_apps::jsonrpc::{Incoming, Notification, Request, RequestId, Response, RpcError};
    use mcp_apps::protocol::{HostCapabilities, HostContext, InitializeResult, ToolResult};
    use serde_json::Value;

    fn same<T: FromJson + DeserializeOwned + PartialEq + std::fmt::Debug>(v: Value) {
        let derived = serde_json::from_value::<T>(v.clone()).ok();
        let manual = T::from_json(&v).ok();
        assert_eq!(manual, derived, "for {v}");
    }

    fn message(seq: u64, sender: Value) -> Value {
        json!({"seq": seq, "message_id": "m", "room_id": "r", "kind": "chat", "sender": sender,
               "text": "hi", "timestamp": "t", "timestamp_ms": 5, "extra": 1})
    }

    #[test]
    fn partial_readers_take_what_they_can() {
        use crate::chat::ErrorResult;
        let full =
            serde_json::to_value(ErrorResult::new("room_full", "The room is full.")).unwrap();
        assert_eq!(
            ErrorResult::reason(&full).as_deref(),
            Some("The room is full.")
        );
        assert_eq!(
            ErrorResult::reason(&json!({"error": "Only this."})).as_deref(),
            Some("Only this.")
        );
        assert_eq!(ErrorResult::reason(&json!({"error": 7})), None);
        assert_eq!(ErrorResult::reason(&json!("error")), None);
    }

    #[test]
    fn a_room_target_reads_non_empty_ids_from_any_tool_value() {
        use crate::chat::{JoinRoomParams, RoomTarget};
        use crate::json::ToJson;
        // A tool's input carries more than the ids (join_room: a display name, a capacity).
        let join = JoinRoomParams {
            room_id: Some("lobby".to_owned()),
            display_name: "Ada".to_owned(),
            capacity: Some(3),
            client_id: Some("c_1".to_owned()),
            idempotency_key: None,
            invite: None,
            private: Some(true),
            history: Some(crate::chat::HistoryVisibility::SinceJoin),
            members_can_invite: None,
        };
        let target = RoomTarget::named_by(&join.to_json());
        assert_eq!(target.client_id.as_deref(), Some("c_1"));
        assert_eq!(target.room_id.as_deref(), Some("lobby"));
        let empty = RoomTarget {
            client_id: Some(String::new()),
            room_id: Some(String::new()),
        }
        .to_json();
        let mut numbers = empty.clone();
        for id in numbers.as_object_mut().unwrap().values_mut() {
            *id = json!(7);
        }
        for value in [empty, numbers, json!({}), json!("c_1"), json!([1])] {
            assert_eq!(
                RoomTarget::named_by(&value),
                RoomTarget::default(),
                "{value}"
            );
        }
        // An id of the wrong type does not hide the other one.
        let mut one_bad = join.to_json();
        one_bad[JoinRoomParams::FIELDS[0]] = json!(7);
        let target = RoomTarget::named_by(&one_bad);
        assert_eq!(target.client_id.as_deref(), Some("c_1"));
        assert_eq!(target.room_id, None);
    }

    #[test]
    fn a_room_target_fills_only_what_it_lacks_from_another() {
        use crate::chat::RoomTarget;
        let from_result = RoomTarget {
            client_id: Some("c_result".to_owned()),
            room_id: None,
        };
        let from_input = RoomTarget {
            client_id: Some("c_input".to_owned()),
            room_id: Some("lobby".to_owned()),
        };
        assert_eq!(
            from_result.or(from_input.clone()),
            RoomTarget {
                client_id: Some("c_result".to_owned()),
                room_id: Some("lobby".to_owned()),
            }
        );
        assert_eq!(RoomTarget::default().or(from_input.clone()), from_input);
    }

    #[test]
    fn chat_results_read_like_the_derives() {
        let alice = json!({"user_id": "u1", "display_name": "Alice"});
        for v in [
            json!({"messages": [message(1, alice.clone()), message(2, Value::Null)], "timeout": false,
                   "has_more": false, "room_id": "r", "room_status": "active", "last_seq": 2}),
            json!({"messages": [], "timeout": true, "has_more": false, "queue_position": 3, "last_seq": 0,
                   "message": null, "sender": "x"}),
            json!({"messages": [message(1, json!({"user_id": 1}))], "timeout": false, "has_more": false, "last_seq": 1}),
            json!({"messages": [], "timeout": true, "has_more": false, "room_status": "bogus", "last_seq": 0}),
            json!({"messages": [], "timeout": true, "has_more": false, "last_seq": -1}),
            json!({"messages": {}, "timeout": true, "has_more": false, "last_seq": 0}),
            json!({"timeout": true, "has_more": false, "last_seq": 0}),
            json!({"messages": [], "timeout": true, "has_more": false, "last_seq": 0, "queue_position": 5000000000u64}),
            json!(null),
        ] {
            same::<WaitForMessageResult>(v);
        }
        let member =
            json!({"user_id": "u1", "display_name": "Alice", "joined_at": "t", "is_you": true});
        for v in [
            json!({"room_id": "r", "status": "ended", "capacity": 2, "members": [member.clone()],
                   "latest_seq": 4, "created_at": "t", "you": alice.clone()}),
            json!({"room_id": "r", "status": "waiting", "capacity": 2.5, "members": [], "latest_seq": 4,
                   "created_at": "t", "you": alice.clone()}),
            json!({"room_id": "r", "status": "active", "capacity": 2, "members": [member.clone()],
                   "latest_seq": 4, "created_at": "t"}),
        ] {
            same::<RoomResult>(v);
        }
        same::<HistoryResult>(
            json!({"room_id": "r", "messages": [message(3, alice.clone())],
                                     "has_more": true, "latest_seq": 3}),
        );
        same::<HistoryResult>(
            json!({"room_id": "r", "messages": [message(3, alice)], "has_more": null,
                                     "latest_seq": 3}),
        );
        same::<SendMessageResult>(
            json!({"success": true, "message_id": "m", "seq": 9, "timestamp": "t",
                                         "members_present": 2, "room_status": "active"}),
        );
        same::<SendMessageResult>(
            json!({"success": true, "message_id": "m", "seq": 9, "timestamp": "t",
                                         "members_present": 2}),
        );
    }

    #[test]
    fn host_messages_read_like_the_derives() {
        let context = json!({
            "theme": "sepia", "displayMode": "fullscreen", "availableDisplayModes": ["inline", "pip", "x"],
            "styles": {"variables": {"--a": "1"}, "css": {"fonts": "@import x;"}},
            "containerDimensions": {"maxHeight": 600, "width": 400.5}, "locale": "fr-FR",
            "timeZone": "Europe/Paris", "safeAreaInsets": {"top": 1, "left": 2.5}, "toolInfo": {"id": 1},
            "platform": null, "somethingNew": {"x": 1}, "userAgent": "ua"
        });
        for v in [
            context.clone(),
            json!({}),
            json!({"theme": 3}),
            json!({"safeAreaInsets": {"top": null}}),
            json!({"styles": {"variables": []}}),
        ] {
            same::<HostContext>(v);
        }
        for v in [
            json!({"openLinks": {}, "serverTools": {"listChanged": true}, "message": null, "logging": 0,
                   "downloadFile": {}, "serverResources": {}, "updateModelContext": {}, "sandbox": {},
                   "sampling": {}, "experimental": {}, "other": 1}),
            json!({}),
        ] {
            same::<HostCapabilities>(v);
        }
        for v in [
            json!({"protocolVersion": "2026-01-26", "hostInfo": {"name": "h", "version": "1", "title": "H"},
                   "hostCapabilities": {"openLinks": {}}, "hostContext": context}),
            json!({}),
            json!({"hostInfo": {"name": "h"}}),
            json!({"hostInfo": null}),
        ] {
            same::<InitializeResult>(v);
        }
        for v in [
            json!({"content": [{"type": "image", "data": "x"}, {"type": "text", "text": "ok"}],
                   "structuredContent": {"a": 1}, "isError": false}),
            json!({"content": [{"type": "text"}]}),
            json!({"content": [{"text": "x"}]}),
            json!({"structuredContent": null, "isError": null}),
            json!({"isError": "yes"}),
        ] {
            same::<ToolResult>(v);
        }
        for v in [json!(1), json!("a"), json!(1.5), json!(-3), json!(true)] {
            same::<RequestId>(v);
        }
        for v in [
            json!({"code": -32601, "message": "nope", "data": {"x": 1}}),
            json!({"code": -32601}),
            json!({"code": "x", "message": "m"}),
        ] {
            same::<RpcError>(v);
        }
        let malformed = json!({"jsonrpc": "2.0", "id": 4, "error": {"code": "x"}});
        let Some(Incoming::Response {
            outcome: Err(e), ..
        }) = Incoming::classify(&malformed)
        else {
            panic!("not a response");
        };
        assert_eq!(e.message, r#"malformed error: {"code":"x"}"#);
    }

    #[test]
    fn text_is_written_like_serde_json() {
        let tricky = "q\"b\\n\nr\rt\tb\u{8}f\u{c}c\u{1}\u{1f}\u{7f}é€😀</script>";
        for v in [
            json!(null),
            json!(true),
            json!({"a": [1, -2, 1.5, 1e300, 0.1, 12345678901234567890u64, false, null], "b": {}, "c": []}),
            json!({ tricky: tricky, "z": {"y": [tricky]} }),
            json!(-0.0),
            json!(f64::MIN_POSITIVE),
        ] {
            assert_eq!(to_text(&v), serde_json::to_string(&v).unwrap());
        }
    }

    #[test]
    fn outgoing_messages_build_like_the_derives() {
        let params = Some(json!({"a": [1, 2]}));
        let request = Request::new(3, "tools/call", params.clone());
        assert_eq!(request.to_json(), serde_json::to_value(&request).unwrap());
        let request = Request::new(RequestId::String("x".into()), "ping", None);
        assert_eq!(request.to_json(), serde_json::to_value(&request).unwrap());
        let n = Notification::new("ui/notifications/initialized", None);
        assert_eq!(n.to_json(), serde_json::to_value(&n).unwrap());
        let n = Notification::new("ui/notifications/size-changed", params);
        assert_eq!(n.to_json(), serde_json::to_value(&n).unwrap());
        let r = Response::ok(RequestId::Number(1), json!({}));
        assert_eq!(r.to_json(), serde_json::to_value(&r).unwrap());
        let mut error = RpcError::new(-32601, "unknown method x");
        let r = Response::err(RequestId::String("s".into()), error.clone());
        assert_eq!(r.to_json(), serde_json::to_value(&r).unwrap());
        error.data = Some(json!([1]));
        assert_eq!(error.to_json(), serde_json::to_value(&error).unwrap());
    }

    #[test]
    fn app_messages_build_like_the_derives() {
        use mcp_apps::protocol::*;
        let mut p = InitializeParams {
            app_info: Implementation {
                name: "v".into(),
                version: "1".into(),
                title: Some("V".into()),
            },
            app_capabilities: AppCapabilities {
                available_display_modes: Some(vec![DisplayMode::Inline, DisplayMode::Fullscreen]),
                tools: None,
            },
            protocol_version: PROTOCOL_VERSION.into(),
        };
        assert_eq!(p.to_json(), serde_json::to_value(&p).unwrap());
        p.app_info.title = None;
        p.app_capabilities = AppCapabilities {
            available_display_modes: None,
            tools: Some(AppToolsCapability {
                list_changed: Some(true),
            }),
        };
        assert_eq!(p.to_json(), serde_json::to_value(&p).unwrap());
        let m = MessageParams {
            role: "user".into(),
            content: vec![
                ContentBlock::text("hi"),
                ContentBlock::Other(json!({"type": "x"})),
            ],
        };
        assert_eq!(m.to_json(), serde_json::to_value(&m).unwrap());
        for structured in [None, Some(json!({"room_id": "r"}))] {
            let c = ModelContextParams {
                content: vec![ContentBlock::text("t")],
                structured_content: structured,
            };
            assert_eq!(c.to_json(), serde_json::to_value(&c).unwrap());
        }
        for mode in [
            DisplayMode::Inline,
            DisplayMode::Fullscreen,
            DisplayMode::Pip,
            DisplayMode::Other,
        ] {
            assert_eq!(json!(mode.as_str()), serde_json::to_value(mode).unwrap());
        }
        for theme in [Theme::Light, Theme::Dark, Theme::Other] {
            assert_eq!(json!(theme.as_str()), serde_json::to_value(theme).unwrap());
        }
        use crate::chat::{MessageKind, RoomStatus};
        for s in [RoomStatus::Waiting, RoomStatus::Active, RoomStatus::Ended] {
            assert_eq!(json!(s.as_str()), serde_json::to_value(s).unwrap());
            same::<RoomStatus>(json!(s.as_str()));
        }
        for k in [
            MessageKind::Chat,
            MessageKind::Joined,
            MessageKind::Left,
            MessageKind::Matched,
            MessageKind::RoomEnded,
        ] {
            assert_eq!(json!(k.as_str()), serde_json::to_value(k).unwrap());
            same::<MessageKind>(json!(k.as_str()));
        }
        same::<MessageKind>(json!("other"));
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod properties {
    //! The hand-written readers against the derives, on generated input: any JSON at all (they
    //! must never panic, and whatever they accept the derives read the same), and every
    //! well-formed value of each type, written by serde (both must read it, alike).
    use proptest::prelude::*;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::Number;

    use crate::chat::*;
    use mcp_apps::json::*;
    use mcp_apps::jsonrpc::{Incoming, RequestId, RpcError};
    use mcp_apps::protocol::*;
    use serde_json::Value;

    /// The keys the readers look for, so that generated objects often get past the first field.
    const KEYS: &[&str] = &[
        "client_id",
        "after_seq",
        "include_own",
        "code",
        "error",
        "history",
        "room",
        "seq",
        "message_id",
        "room_id",
        "kind",
        "sender",
        "text",
        "timestamp",
        "timestamp_ms",
        "user_id",
        "display_name",
        "joined_at",
        "is_you",
        "success",
        "members_present",
        "room_status",
        "messages",
        "timeout",
        "has_more",
        "queue_position",
        "last_seq",
        "message",
        "latest_seq",
        "status",
        "capacity",
        "members",
        "created_at",
        "you",
        "name",
        "version",
        "title",
        "openLinks",
        "downloadFile",
        "serverTools",
        "serverResources",
        "logging",
        "sandbox",
        "updateModelContext",
        "sampling",
        "experimental",
        "variables",
        "css",
        "fonts",
        "height",
        "maxHeight",
        "width",
        "maxWidth",
        "top",
        "right",
        "bottom",
        "left",
        "protocolVersion",
        "hostInfo",
        "hostCapabilities",
        "hostContext",
        "toolInfo",
        "theme",
        "styles",
        "displayMode",
        "availableDisplayModes",
        "containerDimensions",
        "locale",
        "timeZone",
        "userAgent",
        "platform",
        "deviceCapabilities",
        "safeAreaInsets",
        "type",
        "content",
        "structuredContent",
        "isError",
        "code",
        "data",
        "jsonrpc",
        "id",
        "method",
        "params",
        "result",
        "error",
    ];
    /// Strings the readers give a meaning to.
    const WORDS: &[&str] = &[
        "chat",
        "joined",
        "left",
        "matched",
        "room_ended",
        "waiting",
        "active",
        "ended",
        "light",
        "dark",
        "inline",
        "fullscreen",
        "pip",
        "text",
        "image",
        "2.0",
        "",
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0u64..8).prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            prop::sample::select(WORDS).prop_map(Value::from),
            "(?s).{0,6}".prop_map(Value::from),
        ]
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => prop::sample::select(KEYS).prop_map(str::to_owned),
            1 => "(?s).{0,6}",
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        leaf().prop_recursive(4, 96, 10, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..10)
                    .prop_map(|entries| Value::Object(entries.into_iter().collect())),
            ]
        })
    }

    /// Reads `v` both ways; what the reader accepts, the derive reads the same. Not the other
    /// way round: a derive also reads a struct from an array of its fields, which nobody sends.
    fn agree<T: FromJson + DeserializeOwned + PartialEq + std::fmt::Debug>(
        v: &Value,
    ) -> Result<Option<T>, TestCaseError> {
        let manual = T::from_json(v).ok();
        if manual.is_some() {
            let derived = serde_json::from_value::<T>(v.clone()).ok();
            prop_assert_eq!(&manual, &derived, "for {}", v);
        }
        Ok(manual)
    }

    /// A typed value written by serde reads back by hand as serde reads it, and successfully.
    fn round_trip<T: FromJson + Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(
        typed: &T,
    ) -> Result<(), TestCaseError> {
        let v = serde_json::to_value(typed).unwrap();
        let manual = T::from_json(&v);
        prop_assert!(manual.is_ok(), "rejected {}: {:?}", v, manual);
        prop_assert_eq!(
            manual.ok(),
            serde_json::from_value::<T>(v.clone()).ok(),
            "for {}",
            v
        );
        Ok(())
    }

    /// What the View writes by hand (`ToJson`) is what serde writes, and reads back as itself.
    fn written_like_serde<T: FromJson + ToJson + Serialize + PartialEq + std::fmt::Debug>(
        typed: &T,
    ) -> Result<(), TestCaseError> {
        let derived = serde_json::to_value(typed).unwrap();
        let manual = typed.to_json();
        prop_assert_eq!(&manual, &derived);
        let back = T::from_json(&manual);
        prop_assert_eq!(back.as_ref(), Ok(typed));
        Ok(())
    }

    fn wait_params() -> impl Strategy<Value = WaitForMessageParams> {
        (
            prop::option::of(text()),
            text(),
            prop::option::of(number()),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(room_id, client_id, timeout, after_seq, include_own)| {
                WaitForMessageParams {
                    room_id,
                    client_id,
                    timeout,
                    after_seq,
                    include_own,
                }
            })
    }

    fn history_params() -> impl Strategy<Value = GetHistoryParams> {
        (
            text(),
            text(),
            prop::option::of(any::<u64>()),
            prop::option::of(any::<u32>()),
        )
            .prop_map(|(room_id, client_id, before_seq, limit)| GetHistoryParams {
                room_id,
                client_id,
                before_seq,
                limit,
            })
    }

    fn error_result() -> impl Strategy<Value = ErrorResult> {
        (
            text(),
            text(),
            prop::option::of(text()),
            prop::option::of(any::<u64>()),
        )
            .prop_map(|(code, error, field, retry_after_ms)| ErrorResult {
                field,
                retry_after_ms,
                ..ErrorResult::new(code, error)
            })
    }

    fn selected() -> impl Strategy<Value = SelectedMessages> {
        let one =
            (any::<u64>(), text(), text(), text()).prop_map(|(seq, author, text, timestamp)| {
                SelectedMessage {
                    seq,
                    author,
                    text,
                    timestamp,
                }
            });
        (text(), prop::collection::vec(one, 0..3))
            .prop_map(|(room_id, messages)| SelectedMessages { room_id, messages })
    }

    fn model_context() -> impl Strategy<Value = ModelContext> {
        (
            text(),
            room_status(),
            prop::collection::vec(text(), 0..3),
            any::<u64>(),
        )
            .prop_map(|(room_id, status, members, last_seq)| ModelContext {
                room_id,
                status,
                members,
                last_seq,
            })
    }

    fn text() -> impl Strategy<Value = String> {
        "(?s).{0,8}"
    }

    fn number() -> impl Strategy<Value = f64> {
        any::<f64>().prop_filter("finite", |f| f.is_finite())
    }

    fn maybe_json() -> impl Strategy<Value = Option<Value>> {
        prop::option::of(json())
    }

    fn participant() -> impl Strategy<Value = Participant> {
        (text(), text()).prop_map(|(user_id, display_name)| Participant {
            user_id,
            display_name,
        })
    }

    fn kind() -> impl Strategy<Value = MessageKind> {
        prop::sample::select(vec![
            MessageKind::Chat,
            MessageKind::Joined,
            MessageKind::Left,
            MessageKind::Matched,
            MessageKind::RoomEnded,
        ])
    }

    fn room_status() -> impl Strategy<Value = RoomStatus> {
        prop::sample::select(vec![
            RoomStatus::Waiting,
            RoomStatus::Active,
            RoomStatus::Ended,
        ])
    }

    fn chat_message() -> impl Strategy<Value = ChatMessage> {
        (
            any::<u64>(),
            text(),
            text(),
            kind(),
            prop::option::of(participant()),
            text(),
            text(),
            any::<u64>(),
        )
            .prop_map(
                |(seq, message_id, room_id, kind, sender, text, timestamp, timestamp_ms)| {
                    ChatMessage {
                        seq,
                        message_id,
                        room_id,
                        kind,
                        sender,
                        text,
                        timestamp,
                        timestamp_ms,
                    }
                },
            )
    }

    fn member_info() -> impl Strategy<Value = MemberInfo> {
        (text(), text(), text(), any::<bool>()).prop_map(
            |(user_id, display_name, joined_at, is_you)| MemberInfo {
                user_id,
                display_name,
                joined_at,
                is_you,
            },
        )
    }

    fn messages() -> impl Strategy<Value = Vec<ChatMessage>> {
        prop::collection::vec(chat_message(), 0..4)
    }

    fn wait_result() -> impl Strategy<Value = WaitForMessageResult> {
        (
            messages(),
            any::<bool>(),
            any::<bool>(),
            prop::option::of(text()),
            prop::option::of(room_status()),
            prop::option::of(any::<u32>()),
            any::<u64>(),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
            prop::option::of(text()),
        )
            .prop_map(
                |(
                    messages,
                    timeout,
                    has_more,
                    room_id,
                    room_status,
                    queue_position,
                    last_seq,
                    message,
                    sender,
                    timestamp,
                    message_id,
                )| WaitForMessageResult {
                    messages,
                    timeout,
                    has_more,
                    room_id,
                    room_status,
                    queue_position,
                    last_seq,
                    message,
                    sender,
                    timestamp,
                    message_id,
                },
            )
    }

    fn history_result() -> impl Strategy<Value = HistoryResult> {
        (text(), messages(), any::<bool>(), any::<u64>()).prop_map(
            |(room_id, messages, has_more, latest_seq)| HistoryResult {
                room_id,
                messages,
                has_more,
                latest_seq,
            },
        )
    }

    fn room_result() -> impl Strategy<Value = RoomResult> {
        (
            text(),
            room_status(),
            any::<u32>(),
            prop::collection::vec(member_info(), 0..4),
            any::<u64>(),
            text(),
            participant(),
            room_access(),
        )
            .prop_map(
                |(room_id, status, capacity, members, latest_seq, created_at, you, access)| {
                    RoomResult {
                        room_id,
                        status,
                        capacity,
                        members,
                        latest_seq,
                        created_at,
                        you,
                        access,
                    }
                },
            )
    }

    fn room_access() -> impl Strategy<Value = RoomAccess> {
        (
            any::<[bool; 4]>(),
            prop::option::of(participant()),
            prop_oneof![
                Just(HistoryVisibility::Full),
                Just(HistoryVisibility::SinceJoin)
            ],
        )
            .prop_map(|(flags, owner, history)| RoomAccess {
                private: flags[0],
                history,
                owner,
                members_can_invite: flags[1],
                you_can_invite: flags[2],
                you_own: flags[3],
            })
    }

    fn send_result() -> impl Strategy<Value = SendMessageResult> {
        (
            any::<bool>(),
            text(),
            any::<u64>(),
            text(),
            any::<u32>(),
            room_status(),
        )
            .prop_map(
                |(success, message_id, seq, timestamp, members_present, room_status)| {
                    SendMessageResult {
                        success,
                        message_id,
                        seq,
                        timestamp,
                        members_present,
                        room_status,
                    }
                },
            )
    }

    fn implementation() -> impl Strategy<Value = Implementation> {
        (text(), text(), prop::option::of(text())).prop_map(|(name, version, title)| {
            Implementation {
                name,
                version,
                title,
            }
        })
    }

    fn capabilities() -> impl Strategy<Value = HostCapabilities> {
        prop::collection::vec(maybe_json(), 10).prop_map(|mut c| {
            let mut next = || c.pop().flatten();
            HostCapabilities {
                open_links: next(),
                download_file: next(),
                server_tools: next(),
                server_resources: next(),
                logging: next(),
                sandbox: next(),
                update_model_context: next(),
                message: next(),
                sampling: next(),
                experimental: next(),
            }
        })
    }

    fn theme() -> impl Strategy<Value = Theme> {
        prop::sample::select(vec![Theme::Light, Theme::Dark, Theme::Other])
    }

    fn display_mode() -> impl Strategy<Value = DisplayMode> {
        prop::sample::select(vec![
            DisplayMode::Inline,
            DisplayMode::Fullscreen,
            DisplayMode::Pip,
            DisplayMode::Other,
        ])
    }

    fn styles() -> impl Strategy<Value = HostStyles> {
        (
            prop::option::of(prop::collection::vec((text(), json()), 0..3)),
            prop::option::of(prop::option::of(text())),
        )
            .prop_map(|(variables, css)| HostStyles {
                variables: variables.map(|v| v.into_iter().collect()),
                css: css.map(|fonts| HostCss { fonts }),
            })
    }

    fn dimensions() -> impl Strategy<Value = ContainerDimensions> {
        prop::collection::vec(prop::option::of(number()), 4).prop_map(|d| ContainerDimensions {
            height: d[0],
            max_height: d[1],
            width: d[2],
            max_width: d[3],
        })
    }

    fn insets() -> impl Strategy<Value = SafeAreaInsets> {
        prop::collection::vec(number(), 4).prop_map(|d| SafeAreaInsets {
            top: d[0],
            right: d[1],
            bottom: d[2],
            left: d[3],
        })
    }

    fn host_context() -> impl Strategy<Value = HostContext> {
        (
            (
                maybe_json(),
                prop::option::of(theme()),
                prop::option::of(styles()),
                prop::option::of(display_mode()),
                prop::option::of(prop::collection::vec(display_mode(), 0..4)),
                prop::option::of(dimensions()),
            ),
            (
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                maybe_json(),
                prop::option::of(insets()),
            ),
            // Unknown keys only: a known one would be written twice.
            prop::collection::vec(("x-[a-z]{0,4}", json()), 0..3),
        )
            .prop_map(
                |(
                    (tool_info, theme, styles, display_mode, available_display_modes, dims),
                    (locale, time_zone, user_agent, platform, device_capabilities, insets),
                    extra,
                )| HostContext {
                    tool_info,
                    theme,
                    styles,
                    display_mode,
                    available_display_modes,
                    container_dimensions: dims,
                    locale,
                    time_zone,
                    user_agent,
                    platform,
                    device_capabilities,
                    safe_area_insets: insets,
                    extra: extra.into_iter().collect(),
                },
            )
    }

    fn initialize_result() -> impl Strategy<Value = InitializeResult> {
        (text(), implementation(), capabilities(), host_context()).prop_map(
            |(protocol_version, host_info, host_capabilities, host_context)| InitializeResult {
                protocol_version,
                host_info,
                host_capabilities,
                host_context,
            },
        )
    }

    fn content_block() -> impl Strategy<Value = ContentBlock> {
        prop_oneof![
            text().prop_map(|text| ContentBlock::Text { text }),
            (text(), text()).prop_map(|(data, mime_type)| ContentBlock::Image { data, mime_type }),
            text()
                .prop_map(|t| ContentBlock::Other(serde_json::json!({"type": "audio", "data": t}))),
        ]
    }

    fn tool_result() -> impl Strategy<Value = ToolResult> {
        (
            prop::collection::vec(content_block(), 0..3),
            maybe_json(),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(content, structured_content, is_error)| ToolResult {
                content,
                structured_content,
                is_error,
            })
    }

    fn rpc_error() -> impl Strategy<Value = RpcError> {
        (any::<i64>(), text(), maybe_json()).prop_map(|(code, message, data)| RpcError {
            code,
            message,
            data,
        })
    }

    fn request_id() -> impl Strategy<Value = RequestId> {
        prop_oneof![
            any::<i64>().prop_map(RequestId::Number),
            text().prop_map(RequestId::String),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn any_json_reads_without_panic_and_as_the_derives_do(v in json()) {
            agree::<MessageKind>(&v)?;
            agree::<RoomStatus>(&v)?;
            agree::<Participant>(&v)?;
            agree::<ChatMessage>(&v)?;
            agree::<MemberInfo>(&v)?;
            agree::<SendMessageResult>(&v)?;
            agree::<WaitForMessageResult>(&v)?;
            agree::<HistoryResult>(&v)?;
            agree::<RoomResult>(&v)?;
            agree::<LoadRoomResult>(&v)?;
            agree::<ErrorResult>(&v)?;
            agree::<RoomTarget>(&v)?;
            agree::<ProposeReplyParams>(&v)?;
            agree::<WaitForMessageParams>(&v)?;
            agree::<Implementation>(&v)?;
            agree::<Theme>(&v)?;
            agree::<DisplayMode>(&v)?;
            agree::<HostCapabilities>(&v)?;
            agree::<HostStyles>(&v)?;
            agree::<HostCss>(&v)?;
            agree::<ContainerDimensions>(&v)?;
            agree::<SafeAreaInsets>(&v)?;
            agree::<HostContext>(&v)?;
            agree::<InitializeResult>(&v)?;
            agree::<ContentBlock>(&v)?;
            agree::<ToolResult>(&v)?;
            agree::<RequestId>(&v)?;
            agree::<RpcError>(&v)?;
            Incoming::classify(&v);
        }

        #[test]
        fn chat_values_read_back_as_written(
            wait in wait_result(),
            history in history_result(),
            room in room_result(),
            sent in send_result(),
        ) {
            round_trip(&wait)?;
            round_trip(&history)?;
            round_trip(&room)?;
            round_trip(&sent)?;
            written_like_serde(&wait)?;
            written_like_serde(&history)?;
            written_like_serde(&room)?;
            written_like_serde(&sent)?;
        }

        #[test]
        fn what_the_view_sends_is_written_like_serde(
            wait in wait_params(),
            history in history_params(),
            error in error_result(),
            selected in selected(),
            context in model_context(),
            (room_id, client_id, message) in (text(), text(), text()),
            target in (prop::option::of(text()), prop::option::of(text())),
        ) {
            written_like_serde(&wait)?;
            written_like_serde(&history)?;
            written_like_serde(&error)?;
            written_like_serde(&selected)?;
            written_like_serde(&context)?;
            written_like_serde(&SendMessageParams { room_id: room_id.clone(), message, client_id: client_id.clone(), idempotency_key: target.0.clone() })?;
            written_like_serde(&RoomClientParams { room_id: room_id.clone(), client_id })?;
            written_like_serde(&ProposeReplyParams { text: room_id })?;
            written_like_serde(&RoomTarget { client_id: target.0, room_id: target.1 })?;
        }

        #[test]
        fn host_values_read_back_as_written(
            init in initialize_result(),
            result in tool_result(),
            error in rpc_error(),
            id in request_id(),
        ) {
            round_trip(&init)?;
            round_trip(&result)?;
            round_trip(&error)?;
            round_trip(&id)?;
        }
    }
}

//! The `message` of each result: the sentence a model reads first, which names the tools to call
//! next. It lives here, with the tools, so the engine states facts (who was matched, where, the
//! queue position) and knows no tool names. The older server's clients read some of these
//! sentences verbatim ("Successfully left the chat", "No message received within timeout
//! period"): they stay word for word.

use crate::engine::ChatError;
use mcp_chat_shared::chat::{
    EnterQueueResult, HistoryVisibility, InviteResult, JoinRoomResult, JoinStatus, LeaveResult,
    ModerationResult, QueueStatus, RoomAccess, RoomStatus, WaitForMessageResult,
};

pub fn entered_queue(mut r: EnterQueueResult) -> EnterQueueResult {
    r.message = match (r.status, &r.partner, &r.room_id) {
        (QueueStatus::Matched, Some(partner), Some(room_id)) => format!(
            "You are matched with {} in room {room_id}. Send with send_message; receive with \
             wait_for_message (call it again after every answer).",
            partner.display_name
        ),
        _ => format!(
            "Waiting for a partner (position {}). Call enter_queue again with your client_id, or \
             wait_for_message with your client_id, to wait for the match; do so within {} s or \
             your place expires.",
            r.position.unwrap_or(1),
            r.poll_within_seconds.unwrap_or_default()
        ),
    };
    r
}

pub fn joined_room(mut r: JoinRoomResult) -> JoinRoomResult {
    let room_id = &r.room_id;
    let others = r.members.len().saturating_sub(1);
    r.message = match (r.status, &r.partner) {
        (JoinStatus::RoomCreated, _) => format!(
            "Room {room_id} created; you are its first member (capacity {}). Messages you send \
             now wait for whoever joins. Receive with wait_for_message.",
            r.capacity
        ),
        (JoinStatus::Joined, Some(p)) => format!(
            "Joined room {room_id} with {}. Send with send_message; receive with wait_for_message.",
            p.display_name
        ),
        (JoinStatus::Joined, None) => format!(
            "Joined room {room_id} ({others} other member{}).",
            if others == 1 { "" } else { "s" }
        ),
    };
    if let Some(access) = access_sentence(&r.access) {
        r.message = format!("{} {access}", r.message);
    }
    r
}

/// What a model must know of a private room: who owns it, what a newcomer reads, and what the
/// caller may do there. Nothing for a public room, whose sentences stay as they always were.
pub fn access_sentence(a: &RoomAccess) -> Option<String> {
    if !a.private {
        return None;
    }
    let mut s = String::from("The room is private: only an invitation lets anyone in.");
    if a.you_own {
        s.push_str(
            " You own it: create_invite to invite someone, remove_member to remove a member, \
             close_room to end it.",
        );
    } else {
        if let Some(owner) = &a.owner {
            s.push_str(&format!(" {} owns it.", owner.display_name));
        }
        if a.you_can_invite {
            s.push_str(" You may invite others with create_invite.");
        }
    }
    if a.history == HistoryVisibility::SinceJoin {
        s.push_str(" Newcomers read only what is said after they join.");
    }
    Some(s)
}

pub fn invited(mut r: InviteResult) -> InviteResult {
    let uses = match r.uses_left {
        1 => "one person".to_owned(),
        n => format!("{n} people"),
    };
    r.share_text = format!(
        "You are invited to the private room {} on MCP Chat. To join, call the tool join_room \
         with invite \"{}\" and a display_name of your choice. The invitation admits {uses} and \
         expires at {}.",
        r.room_id, r.invite, r.expires_at
    );
    if let Some(url) = &r.url {
        r.share_text = format!(
            "{} Without an MCP client, open this link in a browser and pick a name: {url}",
            r.share_text
        );
    }
    r.message = format!(
        "Invitation made: {} (admits {uses}, expires at {}). It is shown only this once. Hand \
         the person or agent you invite this line: {}",
        r.invite, r.expires_at, r.share_text
    );
    r
}

pub fn revoked(mut r: ModerationResult) -> ModerationResult {
    r.message = if r.success {
        "Invitation withdrawn: it admits nobody any more.".into()
    } else {
        "That invitation admits nobody already (used up, expired or withdrawn before).".into()
    };
    r
}

pub fn removed(mut r: ModerationResult) -> ModerationResult {
    r.message = match &r.removed {
        Some(p) => format!(
            "{} was removed from room {} and cannot come back.",
            p.display_name, r.room_id
        ),
        None => "That member had been removed already.".into(),
    };
    r
}

pub fn closed(mut r: ModerationResult) -> ModerationResult {
    r.message = format!(
        "Room {} is closed: nobody can send any more; members can still read its history.",
        r.room_id
    );
    r
}

/// `leave_queue`: `room_id` is the room the caller had been matched into, if it had been.
pub fn left_queue(mut r: LeaveResult) -> LeaveResult {
    r.message = match &r.room_id {
        Some(room_id) => {
            format!("You had already been matched into room {room_id}; use leave_chat to leave it.")
        }
        None => "You left the queue.".into(),
    };
    r
}

pub fn left_chat(mut r: LeaveResult) -> LeaveResult {
    r.message = "Successfully left the chat".into();
    r
}

/// The legacy single-message field, when no message fills it.
pub fn waited(mut r: WaitForMessageResult) -> WaitForMessageResult {
    if r.message.is_none() {
        r.message = Some(
            match (&r.room_id, r.room_status) {
                (None, _) => "Still waiting for a partner in the queue.",
                (Some(_), Some(RoomStatus::Ended)) => "The chat has ended.",
                (Some(_), _) => "No message received within timeout period",
            }
            .into(),
        );
    }
    r
}

/// A failure as the model reads it: the engine's account of it, then the call that gets the
/// client going again.
pub fn failure(e: &ChatError) -> String {
    let next = match e {
        ChatError::UnknownClient => "Call enter_queue or join_room to get a new one.",
        ChatError::NotAMember(_) => "Join it first with join_room.",
        ChatError::RoomEnded(_) => "Its history is still readable with get_history.",
        ChatError::NotQueued => "Call enter_queue to queue again.",
        ChatError::InviteRequired(_) => {
            "Ask its owner for an invitation, then call join_room with invite set to the code."
        }
        ChatError::InvalidInvite => "Ask whoever invited you for a new invitation.",
        ChatError::Removed(_) => "Stop calling tools on this room.",
        ChatError::RoomExists(_) => "Choose another room_id for your private room.",
        ChatError::TooManyRooms { .. } => "Leave one with leave_chat first.",
        ChatError::TooManyWaits { .. } => {
            "Let a wait_for_message or enter_queue call finish (each ends within its timeout) \
             before starting another."
        }
        _ => return e.to_string(),
    };
    format!("{e} {next}")
}

#[cfg(test)]
mod tests {
    use mcp_chat_shared::chat::{MemberInfo, Participant};

    use super::*;

    fn queued(status: QueueStatus) -> EnterQueueResult {
        EnterQueueResult {
            status,
            client_id: "c".into(),
            user_id: "u".into(),
            room_id: (status == QueueStatus::Matched).then(|| "pair-1".into()),
            partner: (status == QueueStatus::Matched).then(|| Participant {
                user_id: "u2".into(),
                display_name: "Sam".into(),
            }),
            position: Some(3),
            queue_length: Some(4),
            poll_within_seconds: Some(90),
            message: String::new(),
        }
    }

    fn member(name: &str) -> MemberInfo {
        MemberInfo {
            user_id: format!("u-{name}"),
            display_name: name.into(),
            joined_at: String::new(),
            is_you: false,
        }
    }

    fn joined(status: JoinStatus, partner: Option<&str>, members: &[&str]) -> JoinRoomResult {
        JoinRoomResult {
            status,
            room_id: "tea".into(),
            client_id: "c".into(),
            user_id: "u".into(),
            partner: partner.map(|name| Participant {
                user_id: format!("u-{name}"),
                display_name: name.into(),
            }),
            members: members.iter().map(|m| member(m)).collect(),
            capacity: 5,
            room_status: RoomStatus::Active,
            latest_seq: 0,
            access: RoomAccess {
                private: false,
                history: HistoryVisibility::Full,
                owner: None,
                members_can_invite: false,
                you_can_invite: false,
                you_own: false,
            },
            message: String::new(),
        }
    }

    fn waited_in(room_id: Option<&str>, status: Option<RoomStatus>) -> WaitForMessageResult {
        WaitForMessageResult {
            messages: Vec::new(),
            timeout: true,
            has_more: false,
            room_id: room_id.map(str::to_owned),
            room_status: status,
            queue_position: None,
            last_seq: 0,
            message: None,
            sender: None,
            timestamp: None,
            message_id: None,
        }
    }

    fn leave(room_id: Option<&str>) -> LeaveResult {
        LeaveResult {
            success: true,
            message: String::new(),
            room_id: room_id.map(str::to_owned),
            room_status: None,
        }
    }

    #[test]
    fn a_match_names_the_partner_the_room_and_the_tools_to_talk_with() {
        let m = entered_queue(queued(QueueStatus::Matched)).message;
        assert!(m.contains("matched with Sam in room pair-1"), "{m}");
        assert!(
            m.contains("send_message") && m.contains("wait_for_message"),
            "{m}"
        );
    }

    #[test]
    fn a_waiting_place_gives_its_position_and_how_soon_to_poll() {
        let m = entered_queue(queued(QueueStatus::Waiting)).message;
        assert!(m.contains("position 3") && m.contains("within 90 s"), "{m}");
        assert!(m.contains("enter_queue again"), "{m}");
    }

    #[test]
    fn a_join_says_what_happened_and_with_whom() {
        let created = joined_room(joined(JoinStatus::RoomCreated, None, &["Ada"])).message;
        assert!(
            created.contains("created") && created.contains("capacity 5"),
            "{created}"
        );
        let pair = joined_room(joined(JoinStatus::Joined, Some("Bo"), &["Ada", "Bo"])).message;
        assert!(
            pair.contains("with Bo") && pair.contains("send_message"),
            "{pair}"
        );
        let one = joined_room(joined(JoinStatus::Joined, None, &["Ada", "Bo"])).message;
        assert!(one.ends_with("(1 other member)."), "{one}");
        let two = joined_room(joined(JoinStatus::Joined, None, &["Ada", "Bo", "Cy"])).message;
        assert!(two.ends_with("(2 other members)."), "{two}");
    }

    #[test]
    fn leaving_the_queue_after_a_match_points_to_leave_chat() {
        let m = left_queue(leave(Some("pair-1"))).message;
        assert!(m.contains("room pair-1") && m.contains("leave_chat"), "{m}");
        assert_eq!(left_queue(leave(None)).message, "You left the queue.");
        // The older server's clients compare this one.
        assert_eq!(
            left_chat(leave(Some("tea"))).message,
            "Successfully left the chat"
        );
    }

    #[test]
    fn an_empty_wait_says_why_in_the_older_servers_words() {
        let text = |r: WaitForMessageResult| waited(r).message.unwrap();
        assert_eq!(
            text(waited_in(None, None)),
            "Still waiting for a partner in the queue."
        );
        assert_eq!(
            text(waited_in(Some("r"), Some(RoomStatus::Ended))),
            "The chat has ended."
        );
        assert_eq!(
            text(waited_in(Some("r"), Some(RoomStatus::Active))),
            "No message received within timeout period"
        );
        let mut with_message = waited_in(Some("r"), Some(RoomStatus::Active));
        with_message.message = Some("hello".into());
        assert_eq!(text(with_message), "hello");
    }

    #[test]
    fn a_private_room_tells_the_model_who_owns_it_and_what_it_may_do() {
        let mut access = joined(JoinStatus::Joined, None, &["Ada", "Bo"]).access;
        assert_eq!(
            access_sentence(&access),
            None,
            "public rooms read as before"
        );
        access.private = true;
        access.history = HistoryVisibility::SinceJoin;
        access.owner = Some(Participant {
            user_id: "u-Ada".into(),
            display_name: "Ada".into(),
        });
        let member = access_sentence(&access).unwrap();
        assert!(
            member.contains("private") && member.contains("Ada owns it"),
            "{member}"
        );
        assert!(member.contains("after they join"), "{member}");
        assert!(!member.contains("create_invite"), "{member}");
        access.you_own = true;
        access.you_can_invite = true;
        let owner = access_sentence(&access).unwrap();
        for tool in ["create_invite", "remove_member", "close_room"] {
            assert!(owner.contains(tool), "{owner}");
        }
        let mut r = joined(JoinStatus::Joined, None, &["Ada", "Bo"]);
        r.access = access;
        assert!(joined_room(r).message.ends_with(&owner));
    }

    #[test]
    fn an_invitation_comes_with_a_line_to_hand_on() {
        let r = invited(InviteResult {
            room_id: "den".into(),
            invite: "inv~den~00".into(),
            expires_at: "2026-12-08T10:00:00.000Z".into(),
            uses_left: 1,
            share_text: String::new(),
            url: None,
            message: String::new(),
        });
        assert!(r.share_text.contains("join_room") && r.share_text.contains("inv~den~00"));
        assert!(r.share_text.contains("one person") && r.share_text.contains("2026-12-08"));
        assert!(r.message.contains(&r.share_text));
        assert!(!r.share_text.contains("browser"));
        let linked = invited(InviteResult {
            url: Some("http://127.0.0.1:8000/chat#invite=inv~den~00".into()),
            ..r
        });
        assert!(
            linked
                .share_text
                .ends_with("pick a name: http://127.0.0.1:8000/chat#invite=inv~den~00")
        );
    }

    #[test]
    fn a_failure_ends_with_the_call_that_helps() {
        assert_eq!(
            failure(&ChatError::NotAMember("tea".into())),
            "You are not in this room (tea). Join it first with join_room."
        );
        assert!(
            failure(&ChatError::UnknownClient)
                .ends_with("enter_queue or join_room to get a new one.")
        );
        assert!(failure(&ChatError::TooManyRooms { limit: 3 }).ends_with("leave_chat first."));
        // Nothing to add: the engine's account alone.
        let full = ChatError::RoomFull {
            room_id: "tea".into(),
            capacity: 2,
        };
        assert_eq!(failure(&full), full.to_string());
    }
}

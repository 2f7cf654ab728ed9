//! The room as the View knows it, and the texts it hands to the host. Pure data and functions:
//! no DOM, no host, so every rule here is easy to test.
//!
//! Every text for the model writes members' names and messages through the shared
//! [`model_text`], as the server does, so a message can never pass for two.

use mcp_chat_shared::chat::{ChatMessage, MemberInfo, MessageKind, Participant, RoomStatus};
use mcp_chat_shared::json::object;
use mcp_chat_shared::model_text;
use serde_json::Value;

/// How many messages the list renders at most; older ones are a click away. Keeps a room of
/// 10,000 messages as cheap to show as one of 200.
pub const WINDOW: usize = 200;
/// Messages in the model's context summary.
pub const CONTEXT_MESSAGES: usize = 20;

#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    pub room_id: String,
    pub client_id: String,
    pub me: Option<Participant>,
    pub members: Vec<MemberInfo>,
    pub status: RoomStatus,
    pub capacity: u32,
    /// Ordered by `seq`, no duplicates.
    pub messages: Vec<ChatMessage>,
    /// Everything up to here came from the server's log in order (history or waits). The wait
    /// loop asks for what follows. Not simply the highest `seq` held: our own sent message is
    /// shown at once, possibly before an earlier message of someone else has arrived.
    pub cursor: u64,
}

impl Room {
    pub fn new(room_id: String, client_id: String) -> Room {
        Room {
            room_id,
            client_id,
            me: None,
            members: Vec::new(),
            status: RoomStatus::Waiting,
            capacity: 2,
            messages: Vec::new(),
            cursor: 0,
        }
    }

    /// The highest `seq` the View holds.
    pub fn last_seq(&self) -> u64 {
        self.messages.last().map_or(0, |m| m.seq)
    }

    /// Adds messages in `seq` order, ignoring ones already held (a wait answer and a send
    /// answer may carry the same message). Returns how many were new.
    pub fn merge(&mut self, incoming: impl IntoIterator<Item = ChatMessage>) -> usize {
        let mut added = 0;
        for message in incoming {
            match self.messages.binary_search_by_key(&message.seq, |m| m.seq) {
                Ok(_) => {}
                Err(at) => {
                    if message.kind == MessageKind::RoomEnded {
                        self.status = RoomStatus::Ended;
                    }
                    self.messages.insert(at, message);
                    added += 1;
                }
            }
        }
        added
    }

    pub fn is_mine(&self, message: &ChatMessage) -> bool {
        match (&self.me, &message.sender) {
            (Some(me), Some(sender)) => me.user_id == sender.user_id,
            _ => false,
        }
    }

    /// The `seq` of the oldest message shown with a window of `size`.
    pub fn window_start(&self, size: usize) -> usize {
        self.messages.len().saturating_sub(size)
    }

    pub fn by_seq(&self, seq: u64) -> Option<&ChatMessage> {
        self.messages
            .binary_search_by_key(&seq, |m| m.seq)
            .ok()
            .map(|i| &self.messages[i])
    }

    fn author(&self, message: &ChatMessage) -> String {
        let name = message
            .sender
            .as_ref()
            .map_or("system", |s| s.display_name.as_str());
        if self.is_mine(message) {
            format!("{name} (me)")
        } else {
            name.to_owned()
        }
    }

    /// The `ui/message` text quoting the selected messages with their authors, oldest first.
    pub fn quote(&self, seqs: &[u64]) -> String {
        let mut seqs = seqs.to_vec();
        sort(&mut seqs);
        let quoted: Vec<String> = seqs
            .iter()
            .filter_map(|s| self.by_seq(*s))
            .map(|m| quote_line(&self.author(m), &m.text))
            .collect();
        format!(
            "From the MCP Chat room \"{}\" (room_id {}, my client_id {}):\n{}",
            self.room_id,
            self.room_id,
            self.client_id,
            quoted.join("\n")
        )
    }

    /// The `ui/message` text asking the assistant to help answer one message.
    pub fn reply_request(&self, seq: u64) -> Option<String> {
        let m = self.by_seq(seq)?;
        Some(format!(
            "Help me reply to this message from {} in the MCP Chat room \"{}\". Propose a reply \
             with the View's propose_reply tool (it goes into my composer; I edit and send it), \
             or send it with send_message (room_id {}, my client_id {}):\n{}",
            model_text::inline(&self.author(m)),
            self.room_id,
            self.room_id,
            self.client_id,
            quote_line(&self.author(m), &m.text)
        ))
    }

    /// What the person selected, for the View's `get_selected_messages` tool: the quoted text the
    /// model reads, and the messages as data.
    pub fn selection(&self, seqs: &[u64]) -> (String, Value) {
        let mut seqs = seqs.to_vec();
        sort(&mut seqs);
        let picked: Vec<&ChatMessage> = seqs.iter().filter_map(|s| self.by_seq(*s)).collect();
        let text = if picked.is_empty() {
            "The person has not selected any message.".to_owned()
        } else {
            self.quote(&seqs)
        };
        let messages = picked
            .iter()
            .map(|m| {
                object(vec![
                    ("seq", Value::from(m.seq)),
                    ("author", Value::from(self.author(m))),
                    ("text", Value::from(m.text.as_str())),
                    ("timestamp", Value::from(m.timestamp.as_str())),
                ])
            })
            .collect();
        let structured = object(vec![
            ("room_id", Value::from(self.room_id.as_str())),
            ("messages", Value::Array(messages)),
        ]);
        (text, structured)
    }

    /// A compact transcript for `ui/update-model-context`.
    pub fn model_context(&self) -> (String, Value) {
        let names: Vec<String> = self.members.iter().map(MemberInfo::label).collect();
        let shown: Vec<String> = names.iter().map(|n| model_text::inline(n)).collect();
        let status = match self.status {
            RoomStatus::Waiting => "waiting for members",
            RoomStatus::Active => "active",
            RoomStatus::Ended => "ended",
        };
        let start = self.messages.len().saturating_sub(CONTEXT_MESSAGES);
        let lines: Vec<String> = self.messages[start..]
            .iter()
            .map(|m| match m.kind {
                MessageKind::Chat => model_text::message(m.seq, Some(&self.author(m)), &m.text),
                _ => model_text::message(m.seq, None, &m.text),
            })
            .collect();
        let text = format!(
            "The person has the MCP Chat room \"{}\" open ({status}; members: {}). Latest messages:\n{}",
            self.room_id,
            if shown.is_empty() {
                "—".to_owned()
            } else {
                shown.join(", ")
            },
            if lines.is_empty() {
                "(none yet)".to_owned()
            } else {
                lines.join("\n")
            }
        );
        let structured = object(vec![
            ("room_id", Value::from(self.room_id.as_str())),
            ("status", Value::from(self.status.as_str())),
            ("members", Value::from(names)),
            ("last_seq", Value::from(self.last_seq())),
        ]);
        (text, structured)
    }
}

/// Insertion sort: the selection comes from an ordered set, so this is one pass in practice,
/// and it is far smaller in the wasm than the standard library's sort.
fn sort(seqs: &mut [u64]) {
    for i in 1..seqs.len() {
        let mut j = i;
        while j > 0 && seqs[j - 1] > seqs[j] {
            seqs.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// `> Name: text`, each further line of the text `>   | …`.
fn quote_line(author: &str, text: &str) -> String {
    let mut out = String::from("> ");
    model_text::push_inline(&mut out, author);
    out.push_str(": ");
    model_text::push_text(&mut out, text, "> ");
    out
}

/// A piece of message text: plain, or a web address to open through the host.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment<'a> {
    Text(&'a str),
    Link(&'a str),
}

/// Splits `text` at web addresses (`http://` and `https://` only: no `javascript:`, `data:` or
/// other schemes ever become clickable). An address ends at an ASCII space or control character,
/// or a `<`, `>` or `"`; a closing punctuation mark at its end (`.`, `,`, `)`, …) is left to the
/// sentence, as people write it. Byte scans throughout: Unicode tables and substring search
/// would cost the wasm more than the rest of this together.
pub fn segments(text: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = find_link_start(rest) {
        let tail = &rest[start..];
        let bytes = tail.as_bytes();
        let mut end = bytes
            .iter()
            .position(|&b| b <= b' ' || b == 0x7f || matches!(b, b'<' | b'>' | b'"'))
            .unwrap_or(bytes.len());
        while end > 0
            && matches!(
                bytes[end - 1],
                b'.' | b',' | b';' | b':' | b'!' | b'?' | b')' | b']' | b'\''
            )
        {
            end -= 1;
        }
        let scheme = if bytes.starts_with(b"https://") { 8 } else { 7 };
        if end <= scheme {
            // A bare scheme: not an address. Keep it as text and look further.
            out.push(Segment::Text(&rest[..start + scheme]));
            rest = &rest[start + scheme..];
            continue;
        }
        if start > 0 {
            out.push(Segment::Text(&rest[..start]));
        }
        out.push(Segment::Link(&tail[..end]));
        rest = &tail[end..];
    }
    if !rest.is_empty() {
        out.push(Segment::Text(rest));
    }
    out
}

/// Where the next `http://` or `https://` starts. A byte scan: `str::find` with a string
/// pattern brings a whole substring-search algorithm into the wasm.
fn find_link_start(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| {
        let rest = &bytes[i..];
        rest.starts_with(b"http://") || rest.starts_with(b"https://")
    })
}

/// Where the room comes from: a tool's result or input names it and the identity to use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Target {
    pub client_id: Option<String>,
    pub room_id: Option<String>,
}

impl Target {
    /// Reads `client_id` / `room_id` from a tool's `structuredContent` or its arguments.
    pub fn from_value(value: &Value) -> Target {
        let text = |key: &str| {
            value
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Target {
            client_id: text("client_id"),
            room_id: text("room_id"),
        }
    }

    /// Fills what `self` lacks from `other`.
    pub fn or(self, other: Target) -> Target {
        Target {
            client_id: self.client_id.or(other.client_id),
            room_id: self.room_id.or(other.room_id),
        }
    }
}

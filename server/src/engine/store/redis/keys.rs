//! Every Redis key and channel this store uses, under one prefix.
//!
//! | key | type | holds |
//! | --- | --- | --- |
//! | `client:<client_id>` | hash | `user_id`, `display_name`, `created_ms`, `last_seen_ms` |
//! | `clients` | sorted set | client ids scored by `last_seen_ms` (idle listing, count) |
//! | `client-rooms:<client_id>` | set | the rooms the client is a member of |
//! | `room:<room_id>` | string | the room (JSON), compared whole by check-and-set commits |
//! | `log:<room_id>` | stream | the log: entry `<seq>-0`, field `m` = the message (JSON) |
//! | `rooms` | sorted set | room ids scored by `last_activity_ms` (idle listing, count) |
//! | `queue` | hash | `state` (JSON) and `version` |
//! | `commit:<id>` | string | short-lived marker: "this commit was applied" |
//! | `session:<id>` | string | an MCP session's `initialize` parameters (JSON) |
//!
//! Channels: `wake:room:<room_id>` and `wake:queue`, published after each commit.

#[derive(Debug, Clone)]
pub struct Keys {
    prefix: String,
}

/// What a wake-up channel is about.
#[derive(Debug, PartialEq, Eq)]
pub enum Channel<'a> {
    Room(&'a str),
    Queue,
}

impl Keys {
    pub fn new(prefix: &str) -> Keys {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    fn key(&self, parts: &[&str]) -> String {
        let mut key = self.prefix.clone();
        key.push_str(&parts.concat());
        key
    }

    pub fn client(&self, client_id: &str) -> String {
        self.key(&["client:", client_id])
    }

    pub fn clients(&self) -> String {
        self.key(&["clients"])
    }

    pub fn client_rooms(&self, client_id: &str) -> String {
        self.key(&["client-rooms:", client_id])
    }

    pub fn room(&self, room_id: &str) -> String {
        self.key(&["room:", room_id])
    }

    pub fn log(&self, room_id: &str) -> String {
        self.key(&["log:", room_id])
    }

    pub fn rooms(&self) -> String {
        self.key(&["rooms"])
    }

    pub fn queue(&self) -> String {
        self.key(&["queue"])
    }

    pub fn commit(&self, commit_id: &str) -> String {
        self.key(&["commit:", commit_id])
    }

    /// A rate bucket: its theoretical arrival time (GCRA), in milliseconds of Redis time.
    pub fn rate(&self, bucket: &str) -> String {
        self.key(&["rate:", bucket])
    }

    /// How far a member's waits in a room are confirmed delivered (`engine/answered.rs`).
    pub fn delivered(&self, room_id: &str, client_id: &str) -> String {
        self.key(&["delivered:", room_id, ":", client_id])
    }

    /// A record of [`crate::engine::store::Store::record_once`].
    pub fn remembered(&self, key: &str) -> String {
        self.key(&["remembered:", key])
    }

    pub fn session(&self, session_id: &str) -> String {
        self.key(&["session:", session_id])
    }

    pub fn room_channel(&self, room_id: &str) -> String {
        self.key(&["wake:room:", room_id])
    }

    pub fn queue_channel(&self) -> String {
        self.key(&["wake:queue"])
    }

    /// Matches every wake-up channel; the prefix holds no glob characters (see `config`).
    pub fn wake_pattern(&self) -> String {
        self.key(&["wake:*"])
    }

    pub fn parse_channel<'a>(&self, channel: &'a str) -> Option<Channel<'a>> {
        let rest = channel.strip_prefix(&self.prefix)?.strip_prefix("wake:")?;
        if rest == "queue" {
            return Some(Channel::Queue);
        }
        rest.strip_prefix("room:").map(Channel::Room)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_round_trip() {
        let k = Keys::new("p:");
        assert_eq!(k.room("r1"), "p:room:r1");
        assert_eq!(
            k.parse_channel(&k.room_channel("r.1")),
            Some(Channel::Room("r.1"))
        );
        assert_eq!(k.parse_channel(&k.queue_channel()), Some(Channel::Queue));
        assert_eq!(k.parse_channel("other:wake:queue"), None);
        assert_eq!(k.wake_pattern(), "p:wake:*");
    }
}

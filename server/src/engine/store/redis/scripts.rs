//! The Lua scripts behind every write. Redis runs a script atomically, so each commit is one
//! check-and-set: it applies only if what the caller read is still there, else it changes
//! nothing and the caller reads again and retries. The rule itself runs in Rust, between the
//! read and the script.
//!
//! Checks come before the first write in every script: Redis does not roll a script back when
//! it fails halfway.

use std::sync::LazyLock;

use redis::Script;

/// Commits a room transaction.
///
/// KEYS: 1 room, 2 log, 3 rooms index, 4 commit marker, then the `client-rooms` sets of the
/// members who joined (ARGV[6] of them) followed by those of the members who left.
/// ARGV: 1 the room as read (`''` = absent), 2 room limit when creating, 3 the new room,
/// 4 room id, 5 last activity (ms), 6 joined count, 7 key TTL (s), 8 marker TTL (s),
/// 9 wake channel, 10 wake payload, then `seq`, message pairs to append.
/// Returns 1 (committed), 0 (the room changed since it was read) or -1 (room limit reached).
pub static COMMIT_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
if current == '' then
  if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[2]) then return -1 end
  -- A log can outlive its room by a moment when both expire: never append to a stale one.
  redis.call('DEL', KEYS[2])
end
local ttl = ARGV[7]
for i = 11, #ARGV, 2 do
  redis.call('XADD', KEYS[2], ARGV[i] .. '-0', 'm', ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[2], ttl)
redis.call('SET', KEYS[1], ARGV[3], 'EX', ttl)
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[4])
redis.call('EXPIRE', KEYS[3], ttl)
local joined = tonumber(ARGV[6])
for i = 5, #KEYS do
  if i - 4 <= joined then
    redis.call('SADD', KEYS[i], ARGV[4])
    redis.call('EXPIRE', KEYS[i], ttl)
  else
    redis.call('SREM', KEYS[i], ARGV[4])
  end
end
redis.call('SET', KEYS[4], '1', 'EX', ARGV[8])
if #ARGV >= 11 then redis.call('PUBLISH', ARGV[9], ARGV[10]) end
return 1
"#,
    )
});

/// Removes a room, its log and its members' links to it.
///
/// KEYS: 1 room, 2 log, 3 rooms index, then the `client-rooms` sets of its members.
/// ARGV: 1 the room as read (`''` = absent), 2 room id, 3 wake channel, 4 wake payload.
/// Returns 1 (removed) or 0 (the room changed since it was read).
pub static REMOVE_ROOM: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local current = redis.call('GET', KEYS[1])
if current == false then current = '' end
if current ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
for i = 4, #KEYS do
  redis.call('SREM', KEYS[i], ARGV[2])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
"#,
    )
});

/// Commits a queue transaction.
///
/// KEYS: 1 queue, 2 commit marker.
/// ARGV: 1 the version read, 2 the new queue, 3 key TTL (s), 4 marker TTL (s), 5 wake channel,
/// 6 wake payload.
/// Returns the new version, or -1 (the queue changed since it was read).
pub static COMMIT_QUEUE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return -1 end
version = version + 1
redis.call('HSET', KEYS[1], 'state', ARGV[2], 'version', version)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return version
"#,
    )
});

/// Adds a client unless the limit is reached. Idempotent, so safe to send again.
///
/// KEYS: 1 client, 2 clients index.
/// ARGV: 1 client limit, 2 client id, 3 user id, 4 display name, 5 created (ms),
/// 6 last seen (ms), 7 key TTL (s).
/// Returns 1 (added) or 0 (limit reached).
pub static INSERT_CLIENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'user_id', ARGV[3], 'display_name', ARGV[4],
  'created_ms', ARGV[5], 'last_seen_ms', ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[7])
return 1
"#,
    )
});

/// Records a client's activity (never moving `last_seen_ms` back) and extends its keys' lives,
/// and those of the rooms it is in (room state and log).
///
/// KEYS: 1 client, 2 clients index, 3 client's rooms.
/// ARGV: 1 client id, 2 now (ms), 3 key TTL (s), 4 room key prefix, 5 log key prefix.
pub static TOUCH_CLIENT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local last = redis.call('HGET', KEYS[1], 'last_seen_ms')
if not last then return 0 end
if tonumber(ARGV[2]) > tonumber(last) then
  redis.call('HSET', KEYS[1], 'last_seen_ms', ARGV[2])
  redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
redis.call('EXPIRE', KEYS[3], ARGV[3])
for _, room in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('EXPIRE', ARGV[4] .. room, ARGV[3])
  redis.call('EXPIRE', ARGV[5] .. room, ARGV[3])
end
return 1
"#,
    )
});

/// Takes a token from a rate bucket, as the generic cell rate algorithm does: the key holds the
/// theoretical arrival time (TAT) of the next request; a request is allowed when it is no more
/// than `burst` intervals ahead of now. Redis's own clock, so instances with skewed clocks agree.
///
/// KEYS: 1 bucket. ARGV: 1 interval (ms), 2 burst.
/// Returns 0 (taken) or the milliseconds until a token is back.
pub static TAKE_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local next_tat = tat + interval
local allowed_at = next_tat - interval * tonumber(ARGV[2])
if allowed_at > now then return math.max(1, math.ceil(allowed_at - now)) end
redis.call('SET', KEYS[1], string.format('%.3f', next_tat), 'PX', math.ceil(next_tat - now) + 1000)
return 0
"#,
    )
});

/// Gives a token back: moves the bucket's TAT one interval earlier, never before now.
///
/// KEYS: 1 bucket. ARGV: 1 interval (ms).
pub static GIVE_BACK_TOKEN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local tat = redis.call('GET', KEYS[1])
if tat == false then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local earlier = math.max(now, tonumber(tat) - tonumber(ARGV[1]))
redis.call('SET', KEYS[1], string.format('%.3f', earlier), 'KEEPTTL')
return 1
"#,
    )
});

/// `Store::record_once`: records a value unless one is there; SET's NX and GET together would need
/// Redis 7, and the store supports 6.2.
///
/// KEYS: 1 the record. ARGV: 1 the value, 2 its lifetime (ms).
/// Returns the value already recorded, or nothing when this one was.
pub static REMEMBER: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local earlier = redis.call('GET', KEYS[1])
if earlier then return earlier end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
"#,
    )
});

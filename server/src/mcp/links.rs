//! The links tools hand out to the browser page (`/chat`, `http/page.rs`). The code rides in
//! the fragment, which browsers never send to a server: it reaches neither access logs nor
//! proxies, only the page, which reads it and removes it from the address bar.

use mcp_chat_shared::chat::RoomResult;

use super::text;

/// An invitation as a link: the person opens it, picks a name, and is in.
pub fn invite_url(page: &str, invite: &str) -> String {
    format!("{page}/chat#invite={invite}")
}

/// A member's place as a link (`open_chat` for a client that shows no View).
pub fn member_url(page: &str, code: &str) -> String {
    format!("{page}/chat#link={code}")
}

/// `open_chat`'s text when it answers with a link.
pub fn opened_in_browser(url: &str, room: &RoomResult) -> String {
    format!(
        "Open this link in a browser to watch and type in room {} as yourself: {url} — it works \
         once, within 10 minutes; call open_chat again for a new one. {}",
        room.room_id,
        text::room(room)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_ride_in_the_fragment() {
        assert_eq!(
            invite_url("https://chat.example", "inv~r~00"),
            "https://chat.example/chat#invite=inv~r~00"
        );
        assert_eq!(
            member_url("http://127.0.0.1:8000", "lnk_1"),
            "http://127.0.0.1:8000/chat#link=lnk_1"
        );
    }
}

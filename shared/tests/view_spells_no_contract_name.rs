//! The View calls tools and builds arguments only through the contract (`mcp_chat_shared::tools`
//! and the `chat` types' `to_json`): no tool name or argument name is spelt out as a string in
//! its source, where a rename in `shared/` would compile and break at run time.

use std::path::Path;

use mcp_chat_shared::chat::{
    EnterQueueParams, GetHistoryParams, JoinRoomParams, LeaveQueueParams, ProposeReplyParams,
    RoomClientParams, SendMessageParams, WaitForMessageParams,
};
use mcp_chat_shared::tools::{SERVER_TOOLS, VIEW_TOOLS};

fn contract_names() -> Vec<&'static str> {
    let fields = [
        EnterQueueParams::FIELDS,
        LeaveQueueParams::FIELDS,
        JoinRoomParams::FIELDS,
        SendMessageParams::FIELDS,
        WaitForMessageParams::FIELDS,
        RoomClientParams::FIELDS,
        GetHistoryParams::FIELDS,
        ProposeReplyParams::FIELDS,
    ];
    let mut names: Vec<&str> = SERVER_TOOLS.iter().chain(VIEW_TOOLS).copied().collect();
    names.extend(fields.into_iter().flatten());
    names
}

/// Where `quoted` appears in `source`, except as a CSS class in a template (`class="text"`),
/// which names no field.
fn spelt_out(source: &str, quoted: &str) -> Vec<usize> {
    source
        .match_indices(quoted)
        .filter(|(at, _)| !source[..*at].ends_with("class="))
        .map(|(at, _)| source[..at].lines().count())
        .collect()
}

#[test]
fn the_view_source_spells_no_tool_or_argument_name() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../view/src");
    let mut found = Vec::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        files += 1;
        let source = std::fs::read_to_string(&path).unwrap();
        for name in contract_names() {
            for line in spelt_out(&source, &format!("\"{name}\"")) {
                found.push(format!("{}:{line}: \"{name}\"", path.display()));
            }
        }
    }
    assert!(
        files >= 5,
        "the View's sources are not at {}",
        dir.display()
    );
    assert!(
        found.is_empty(),
        "spelt out in the View:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_check_finds_a_name_spelt_out() {
    let source = "let a = object(vec![(\"room_id\", v)]);\n<p class=\"text\">";
    assert_eq!(spelt_out(source, "\"room_id\""), [1]);
    assert!(spelt_out(source, "\"text\"").is_empty());
    assert!(contract_names().contains(&"wait_for_message"));
    assert!(contract_names().contains(&"after_seq"));
}

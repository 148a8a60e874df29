//! Ephemeral room events: `typing`, `receipt`.

use std::time::Duration;

use ruma::api::client::receipt::create_receipt;
use ruma::api::client::typing::create_typing_event;
use ruma::events::receipt::ReceiptThread;

use super::Operation;
use super::args::user_or_self;
use super::glue::{OpContext, TypedOp, parse_id};

/// Typing timeout used when `typing` is true and no `timeout` is given, in milliseconds.
const DEFAULT_TYPING_TIMEOUT_MS: u64 = 30_000;

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "typing",
            "Tell the room whether the user is typing",
            ("PUT", "/_matrix/client/v3/rooms/{roomId}/typing/{userId}"),
            build_typing,
        ),
        TypedOp::new(
            "receipt",
            "Send a receipt for an event of a room",
            (
                "POST",
                "/_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId}"
            ),
            build_receipt,
        ),
    ]
}

/// Arguments of `typing`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingArgs {
    /// The room ID.
    pub room_id: String,
    /// The typing user; defaults to the acting user.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Whether the user is typing.
    pub typing: bool,
    /// How long the user is marked as typing, in milliseconds (30000 if `typing` is true and
    /// no timeout is given).
    #[serde(default)]
    pub timeout: Option<u64>,
}

fn build_typing(
    a: TypingArgs,
    ctx: &OpContext<'_>,
) -> Result<create_typing_event::v3::Request, String> {
    let state = if a.typing {
        let ms = a.timeout.unwrap_or(DEFAULT_TYPING_TIMEOUT_MS);
        create_typing_event::v3::Typing::Yes(create_typing_event::v3::TypingInfo::new(
            Duration::from_millis(ms),
        ))
    } else {
        create_typing_event::v3::Typing::No
    };
    Ok(create_typing_event::v3::Request::new(
        user_or_self(a.user_id, ctx)?,
        parse_id("room_id", &a.room_id)?,
        state,
    ))
}

/// Arguments of `receipt`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptArgs {
    /// The room ID.
    pub room_id: String,
    /// The event the receipt is for.
    pub event_id: String,
    /// The receipt type: `m.read` (default), `m.read.private` or `m.fully_read`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub receipt_type: Option<create_receipt::v3::ReceiptType>,
    /// The thread the receipt is for: `main` or a thread root event ID; unthreaded if absent.
    #[serde(default)]
    pub thread_id: Option<String>,
}

fn build_receipt(a: ReceiptArgs, _: &OpContext<'_>) -> Result<create_receipt::v3::Request, String> {
    let mut req = create_receipt::v3::Request::new(
        parse_id("room_id", &a.room_id)?,
        a.receipt_type
            .unwrap_or(create_receipt::v3::ReceiptType::Read),
        parse_id("event_id", &a.event_id)?,
    );
    req.thread = ReceiptThread::try_from(a.thread_id.as_deref())
        .map_err(|e| format!("`thread_id` is not valid: {e}"))?;
    Ok(req)
}

"""Hand-written facts of MSC4186 (Simplified Sliding Sync), for scripts/gen-spec-oracle.py.

The MSC is prose with Markdown tables, not OpenAPI, so its facts are transcribed here by hand.
Source: matrix-org/matrix-spec-proposals, proposals/4186-simplified-sliding-sync.md as merged
(the generator records the commit that last changed that file). Every entry cites the MSC
section it comes from; "Required" is the table's Required column unless a comment says why not.

Notes on reading the MSC:
- `range` in `SyncListConfig` is "No" (optional): "If this field is missing, the room list is not
  limited by range". Only `timeline_limit` and `required_state` are required, in both
  `SyncListConfig` and `RoomSubscription`.
- `timeout` (request body, "Top-level"): "If omitted (or set to 0) the response is always returned
  immediately, even if there are no changes. Ignored when no `pos` is set." So omitting it does
  NOT long-poll, unlike /v3/sync's default of 0 which means the same but is a query parameter.
- Everything is in the request body; there are no URL parameters ("Changelog" item 8: "Move URL
  parameters to the request body", so `set_presence` is a body field too).
- `RoomResult`: "All fields in this section may be omitted", which overrides the table's "Yes"
  for `stripped_state` (it is also only sent for invite/knock/rejected rooms), so every RoomResult
  field is optional.
- `name` and `avatar` are written `[string | null]` but mean "a string, or null when removed"
  (the example response has `"name": "Alice and Bob"`), so their type is "string|null".
- `required_state` in RoomResult is `[Event|StateStub]`: `type` and `state_key` are required in
  both (a state event has both; StateStub requires both), `content` only in Event, so optional.
  `timeline` is `[Event]`; the MSC does not define Event's fields, so none are listed.
"""

# The commit of proposals/4186-simplified-sliding-sync.md these facts were transcribed from; the
# generator warns when the MSC text has changed since.
TRANSCRIBED_FROM = "ffc54bc05c827edfb9791cfd7c154837c8487204"

METHOD = "POST"
# "API": "The endpoint is a `POST` request with a JSON body to `/_matrix/client/v4/sync`."
PATH = "/_matrix/client/v4/sync"
# "Unstable prefix": the unstable endpoint, same body.
UNSTABLE_PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync"
OPERATION_ID = "msc4186SlidingSync"  # the MSC names none; this one is ours

# (pointer, required, type)
REQUEST_FIELDS = [
    # "Request Body" / "Top-level"
    ("/conn_id", False, "string"),
    ("/pos", False, "string"),
    ("/timeout", False, "integer"),
    ("/set_presence", False, "string"),
    ("/lists", False, "object"),
    ("/lists/*", False, "object"),
    ("/room_subscriptions", False, "object"),
    ("/room_subscriptions/*", False, "object"),
    ("/extensions", False, "object"),
    ("/extensions/*", False, "object"),
    # "`SyncListConfig`"
    ("/lists/*/timeline_limit", True, "integer"),
    ("/lists/*/required_state", True, "object"),
    ("/lists/*/range", False, "array"),
    ("/lists/*/range/*", False, "integer"),
    ("/lists/*/filters", False, "object"),
    # "`RequiredStateRequest`" (under lists)
    ("/lists/*/required_state/include", False, "array"),
    ("/lists/*/required_state/include/*", False, "object"),
    ("/lists/*/required_state/exclude", False, "array"),
    ("/lists/*/required_state/exclude/*", False, "object"),
    ("/lists/*/required_state/lazy_members", False, "boolean"),
    # "`RequiredStateElement`"
    ("/lists/*/required_state/include/*/type", False, "string"),
    ("/lists/*/required_state/include/*/state_key", False, "string"),
    ("/lists/*/required_state/exclude/*/type", False, "string"),
    ("/lists/*/required_state/exclude/*/state_key", False, "string"),
    # "`SlidingRoomFilter`"
    ("/lists/*/filters/is_dm", False, "boolean"),
    ("/lists/*/filters/spaces", False, "array"),
    ("/lists/*/filters/spaces/*", False, "string"),
    ("/lists/*/filters/is_encrypted", False, "boolean"),
    ("/lists/*/filters/is_invited", False, "boolean"),
    ("/lists/*/filters/room_types", False, "array"),
    ("/lists/*/filters/room_types/*", False, "string|null"),
    ("/lists/*/filters/not_room_types", False, "array"),
    ("/lists/*/filters/not_room_types/*", False, "string|null"),
    ("/lists/*/filters/tags", False, "array"),
    ("/lists/*/filters/tags/*", False, "string"),
    ("/lists/*/filters/not_tags", False, "array"),
    ("/lists/*/filters/not_tags/*", False, "string"),
    # "`RoomSubscription`"
    ("/room_subscriptions/*/timeline_limit", True, "integer"),
    ("/room_subscriptions/*/required_state", True, "object"),
    # "`RequiredStateRequest`" / "`RequiredStateElement`" (under room_subscriptions)
    ("/room_subscriptions/*/required_state/include", False, "array"),
    ("/room_subscriptions/*/required_state/include/*", False, "object"),
    ("/room_subscriptions/*/required_state/exclude", False, "array"),
    ("/room_subscriptions/*/required_state/exclude/*", False, "object"),
    ("/room_subscriptions/*/required_state/lazy_members", False, "boolean"),
    ("/room_subscriptions/*/required_state/include/*/type", False, "string"),
    ("/room_subscriptions/*/required_state/include/*/state_key", False, "string"),
    ("/room_subscriptions/*/required_state/exclude/*/type", False, "string"),
    ("/room_subscriptions/*/required_state/exclude/*/state_key", False, "string"),
]

RESPONSE_200_FIELDS = [
    # "Response Body" / "Top-level"
    ("/pos", True, "string"),
    ("/lists", False, "object"),
    ("/lists/*", False, "object"),
    ("/rooms", False, "object"),
    ("/rooms/*", False, "object"),
    ("/extensions", False, "object"),
    ("/extensions/*", False, "object"),
    # "`SyncListResult`"
    ("/lists/*/count", True, "integer"),
    # "`RoomResult`" / "Common fields" ("All fields in this section may be omitted")
    ("/rooms/*/bump_stamp", False, "integer"),
    ("/rooms/*/membership", False, "string"),
    ("/rooms/*/lists", False, "array"),
    ("/rooms/*/lists/*", False, "string"),
    # "`RoomResult`" / "Currently or previously joined rooms"
    ("/rooms/*/name", False, "string|null"),
    ("/rooms/*/avatar", False, "string|null"),
    ("/rooms/*/heroes", False, "array"),
    ("/rooms/*/heroes/*", False, "object"),
    ("/rooms/*/is_dm", False, "boolean"),
    ("/rooms/*/initial", False, "boolean"),
    ("/rooms/*/expanded_timeline", False, "boolean"),
    ("/rooms/*/required_state", False, "array"),
    ("/rooms/*/required_state/*", False, "object"),
    ("/rooms/*/timeline", False, "array"),
    ("/rooms/*/timeline/*", False, "object"),
    ("/rooms/*/prev_batch", False, "string"),
    ("/rooms/*/limited", False, "boolean"),
    ("/rooms/*/num_live", False, "integer"),
    ("/rooms/*/joined_count", False, "integer"),
    ("/rooms/*/invited_count", False, "integer"),
    # "`RoomResult`" / "Invite/knock/rejections" (table says Yes; "may be omitted" wins, see above)
    ("/rooms/*/stripped_state", False, "array"),
    ("/rooms/*/stripped_state/*", False, "object"),
    # "`Hero` type"
    ("/rooms/*/heroes/*/user_id", True, "string"),
    ("/rooms/*/heroes/*/displayname", False, "string"),
    ("/rooms/*/heroes/*/avatar_url", False, "string"),
    # "`StateStub` type" (required in StateStub and in every state Event) and "required_state"
    # row: "The presence or absence of `content` field can be used to differentiate"
    ("/rooms/*/required_state/*/type", True, "string"),
    ("/rooms/*/required_state/*/state_key", True, "string"),
    ("/rooms/*/required_state/*/content", False, "object"),
]

# status -> error codes the MSC names for it
RESPONSE_ERRCODES = {
    # "Connections": expired connection -> "a 400 HTTP status and an error code of
    # `M_UNKNOWN_POS`"; a `pos` not issued to the user and device -> `M_UNKNOWN_POS`.
    # "Request Body" / "Top-level": unknown `set_presence`, more than 100 lists, more than 100
    # room subscriptions -> "a 400 error response with code `M_INVALID_PARAM`".
    "400": ["M_INVALID_PARAM", "M_UNKNOWN_POS"],
}

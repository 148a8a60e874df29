//! Message delivery accounting: each tracked message carries a marker in its content; the
//! first time another user's sync shows it, its delivery latency (from the start of the send)
//! is recorded, and, when a long-poll was already waiting, its wake-up latency (from the
//! send's response). What is never seen is checked against the room history afterwards.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::metrics::Recorder;

/// The content key carrying the marker.
pub const MARKER_KEY: &str = "org.mxharness.load.marker";

/// A message in flight.
#[derive(Debug, Clone)]
pub struct Sent {
    /// Room id.
    pub room: String,
    /// Account position of the sender.
    pub sender: usize,
    /// When the send started.
    pub started: Instant,
    /// When the send's response arrived.
    pub done: Option<Instant>,
    /// Event id from the response.
    pub event_id: Option<String>,
    /// Seen by another user's sync.
    pub seen: bool,
}

#[derive(Default)]
struct Inner {
    next: u64,
    messages: HashMap<String, Sent>,
    /// Rooms with a syncing reader: room id -> account positions of its syncing members.
    readers: BTreeMap<String, BTreeSet<usize>>,
}

/// Shared by all users.
#[derive(Default)]
pub struct Tracker {
    inner: Mutex<Inner>,
}

/// End-of-run tallies before the history check.
#[derive(Debug, Default, Clone)]
pub struct Outstanding {
    /// Tracked messages accepted by the server.
    pub sent: u64,
    /// Seen by a sync.
    pub delivered: u64,
    /// Accepted but not seen: (room, event id, sender position).
    pub unseen: Vec<(String, String, usize)>,
}

impl Tracker {
    /// Declare that `account` syncs and is a member of `room`.
    pub fn add_reader(&self, room: &str, account: usize) {
        if let Ok(mut i) = self.inner.lock() {
            i.readers
                .entry(room.to_owned())
                .or_default()
                .insert(account);
        }
    }

    /// Start tracking a message from `sender` to `room`; `None` when nobody else in the room
    /// syncs (its delivery could not be observed). Returns the marker to put in the content.
    pub fn begin(&self, room: &str, sender: usize, prefix: &str) -> Option<String> {
        let mut i = self.inner.lock().ok()?;
        let observed = i
            .readers
            .get(room)
            .is_some_and(|r| r.iter().any(|a| *a != sender));
        if !observed {
            return None;
        }
        i.next += 1;
        let marker = format!("{prefix}-{}", i.next);
        i.messages.insert(
            marker.clone(),
            Sent {
                room: room.to_owned(),
                sender,
                started: Instant::now(),
                done: None,
                event_id: None,
                seen: false,
            },
        );
        Some(marker)
    }

    /// The send finished: with the event id when the server accepted it, else forget it.
    pub fn finish(&self, marker: &str, event_id: Option<String>) {
        if let Ok(mut i) = self.inner.lock() {
            match event_id {
                Some(id) => {
                    if let Some(m) = i.messages.get_mut(marker) {
                        m.done = Some(Instant::now());
                        m.event_id = Some(id);
                    }
                }
                None => {
                    i.messages.remove(marker);
                }
            }
        }
    }

    /// Look through a sync response's timelines (`/sync` or sliding sync) as `reader`;
    /// `poll_started` is when the request was sent (for the wake-up latency).
    pub fn observe(&self, body: &Value, reader: usize, poll_started: Instant, recorder: &Recorder) {
        let now = Instant::now();
        let markers = markers_in(body);
        if markers.is_empty() {
            return;
        }
        let Ok(mut i) = self.inner.lock() else {
            return;
        };
        for marker in markers {
            let Some(m) = i.messages.get_mut(&marker) else {
                continue;
            };
            if m.seen || m.sender == reader {
                continue;
            }
            m.seen = true;
            recorder.delivery(now.saturating_duration_since(m.started));
            if let Some(done) = m.done
                && poll_started <= done
            {
                recorder.wakeup(now.saturating_duration_since(done));
            }
        }
    }

    /// Tallies at the end of the attack.
    pub fn outstanding(&self) -> Outstanding {
        let Ok(i) = self.inner.lock() else {
            return Outstanding::default();
        };
        let mut out = Outstanding::default();
        let mut unseen: Vec<(String, String, usize)> = Vec::new();
        for m in i.messages.values() {
            let Some(id) = &m.event_id else { continue };
            out.sent += 1;
            if m.seen {
                out.delivered += 1;
            } else {
                unseen.push((m.room.clone(), id.clone(), m.sender));
            }
        }
        unseen.sort();
        out.unseen = unseen;
        out
    }

    /// A syncing member of `room` other than `sender`, if any.
    pub fn reader_other_than(&self, room: &str, sender: usize) -> Option<usize> {
        let i = self.inner.lock().ok()?;
        i.readers.get(room)?.iter().copied().find(|a| *a != sender)
    }
}

/// Markers in the timelines of a `/sync` (`rooms.join.*.timeline.events`) or sliding-sync
/// (`rooms.*.timeline`) response.
pub fn markers_in(body: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut scan = |events: &Value| {
        if let Some(events) = events.as_array() {
            for e in events {
                if let Some(m) = e
                    .pointer("/content")
                    .and_then(|c| c.get(MARKER_KEY))
                    .and_then(Value::as_str)
                {
                    out.push(m.to_owned());
                }
            }
        }
    };
    if let Some(rooms) = body.pointer("/rooms/join").and_then(Value::as_object) {
        for room in rooms.values() {
            scan(room.pointer("/timeline/events").unwrap_or(&Value::Null));
        }
    } else if let Some(rooms) = body.get("rooms").and_then(Value::as_object) {
        for room in rooms.values() {
            let t = room.get("timeline").unwrap_or(&Value::Null);
            scan(t.get("events").unwrap_or(t));
        }
    }
    out
}

/// How long the history check waits at most.
pub const HISTORY_CHECK_BUDGET: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_message_counts_once_and_never_for_its_sender() {
        let t = Tracker::default();
        let r = Recorder::new();
        assert!(t.begin("!a", 0, "m").is_none(), "no reader yet");
        t.add_reader("!a", 0);
        assert!(
            t.begin("!a", 0, "m").is_none(),
            "the sender is the only reader"
        );
        t.add_reader("!a", 1);
        let start = Instant::now();
        let marker = t.begin("!a", 0, "m").unwrap();
        t.finish(&marker, Some("$e".into()));
        let body = json!({"rooms": {"join": {"!a": {"timeline": {"events": [
            {"content": {MARKER_KEY: marker}}
        ]}}}}});
        t.observe(&body, 0, start, &r);
        assert_eq!(
            t.outstanding().delivered,
            0,
            "the sender's own sync does not count"
        );
        t.observe(&body, 1, start, &r);
        t.observe(&body, 1, start, &r);
        let o = t.outstanding();
        assert_eq!((o.sent, o.delivered), (1, 1));
        let s = r.snapshot(Duration::from_secs(1));
        assert_eq!(s.delivery.count, 1);
        assert_eq!(s.wakeup.count, 1);
    }

    #[test]
    fn sliding_sync_timelines_are_scanned() {
        let body = json!({"rooms": {"!a": {"timeline": [{"content": {MARKER_KEY: "x-1"}}]}}});
        assert_eq!(markers_in(&body), vec!["x-1".to_owned()]);
    }
}

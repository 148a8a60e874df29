//! The load run's own measurements: exact HdrHistograms (microseconds) per named request and
//! for delivery and sync wake-up latency, plus per-second series for the charts. Every
//! figure in the report, and every threshold, comes from here (not from Goose's aggregates),
//! so long-polls stay out of the all-request figures and shards merge exactly.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer as _, V2Serializer};

use crate::results::load::{LatencyFigures, Model, RequestFigures, SecondPoint};

/// Highest value a histogram holds: one hour in microseconds.
const MAX_US: u64 = 3_600_000_000;

/// A new latency histogram (1 µs .. 1 h, 3 significant digits).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_US, 3).expect("constant bounds are valid")
}

/// Serialise a histogram (V2, base64).
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    match V2Serializer::new().serialize(h, &mut bytes) {
        Ok(_) => base64::engine::general_purpose::STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

/// Read back a histogram written by [`encode_histogram`].
pub fn decode_histogram(text: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("invalid base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("invalid histogram: {e:?}"))
}

/// Percentiles of a histogram in milliseconds.
pub fn figures(h: &Histogram<u64>) -> LatencyFigures {
    if h.is_empty() {
        return LatencyFigures::default();
    }
    let ms = |us: u64| us as f64 / 1000.0;
    LatencyFigures {
        count: h.len(),
        p50_ms: ms(h.value_at_quantile(0.50)),
        p95_ms: ms(h.value_at_quantile(0.95)),
        p99_ms: ms(h.value_at_quantile(0.99)),
        max_ms: ms(h.max()),
        mean_ms: h.mean().round() / 1000.0,
    }
}

fn record(h: &mut Histogram<u64>, d: Duration) {
    let us = u64::try_from(d.as_micros())
        .unwrap_or(MAX_US)
        .clamp(1, MAX_US);
    let _ = h.record(us);
}

/// One named request's tallies.
#[derive(Clone)]
pub struct RequestStats {
    /// Endpoint template.
    pub endpoint: String,
    /// Long-poll (kept out of the all-request figures).
    pub long_poll: bool,
    /// Latencies.
    pub hist: Histogram<u64>,
    /// Failed requests.
    pub errors: u64,
    /// By status (0: no response).
    pub statuses: BTreeMap<u16, u64>,
    /// The load model of the samples (`None` before the first).
    pub model: Option<Model>,
}

#[derive(Default)]
struct Second {
    requests: u64,
    errors: u64,
    hist: Option<Histogram<u64>>,
    delivery: Option<Histogram<u64>>,
    users: u64,
}

struct Inner {
    requests: BTreeMap<String, RequestStats>,
    all: Histogram<u64>,
    delivery: Histogram<u64>,
    wakeup: Histogram<u64>,
    federation: Histogram<u64>,
    seconds: Vec<Second>,
}

/// Shared by every simulated user; cheap to lock once per request.
pub struct Recorder {
    base: Instant,
    /// Nanoseconds from `base` to the start of the attack.
    offset_ns: AtomicU64,
    inner: Mutex<Inner>,
    /// Requests recorded so far, long-polls apart (for progress lines: the same count as the
    /// summary's "all requests").
    pub total: AtomicU64,
    /// Of which failed.
    pub failed: AtomicU64,
    /// Long-polls recorded so far.
    pub long_polls: AtomicU64,
    /// Users currently running a transaction loop.
    pub active_users: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder whose clock starts now.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            offset_ns: AtomicU64::new(0),
            inner: Mutex::new(Inner {
                requests: BTreeMap::new(),
                all: new_histogram(),
                delivery: new_histogram(),
                wakeup: new_histogram(),
                federation: new_histogram(),
                seconds: Vec::new(),
            }),
            total: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            long_polls: AtomicU64::new(0),
            active_users: AtomicU64::new(0),
        }
    }

    /// Restart the clock (when the measured attack begins).
    pub fn restart_clock(&self) {
        let ns = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.offset_ns.store(ns, Ordering::Relaxed);
        self.total.store(0, Ordering::Relaxed);
        self.failed.store(0, Ordering::Relaxed);
        self.long_polls.store(0, Ordering::Relaxed);
    }

    fn second_index(&self) -> usize {
        let now = u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let since = now.saturating_sub(self.offset_ns.load(Ordering::Relaxed));
        usize::try_from(since / 1_000_000_000)
            .unwrap_or(usize::MAX)
            .min(24 * 3600)
    }

    /// Record one closed-loop request (`took`: from its start).
    pub fn request(
        &self,
        name: &str,
        endpoint: &str,
        long_poll: bool,
        took: Duration,
        status: Option<u16>,
        ok: bool,
    ) {
        let model = Model::Closed;
        self.sample(name, endpoint, long_poll, (model, took), status, ok);
    }

    /// Record one request of an open-model arrival (`took`: from the intended start when it
    /// was the arrival's first request, else from its own start).
    pub fn open_request(
        &self,
        name: &str,
        endpoint: &str,
        took: Duration,
        status: Option<u16>,
        ok: bool,
    ) {
        self.sample(name, endpoint, false, (Model::Open, took), status, ok);
    }

    fn sample(
        &self,
        name: &str,
        endpoint: &str,
        long_poll: bool,
        (model, took): (Model, Duration),
        status: Option<u16>,
        ok: bool,
    ) {
        if long_poll {
            self.long_polls.fetch_add(1, Ordering::Relaxed);
        } else {
            self.total.fetch_add(1, Ordering::Relaxed);
            if !ok {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        let sec = self.second_index();
        let users = self.active_users.load(Ordering::Relaxed);
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        if !inner.requests.contains_key(name) {
            inner.requests.insert(
                name.to_owned(),
                RequestStats {
                    endpoint: endpoint.to_owned(),
                    long_poll,
                    hist: new_histogram(),
                    errors: 0,
                    statuses: BTreeMap::new(),
                    model: None,
                },
            );
        }
        let Some(stats) = inner.requests.get_mut(name) else {
            return;
        };
        stats.model = Some(stats.model.map_or(model, |m| m.join(model)));
        record(&mut stats.hist, took);
        if !ok {
            stats.errors += 1;
        }
        *stats.statuses.entry(status.unwrap_or(0)).or_insert(0) += 1;
        if long_poll {
            return;
        }
        record(&mut inner.all, took);
        let second = second_mut(&mut inner.seconds, sec);
        second.requests += 1;
        if !ok {
            second.errors += 1;
        }
        second.users = second.users.max(users);
        record(second.hist.get_or_insert_with(new_histogram), took);
    }

    /// Record a message delivery (send start → seen by another user's sync).
    pub fn delivery(&self, took: Duration) {
        let sec = self.second_index();
        if let Ok(mut inner) = self.inner.lock() {
            record(&mut inner.delivery, took);
            let second = second_mut(&mut inner.seconds, sec);
            record(second.delivery.get_or_insert_with(new_histogram), took);
        }
    }

    /// Record a sync wake-up (send response → waiting long-poll returned with it).
    pub fn wakeup(&self, took: Duration) {
        if let Ok(mut inner) = self.inner.lock() {
            record(&mut inner.wakeup, took);
        }
    }

    /// Record a federated delivery (send on hs1 → seen on hs2).
    pub fn federation(&self, took: Duration) {
        if let Ok(mut inner) = self.inner.lock() {
            record(&mut inner.federation, took);
        }
    }

    /// Everything measured so far.
    pub fn snapshot(&self, duration: Duration) -> Snapshot {
        let Ok(inner) = self.inner.lock() else {
            return Snapshot::default();
        };
        let secs = duration.as_secs_f64().max(0.001);
        let mut requests = Vec::new();
        let mut histograms = BTreeMap::new();
        let mut all_errors = 0;
        let mut all_statuses: BTreeMap<u16, u64> = BTreeMap::new();
        let mut all_model: Option<Model> = None;
        for (name, s) in &inner.requests {
            requests.push(request_figures(name, s, secs));
            histograms.insert(format!("request:{name}"), encode_histogram(&s.hist));
            if !s.long_poll {
                all_model = join_models(all_model, s.model);
                all_errors += s.errors;
                for (k, v) in &s.statuses {
                    *all_statuses.entry(*k).or_insert(0) += v;
                }
            }
        }
        let all = RequestFigures {
            name: "all".into(),
            endpoint: "all requests except long-polls".into(),
            long_poll: false,
            model: all_model.unwrap_or_default(),
            latency: figures(&inner.all),
            errors: all_errors,
            error_rate_pct: pct(all_errors, inner.all.len()),
            rps: inner.all.len() as f64 / secs,
            statuses: all_statuses,
        };
        histograms.insert("all".into(), encode_histogram(&inner.all));
        histograms.insert("delivery".into(), encode_histogram(&inner.delivery));
        histograms.insert("sync_wakeup".into(), encode_histogram(&inner.wakeup));
        if !inner.federation.is_empty() {
            histograms.insert("federation".into(), encode_histogram(&inner.federation));
        }
        let series = inner
            .seconds
            .iter()
            .enumerate()
            .map(|(t, s)| {
                let f = s.hist.as_ref().map(figures).unwrap_or_default();
                SecondPoint {
                    t: t as u64,
                    requests: s.requests,
                    errors: s.errors,
                    p50_ms: f.p50_ms,
                    p95_ms: f.p95_ms,
                    p99_ms: f.p99_ms,
                    delivery_p95_ms: s.delivery.as_ref().map(figures).unwrap_or_default().p95_ms,
                    users: s.users,
                }
            })
            .collect();
        Snapshot {
            all,
            requests,
            delivery: figures(&inner.delivery),
            wakeup: figures(&inner.wakeup),
            federation: figures(&inner.federation),
            series,
            histograms,
        }
    }
}

fn second_mut(seconds: &mut Vec<Second>, i: usize) -> &mut Second {
    if seconds.len() <= i {
        seconds.resize_with(i + 1, Second::default);
    }
    &mut seconds[i]
}

/// The model of figures joining samples of `a` and `b` (`None`: no samples).
pub fn join_models(a: Option<Model>, b: Option<Model>) -> Option<Model> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.join(b)),
        (a, b) => a.or(b),
    }
}

/// Error rate in percent.
pub fn pct(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        (part as f64 * 100.0 / whole as f64 * 1000.0).round() / 1000.0
    }
}

/// Figures of one named request over `secs` seconds.
pub fn request_figures(name: &str, s: &RequestStats, secs: f64) -> RequestFigures {
    RequestFigures {
        name: name.to_owned(),
        endpoint: s.endpoint.clone(),
        long_poll: s.long_poll,
        model: s.model.unwrap_or_default(),
        latency: figures(&s.hist),
        errors: s.errors,
        error_rate_pct: pct(s.errors, s.hist.len()),
        rps: (s.hist.len() as f64 / secs * 1000.0).round() / 1000.0,
        statuses: s.statuses.clone(),
    }
}

/// What [`Recorder::snapshot`] returns.
#[derive(Debug, Default)]
pub struct Snapshot {
    /// All non-long-poll requests.
    pub all: RequestFigures,
    /// Per named request.
    pub requests: Vec<RequestFigures>,
    /// Delivery latency.
    pub delivery: LatencyFigures,
    /// Sync wake-up latency.
    pub wakeup: LatencyFigures,
    /// Federated delivery latency.
    pub federation: LatencyFigures,
    /// Per second.
    pub series: Vec<SecondPoint>,
    /// Serialised histograms.
    pub histograms: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_what_the_summary_counts() {
        let r = Recorder::new();
        r.request(
            "setup",
            "POST /x",
            false,
            Duration::from_millis(1),
            Some(200),
            true,
        );
        r.restart_clock();
        r.request(
            "send",
            "PUT /send",
            false,
            Duration::from_millis(2),
            Some(200),
            true,
        );
        r.request(
            "send",
            "PUT /send",
            false,
            Duration::from_millis(2),
            Some(500),
            false,
        );
        r.request(
            "sync (long-poll)",
            "GET /sync",
            true,
            Duration::from_secs(1),
            Some(200),
            true,
        );
        assert_eq!(
            r.total.load(Ordering::Relaxed),
            2,
            "long-polls and setup apart"
        );
        assert_eq!(r.failed.load(Ordering::Relaxed), 1);
        assert_eq!(r.long_polls.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = new_histogram();
        for v in [1u64, 10, 100, 1000, 123_456] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back, h);
        assert!(decode_histogram("not base64!").is_err());
    }

    #[test]
    fn long_polls_stay_out_of_the_all_request_figures() {
        let r = Recorder::new();
        r.request(
            "send",
            "PUT /x",
            false,
            Duration::from_millis(5),
            Some(200),
            true,
        );
        r.request(
            "sync (long-poll)",
            "GET /sync",
            true,
            Duration::from_secs(10),
            Some(200),
            true,
        );
        let s = r.snapshot(Duration::from_secs(1));
        assert_eq!(s.all.latency.count, 1);
        assert!(s.all.latency.max_ms < 6.0, "{:?}", s.all.latency);
        assert_eq!(s.requests.len(), 2);
        assert_eq!(s.all.model, Model::Closed);
    }

    #[test]
    fn every_row_says_which_model_produced_it() {
        let r = Recorder::new();
        let ms = Duration::from_millis;
        r.request("typing", "PUT /t", false, ms(5), Some(200), true);
        r.open_request("send", "PUT /s", ms(5), Some(200), true);
        r.open_request("receipt", "POST /r", ms(5), Some(200), true);
        r.request("receipt", "POST /r", false, ms(5), Some(200), true);
        r.request(
            "sync (long-poll)",
            "GET /sync",
            true,
            ms(5),
            Some(200),
            true,
        );
        let s = r.snapshot(Duration::from_secs(1));
        let model = |name: &str| s.requests.iter().find(|q| q.name == name).map(|q| q.model);
        assert_eq!(model("typing"), Some(Model::Closed));
        assert_eq!(model("send"), Some(Model::Open));
        assert_eq!(model("receipt"), Some(Model::Mixed));
        assert_eq!(s.all.model, Model::Mixed);
        let open = Recorder::new();
        open.open_request("send", "PUT /s", ms(5), Some(200), true);
        open.request(
            "sync (long-poll)",
            "GET /sync",
            true,
            ms(5),
            Some(200),
            true,
        );
        assert_eq!(
            open.snapshot(Duration::from_secs(1)).all.model,
            Model::Open,
            "long-polls are not in all"
        );
    }
}

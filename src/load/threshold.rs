//! Threshold rules (`p95 < 250ms for send`, `error-rate < 1%`, `lost <= 0`): parsing, and
//! judging them against a [`LoadReport`].

use std::fmt;

use crate::results::load::{LatencyFigures, LoadReport};

/// What a rule measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A percentile (0-100).
    Percentile(f64),
    /// Largest sample.
    Max,
    /// Mean.
    Mean,
    /// Failed requests in percent.
    ErrorRate,
    /// Requests per second.
    Rps,
    /// Lost messages (count).
    Lost,
    /// Open-model arrivals dropped: a count, or (`pct`) a share of those scheduled.
    Dropped {
        /// The limit is a percentage.
        pct: bool,
    },
}

/// Comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl Op {
    fn holds(self, observed: f64, limit: f64) -> bool {
        match self {
            Self::Lt => observed < limit,
            Self::Le => observed <= limit,
            Self::Gt => observed > limit,
            Self::Ge => observed >= limit,
        }
    }

    /// Whether a larger observed value is worse (upper bounds).
    pub fn lower_is_better(self) -> bool {
        matches!(self, Self::Lt | Self::Le)
    }
}

/// A parsed rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// As written.
    pub text: String,
    /// What is measured.
    pub metric: Metric,
    /// How it is compared.
    pub op: Op,
    /// The limit, in ms for latencies, percent for error rates, plain numbers otherwise.
    pub limit: f64,
    /// A request name, `delivery`, `sync_wakeup` or `federation`; `None`: all requests.
    pub subject: Option<String>,
}

/// Names of the requests the personas send (threshold subjects).
pub const REQUEST_NAMES: &[&str] = &[
    "send",
    "send (image)",
    "typing",
    "receipt",
    "read_marker",
    "messages",
    "sync",
    "sync (initial)",
    "sync (long-poll)",
    "sliding_sync (initial)",
    "sliding_sync (long-poll)",
    "join",
    "leave",
    "upload",
    "federation send",
    "federation sync (initial)",
    "federation sync (long-poll)",
];

/// Subjects that are not request names.
pub const DERIVED: &[&str] = &["delivery", "sync_wakeup", "federation"];

/// The verdict on one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    /// Observed value, `None` when there were no samples.
    pub observed: Option<f64>,
    /// Whether the rule held.
    pub passed: bool,
    /// One line for people: `observed 312.4ms, limit < 250ms`.
    pub message: String,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Parse `METRIC OP VALUE [for SUBJECT]`.
pub fn parse(text: &str) -> Result<Rule, String> {
    let trimmed = text.trim();
    let (head, subject) = match trimmed.split_once(" for ") {
        Some((h, s)) => (h.trim(), Some(s.trim().to_owned())),
        None => (trimmed, None),
    };
    let op_at = head
        .find(['<', '>'])
        .ok_or_else(|| "expected an operator: <, <=, > or >=".to_owned())?;
    let metric_text = head[..op_at].trim();
    let rest = &head[op_at..];
    let (op, value_text) = if let Some(v) = rest.strip_prefix("<=") {
        (Op::Le, v)
    } else if let Some(v) = rest.strip_prefix(">=") {
        (Op::Ge, v)
    } else if let Some(v) = rest.strip_prefix('<') {
        (Op::Lt, v)
    } else if let Some(v) = rest.strip_prefix('>') {
        (Op::Gt, v)
    } else {
        return Err("expected an operator: <, <=, > or >=".into());
    };
    let value_text = value_text.trim();
    let metric = parse_metric(metric_text)?;
    let limit = match metric {
        Metric::Percentile(_) | Metric::Max | Metric::Mean => parse_ms(value_text)?,
        Metric::ErrorRate => value_text
            .strip_suffix('%')
            .ok_or_else(|| "an error rate is a percentage, e.g. 1%".to_owned())?
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("invalid percentage {value_text:?}"))?,
        Metric::Rps | Metric::Lost => value_text
            .parse::<f64>()
            .map_err(|_| format!("invalid number {value_text:?}"))?,
        Metric::Dropped { .. } => match value_text.strip_suffix('%') {
            Some(v) => v
                .trim()
                .parse::<f64>()
                .map_err(|_| format!("invalid percentage {value_text:?}"))?,
            None => value_text
                .parse::<f64>()
                .map_err(|_| format!("invalid number {value_text:?}"))?,
        },
    };
    let metric = match metric {
        Metric::Dropped { .. } => Metric::Dropped {
            pct: value_text.ends_with('%'),
        },
        m => m,
    };
    if matches!(metric, Metric::Lost)
        && subject
            .as_deref()
            .is_some_and(|s| s != "delivery" && s != "federation")
    {
        return Err("`lost` applies to `delivery` or `federation`".into());
    }
    if subject.as_deref() == Some("") {
        return Err("nothing after `for`".into());
    }
    Ok(Rule {
        text: trimmed.to_owned(),
        metric,
        op,
        limit,
        subject,
    })
}

fn parse_metric(s: &str) -> Result<Metric, String> {
    match s {
        "max" => Ok(Metric::Max),
        "avg" | "mean" => Ok(Metric::Mean),
        "error-rate" => Ok(Metric::ErrorRate),
        "rps" => Ok(Metric::Rps),
        "lost" => Ok(Metric::Lost),
        "dropped" => Ok(Metric::Dropped { pct: false }),
        p if p.starts_with('p') => {
            let n: f64 = p[1..]
                .parse()
                .map_err(|_| format!("invalid percentile {p:?}"))?;
            if n > 0.0 && n <= 100.0 {
                Ok(Metric::Percentile(n))
            } else {
                Err(format!("percentile {p:?} is outside p0..p100"))
            }
        }
        other => Err(format!(
            "unknown metric {other:?}: use pNN, max, avg, error-rate, rps, lost or dropped"
        )),
    }
}

/// `250ms`, `1.5s`, `800us`, or a bare number of milliseconds.
fn parse_ms(s: &str) -> Result<f64, String> {
    let (num, factor) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (s, 1.0)
    };
    num.trim()
        .parse::<f64>()
        .map(|v| v * factor)
        .map_err(|_| format!("invalid duration {s:?}: use e.g. 250ms or 1.5s"))
}

fn pick(l: &LatencyFigures, metric: Metric, hist: Option<&hdrhistogram::Histogram<u64>>) -> f64 {
    match metric {
        Metric::Percentile(p) => match hist {
            Some(h) => h.value_at_quantile(p / 100.0) as f64 / 1000.0,
            None if p <= 50.0 => l.p50_ms,
            None if p <= 95.0 => l.p95_ms,
            None => l.p99_ms,
        },
        Metric::Max => l.max_ms,
        Metric::Mean => l.mean_ms,
        _ => 0.0,
    }
}

impl Rule {
    /// Judge the rule against a report.
    pub fn judge(&self, report: &LoadReport) -> Verdict {
        let observed = self.observe(report);
        let unit = match self.metric {
            Metric::Percentile(_) | Metric::Max | Metric::Mean => "ms",
            Metric::ErrorRate => "%",
            Metric::Rps => " req/s",
            Metric::Lost => " messages",
            Metric::Dropped { pct: true } => "%",
            Metric::Dropped { pct: false } => " arrivals",
        };
        let op = match self.op {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
        };
        match observed {
            Some(v) => {
                let passed = self.op.holds(v, self.limit);
                Verdict {
                    observed: Some(v),
                    passed,
                    message: format!(
                        "observed {}{unit}, limit {op} {}{unit}",
                        round(v),
                        round(self.limit)
                    ),
                }
            }
            None => Verdict {
                observed: None,
                passed: false,
                message: format!(
                    "no samples for {}",
                    self.subject.as_deref().unwrap_or("all requests")
                ),
            },
        }
    }

    /// The observed value, `None` without samples.
    pub fn observe(&self, report: &LoadReport) -> Option<f64> {
        let hist_key = match self.subject.as_deref() {
            None => "all".to_owned(),
            Some(s) if DERIVED.contains(&s) => s.to_owned(),
            Some(s) => format!("request:{s}"),
        };
        let hist = report
            .histograms
            .get(&hist_key)
            .and_then(|b| super::metrics::decode_histogram(b).ok());
        match (self.metric, self.subject.as_deref()) {
            (Metric::Dropped { pct }, subject) => dropped(report, subject, pct),
            (Metric::Lost, Some("federation")) => report.federation.as_ref().map(|f| f.lost as f64),
            (Metric::Lost, _) => (report.delivery.sent > 0).then_some(report.delivery.lost as f64),
            (m, Some("delivery")) => (report.delivery.latency.count > 0)
                .then(|| pick(&report.delivery.latency, m, hist.as_ref())),
            (m, Some("sync_wakeup")) => {
                (report.sync_wakeup.count > 0).then(|| pick(&report.sync_wakeup, m, hist.as_ref()))
            }
            (m, Some("federation")) => report
                .federation
                .as_ref()
                .filter(|f| f.latency.count > 0)
                .map(|f| pick(&f.latency, m, hist.as_ref())),
            (m, subject) => {
                let figures = match subject {
                    None => Some(&report.all),
                    Some(name) => report.requests.iter().find(|r| r.name == name),
                }?;
                if figures.latency.count == 0 {
                    return None;
                }
                Some(match m {
                    Metric::ErrorRate => figures.error_rate_pct,
                    Metric::Rps => figures.rps,
                    other => pick(&figures.latency, other, hist.as_ref()),
                })
            }
        }
    }
}

/// Dropped arrivals of every open-model rate (`subject`: those of a persona or an action).
fn dropped(report: &LoadReport, subject: Option<&str>, pct: bool) -> Option<f64> {
    let rows: Vec<_> = report
        .arrivals
        .iter()
        .filter(|a| subject.is_none_or(|s| a.persona == s || a.action.as_deref() == Some(s)))
        .collect();
    let scheduled: u64 = rows.iter().map(|a| a.scheduled).sum();
    let dropped: u64 = rows.iter().map(|a| a.dropped).sum();
    if rows.is_empty() || scheduled == 0 {
        return None;
    }
    Some(if pct {
        super::metrics::pct(dropped, scheduled)
    } else {
        dropped as f64
    })
}

fn round(v: f64) -> String {
    let r = (v * 100.0).round() / 100.0;
    format!("{r}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let r = parse("p95 < 250ms for send").unwrap();
        assert_eq!(r.metric, Metric::Percentile(95.0));
        assert_eq!(r.op, Op::Lt);
        assert!((r.limit - 250.0).abs() < f64::EPSILON);
        assert_eq!(r.subject.as_deref(), Some("send"));
        assert_eq!(parse("error-rate<1%").unwrap().limit, 1.0);
        assert_eq!(parse("p99.9 <= 1.5s").unwrap().limit, 1500.0);
        assert_eq!(parse("rps >= 20").unwrap().op, Op::Ge);
        assert_eq!(
            parse("lost <= 0 for delivery").unwrap().metric,
            Metric::Lost
        );
    }

    #[test]
    fn rejects_nonsense_with_a_reason() {
        assert!(parse("p95 250ms").unwrap_err().contains("operator"));
        assert!(parse("p101 < 1s").unwrap_err().contains("outside"));
        assert!(parse("error-rate < 1").unwrap_err().contains("percentage"));
        assert!(parse("speed < 1").unwrap_err().contains("unknown metric"));
        assert!(parse("lost < 1 for send").unwrap_err().contains("delivery"));
        assert!(parse("dropped < many").unwrap_err().contains("number"));
    }

    #[test]
    fn dropped_counts_or_shares_the_open_model_arrivals() {
        use crate::results::load::ArrivalFigures;
        let row = |persona: &str, action: Option<&str>, scheduled, dropped| ArrivalFigures {
            persona: persona.into(),
            action: action.map(str::to_owned),
            scheduled,
            started: scheduled - dropped,
            dropped,
            ..ArrivalFigures::default()
        };
        let mut report: LoadReport =
            serde_json::from_str(include_str!("../../fixtures/load/smoke-report.json"))
                .map(|r: crate::results::RunReport| r.load.expect("a load section"))
                .expect("the fixture");
        let count = parse("dropped <= 0").unwrap();
        assert_eq!(count.metric, Metric::Dropped { pct: false });
        assert!(!count.judge(&report).passed, "no arrivals: no samples");
        report.arrivals = vec![
            row("writer", Some("send"), 100, 3),
            row("writer", Some("typing"), 50, 0),
            row("joiner", None, 50, 1),
        ];
        assert_eq!(count.observe(&report), Some(4.0));
        assert!(!count.judge(&report).passed);
        let share = parse("dropped < 1% for writer").unwrap();
        assert_eq!(share.metric, Metric::Dropped { pct: true });
        assert_eq!(share.observe(&report), Some(2.0));
        assert!(!share.judge(&report).passed);
        assert_eq!(
            parse("dropped <= 0 for typing").unwrap().observe(&report),
            Some(0.0)
        );
        assert!(
            parse("dropped < 5 for joiner")
                .unwrap()
                .judge(&report)
                .passed
        );
    }
}

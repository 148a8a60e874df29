//! `junit.xml`: one `<testsuite>` per area, one `<testcase>` per scenario, for CI
//! systems. Failures carry the failed checks and the HTTP transcript as their text;
//! target information goes into each suite's `<system-out>` (the `junit-report` crate
//! has no `<properties>`), and each scenario's level and basis into its `<system-out>`
//! and failure text. A SHOULD/MAY failure the run's `--fail-on` does not gate is rendered
//! as skipped ("recommendation not met (SHOULD): ..."), so CI stays green unless asked; an
//! unsupported operation at a gating level is a failure of type `unsupported`.
//!
//! The output depends only on the [`RunReport`]: timestamps come from
//! `run.started_at`, never from the clock.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use junit_report::{
    Duration, OffsetDateTime, ReportBuilder, TestCase, TestCaseBuilder, TestSuite, TestSuiteBuilder,
};
use time::{Date, Month, PrimitiveDateTime, Time, UtcOffset};

use super::ReportError;
use crate::results::{
    CheckFailure, Exchange, ExpectationKind, FailOn, Failure, Outcome, RunReport, ScenarioResult,
};

/// Renders the JUnit XML document, indented for humans.
pub fn render_junit(report: &RunReport) -> Result<String, ReportError> {
    let timestamp =
        parse_rfc3339(&report.run.started_at).map_err(|reason| ReportError::Timestamp {
            value: report.run.started_at.clone(),
            reason,
        })?;
    let suite_out = sanitize_cdata(&target_text(report));

    let mut by_area: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for scenario in &report.scenarios {
        by_area.entry(&scenario.area).or_default().push(scenario);
    }

    let mut builder = ReportBuilder::new();
    for (area, mut scenarios) in by_area {
        scenarios.sort_by(|a, b| a.id.cmp(&b.id));
        builder.add_testsuite(testsuite(
            area,
            &scenarios,
            timestamp,
            &suite_out,
            report.summary.fail_on,
        ));
    }

    let mut out = Vec::new();
    builder
        .build()
        .write_xml(&mut out)
        .map_err(|e| ReportError::Xml(e.to_string()))?;
    let xml = String::from_utf8(out).map_err(|e| ReportError::Xml(e.to_string()))?;
    Ok(indent_xml(&xml))
}

fn testsuite(
    area: &str,
    scenarios: &[&ScenarioResult],
    timestamp: OffsetDateTime,
    system_out: &str,
    fail_on: FailOn,
) -> TestSuite {
    let mut suite = TestSuiteBuilder::new(&sanitize_attr(area))
        .set_timestamp(timestamp)
        .set_system_out(system_out)
        .add_testcases(scenarios.iter().map(|s| testcase(s, fail_on)))
        .build();
    suite.package = format!("mxharness/{}", sanitize_attr(area));
    suite
}

fn testcase(scenario: &ScenarioResult, fail_on: FailOn) -> TestCase {
    let name = sanitize_attr(&scenario.id);
    let time = Duration::milliseconds(i64::try_from(scenario.duration_ms).unwrap_or(i64::MAX));
    let message = scenario
        .failure
        .as_ref()
        .map_or("no reason recorded", |f| f.message.as_str());
    let mut builder = match scenario.outcome {
        Outcome::Failed if scenario.recommendation_not_met(fail_on) => {
            // A SHOULD/MAY failure the threshold does not gate: shown, not failing CI.
            let cause = format!(
                "recommendation not met ({}): {message}",
                scenario.level_label()
            );
            TestCaseBuilder::skipped_with_cause(
                &name,
                "recommendation not met",
                &sanitize_attr(&cause),
            )
        }
        Outcome::Unsupported if scenario.fails_run_at(fail_on) => {
            let mut b =
                TestCaseBuilder::failure(&name, time, "unsupported", &sanitize_attr(message));
            if let Some(f) = &scenario.failure {
                b.set_trace(&sanitize_cdata(&failure_text(scenario, f)));
            }
            b
        }
        Outcome::Failed | Outcome::Errored if !scenario.fails_run_at(fail_on) => {
            // Failing as the expectations file says (or quarantined): reported, not failed.
            let (label, note) = match &scenario.expectation {
                Some(e) if e.kind == ExpectationKind::Quarantined => {
                    ("quarantined", format!("{} ({})", e.reason, e.source))
                }
                Some(e) => ("known failure", format!("{} ({})", e.reason, e.source)),
                None => ("known failure", String::new()),
            };
            let now = scenario
                .failure
                .as_ref()
                .map_or("no reason recorded", |f| f.message.as_str());
            let cause = format!("{label}: {note}; fails with: {now}");
            TestCaseBuilder::skipped_with_cause(&name, label, &sanitize_attr(&cause))
        }
        Outcome::Passed => TestCaseBuilder::success(&name, time),
        Outcome::Failed | Outcome::Errored => {
            let (kind, message, body) = match &scenario.failure {
                Some(f) => (
                    f.kind.as_str(),
                    f.message.as_str(),
                    failure_text(scenario, f),
                ),
                None => (
                    "unknown",
                    "no reason recorded",
                    "no reason recorded\n".to_owned(),
                ),
            };
            let (kind, message) = (sanitize_attr(kind), sanitize_attr(message));
            let mut b = if scenario.outcome == Outcome::Failed {
                TestCaseBuilder::failure(&name, time, &kind, &message)
            } else {
                TestCaseBuilder::error(&name, time, &kind, &message)
            };
            b.set_trace(&sanitize_cdata(&body));
            b
        }
        Outcome::Skipped => {
            let reason = scenario
                .skip_reason
                .as_deref()
                .unwrap_or("no reason recorded");
            TestCaseBuilder::skipped_with_cause(&name, "skipped", &sanitize_attr(reason))
        }
        Outcome::Blocked | Outcome::Unsupported => {
            let label = if scenario.outcome == Outcome::Blocked {
                "blocked"
            } else {
                "unsupported"
            };
            let reason = scenario
                .failure
                .as_ref()
                .map_or("no reason recorded", |f| f.message.as_str());
            TestCaseBuilder::skipped_with_cause(&name, label, &sanitize_attr(reason))
        }
    };
    let mut testcase = builder
        .set_classname(&sanitize_attr(&scenario.area))
        .set_filepath(&sanitize_attr(&scenario.file))
        .set_system_out(&sanitize_cdata(&details_text(scenario, fail_on)))
        .build();
    // Skipped test cases get no time from the crate; keep what the report says.
    testcase.time = time;
    testcase
}

/// The suite's `<system-out>`: tool and target, in place of `<properties>`.
fn target_text(report: &RunReport) -> String {
    let t = &report.target;
    let mut out = String::new();
    let _ = writeln!(out, "tool: {} {}", report.tool.name, report.tool.version);
    let _ = writeln!(out, "started at: {}", report.run.started_at);
    if let Some(line) = super::summary::interrupted_line(report) {
        let _ = writeln!(out, "interrupted: {line}");
    }
    let _ = writeln!(out, "target: {} {}", t.kind, t.base_url);
    let _ = writeln!(out, "server name: {}", t.server_name);
    let _ = writeln!(
        out,
        "server version: {}",
        t.server_version.as_deref().unwrap_or("unknown")
    );
    let _ = writeln!(out, "spec versions: {}", t.spec_versions.join(", "));
    let _ = writeln!(out, "registration: {}", t.registration);
    for line in super::summary::headline_lines(report) {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// A test case's `<system-out>`: what the scenario is and how its steps went.
fn details_text(scenario: &ScenarioResult, fail_on: FailOn) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "title: {}", scenario.title);
    let _ = writeln!(out, "file: {}", scenario.file);
    if let Some(section) = &scenario.spec_section {
        let _ = writeln!(out, "spec section: {section}");
    }
    if let Some(since) = &scenario.spec_since {
        let _ = writeln!(out, "spec since: {since}");
    }
    let _ = writeln!(out, "level: {}", scenario.level);
    if let Some(basis) = &scenario.basis {
        let _ = writeln!(out, "basis: {basis}");
    }
    if let Some(msc) = &scenario.msc {
        let _ = writeln!(out, "msc: MSC{msc}");
    }
    if !scenario.tags.is_empty() {
        let _ = writeln!(out, "tags: {}", scenario.tags.join(", "));
    }
    if scenario.flaky {
        let _ = writeln!(out, "FLAKY: passed on attempt {} after:", scenario.attempts);
        for f in &scenario.retried_failures {
            let _ = writeln!(out, "  {f}");
        }
    }
    for (k, v) in &scenario.properties {
        let _ = writeln!(out, "property {k}: {v}");
    }
    for w in &scenario.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    if let Some(reason) = &scenario.skip_reason {
        let _ = writeln!(out, "skipped: {reason}");
    }
    if let Some(e) = &scenario.expectation {
        let label = match e.kind {
            ExpectationKind::KnownFailure => "known failure",
            ExpectationKind::UnexpectedPass => "UNEXPECTED PASS: listed as a known failure",
            ExpectationKind::Quarantined => "quarantined",
        };
        let _ = writeln!(out, "expectation: {label}: {} ({})", e.reason, e.source);
    }
    if !scenario.steps.is_empty() {
        out.push_str("steps:\n");
        for step in &scenario.steps {
            let verdict = if step.passed { "ok  " } else { "FAIL" };
            let _ = write!(
                out,
                "  {verdict} {}. {} ({} ms",
                step.index, step.label, step.duration_ms
            );
            if step.attempts > 1 {
                let _ = write!(out, ", {} attempts", step.attempts);
            }
            out.push_str(")\n");
        }
    }
    if let (false, Some(f)) = (scenario.fails_run_at(fail_on), &scenario.failure) {
        // A covered failure, a recommendation not met, a blocked or non-gating
        // unsupported scenario is rendered as skipped; keep its details here.
        out.push('\n');
        out.push_str(&failure_text(scenario, f));
    }
    out
}

/// The text of a `<failure>` or `<error>`: where, what, every failed check, then the
/// HTTP transcript of the failing step.
fn failure_text(scenario: &ScenarioResult, failure: &Failure) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", failure.message);
    let step = if failure.step == 0 {
        "during setup".to_owned()
    } else {
        match scenario.steps.iter().find(|s| s.index == failure.step) {
            Some(s) => format!("in step {}: {}", s.index, s.label),
            None => format!("in step {}", failure.step),
        }
    };
    let _ = writeln!(out, "  at {} ({step})", failure.location);
    match &scenario.basis {
        Some(basis) => {
            let _ = writeln!(out, "  level: {}, basis: {basis}", scenario.level_label());
        }
        None => {
            let _ = writeln!(out, "  level: {}", scenario.level_label());
        }
    }
    push_field(&mut out, "  ", "expected", failure.expected.as_deref());
    push_field(&mut out, "  ", "actual  ", failure.actual.as_deref());

    if !failure.checks.is_empty() {
        let _ = writeln!(out, "\nFailed checks ({}):", failure.checks.len());
        for (i, check) in failure.checks.iter().enumerate() {
            push_check(&mut out, i + 1, check);
        }
    }

    if !failure.transcript.is_empty() {
        let n = failure.transcript.len();
        let _ = writeln!(
            out,
            "\nTranscript ({n} exchange{}, secrets redacted):",
            if n == 1 { "" } else { "s" }
        );
        for (i, exchange) in failure.transcript.iter().enumerate() {
            let _ = writeln!(out, "\n--- exchange {} of {n} ---", i + 1);
            push_exchange(&mut out, exchange);
        }
    }
    out
}

fn push_check(out: &mut String, number: usize, check: &CheckFailure) {
    let _ = writeln!(out, "  {number}. [{}] {}", check.kind, check.message);
    let _ = writeln!(out, "     at {}", check.location);
    push_field(out, "     ", "expected", check.expected.as_deref());
    push_field(out, "     ", "actual  ", check.actual.as_deref());
}

/// `expected: value`, with continuation lines aligned under the value. `label` may
/// carry trailing spaces to align with a longer one; they go after the colon.
fn push_field(out: &mut String, indent: &str, label: &str, value: Option<&str>) {
    let Some(value) = value else { return };
    let trimmed = label.trim_end();
    let padding = &label[trimmed.len()..];
    let head = format!("{indent}{trimmed}: {padding}");
    let pad = " ".repeat(head.chars().count());
    let mut lines = value.lines();
    let _ = writeln!(out, "{head}{}", lines.next().unwrap_or(""));
    for line in lines {
        let _ = writeln!(out, "{pad}{line}");
    }
}

/// An HTTP-like rendering of one exchange: request line, headers and body, a blank
/// line, then status, headers and body (or the transport error), then the duration.
fn push_exchange(out: &mut String, exchange: &Exchange) {
    let _ = writeln!(out, "> {} {}", exchange.method, exchange.url);
    for (name, value) in &exchange.request_headers {
        let _ = writeln!(out, "> {name}: {value}");
    }
    push_body(out, exchange.request_body.as_deref());

    out.push('\n');
    match exchange.status {
        Some(status) => {
            let _ = writeln!(out, "< {status}");
            for (name, value) in &exchange.response_headers {
                let _ = writeln!(out, "< {name}: {value}");
            }
            push_body(out, exchange.response_body.as_deref());
        }
        None => out.push_str("< (no response)\n"),
    }
    if let Some(error) = &exchange.error {
        let _ = writeln!(out, "! error: {error}");
    }
    let _ = writeln!(out, "({} ms)", exchange.duration_ms);
}

fn push_body(out: &mut String, body: Option<&str>) {
    if let Some(body) = body.filter(|b| !b.is_empty()) {
        out.push('\n');
        out.push_str(body);
        if !body.ends_with('\n') {
            out.push('\n');
        }
    }
}

/// Characters XML 1.0 allows (§2.2); others become U+FFFD.
fn xml_char(c: char) -> char {
    match c {
        '\t' | '\n' | '\r' => c,
        c if c < ' ' => '\u{FFFD}',
        '\u{FFFE}' | '\u{FFFF}' => '\u{FFFD}',
        c => c,
    }
}

/// Text for an attribute: one line, XML-legal characters (escaping is the crate's).
fn sanitize_attr(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c => xml_char(c),
        })
        .collect()
}

/// Text for a CDATA section: XML-legal characters, and `]]>` split across two
/// sections so it cannot end the section early.
fn sanitize_cdata(text: &str) -> String {
    text.chars()
        .map(xml_char)
        .collect::<String>()
        .replace("]]>", "]]]]><![CDATA[>")
}

/// Parses the RFC 3339 timestamps the runner writes (`2025-03-01T12:00:00Z`,
/// optionally with a fraction and a numeric offset). The `time` crate's parser is
/// behind a feature this crate does not enable.
fn parse_rfc3339(s: &str) -> Result<OffsetDateTime, String> {
    let b = s.as_bytes();
    let num = |range: std::ops::Range<usize>| -> Result<u32, String> {
        let part = s.get(range.clone()).ok_or_else(|| "too short".to_owned())?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse::<u32>().map_err(|e| e.to_string())
        } else {
            Err(format!("expected digits at position {}", range.start))
        }
    };
    let expect = |i: usize, allowed: &[u8]| -> Result<(), String> {
        match b.get(i) {
            Some(c) if allowed.contains(c) => Ok(()),
            _ => Err(format!("unexpected character at position {i}")),
        }
    };
    expect(4, b"-")?;
    expect(7, b"-")?;
    expect(10, b"Tt ")?;
    expect(13, b":")?;
    expect(16, b":")?;
    let year = i32::try_from(num(0..4)?).map_err(|e| e.to_string())?;
    let month = Month::try_from(u8::try_from(num(5..7)?).map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    let date =
        Date::from_calendar_date(year, month, to_u8(num(8..10)?)?).map_err(|e| e.to_string())?;

    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        if i == start {
            return Err("empty fraction of a second".to_owned());
        }
        let digits = &s[start..i.min(start + 9)];
        let value: u32 = digits
            .parse()
            .map_err(|e: std::num::ParseIntError| e.to_string())?;
        nanos = value * 10u32.pow(9 - u32::try_from(digits.len()).unwrap_or(9));
    }
    let time = Time::from_hms_nano(
        to_u8(num(11..13)?)?,
        to_u8(num(14..16)?)?,
        to_u8(num(17..19)?)?,
        nanos,
    )
    .map_err(|e| e.to_string())?;

    let offset = match b.get(i) {
        Some(b'Z' | b'z') if i + 1 == b.len() => UtcOffset::UTC,
        Some(sign @ (b'+' | b'-')) if i + 6 == b.len() => {
            expect(i + 3, b":")?;
            let hours = i8::try_from(num(i + 1..i + 3)?).map_err(|e| e.to_string())?;
            let minutes = i8::try_from(num(i + 4..i + 6)?).map_err(|e| e.to_string())?;
            let (h, m) = if *sign == b'-' {
                (-hours, -minutes)
            } else {
                (hours, minutes)
            };
            UtcOffset::from_hms(h, m, 0).map_err(|e| e.to_string())?
        }
        _ => return Err("expected `Z` or a `+hh:mm` offset at the end".to_owned()),
    };
    Ok(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

fn to_u8(n: u32) -> Result<u8, String> {
    u8::try_from(n).map_err(|e| e.to_string())
}

/// Puts each element of the crate's single-line output on its own line, indented by
/// depth. Whitespace is only added between two tags, never next to character data,
/// so the text of every element is unchanged.
fn indent_xml(xml: &str) -> String {
    enum Token<'a> {
        Tag(&'a str),
        Data(&'a str),
    }
    let mut tokens = Vec::new();
    let mut rest = xml;
    while !rest.is_empty() {
        let (token, len) = if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>").map_or(rest.len(), |i| i + 3);
            (Token::Data(&rest[..end]), end)
        } else if rest.starts_with('<') {
            // Attribute values are escaped, so the first `>` ends the tag.
            let end = rest.find('>').map_or(rest.len(), |i| i + 1);
            (Token::Tag(&rest[..end]), end)
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            (Token::Data(&rest[..end]), end)
        };
        tokens.push(token);
        rest = &rest[len..];
    }

    let mut out = String::with_capacity(xml.len() + xml.len() / 8);
    let mut depth = 0usize;
    let mut prev_was_tag = false;
    for token in tokens {
        match token {
            Token::Tag(tag) => {
                let closing = tag.starts_with("</");
                let opening = !closing && !tag.starts_with("<?") && !tag.ends_with("/>");
                if closing {
                    depth = depth.saturating_sub(1);
                }
                if prev_was_tag {
                    out.push('\n');
                    out.push_str(&"  ".repeat(depth));
                }
                out.push_str(&normalize_time_attr(tag));
                if opening {
                    depth += 1;
                }
                prev_was_tag = true;
            }
            Token::Data(data) => {
                out.push_str(data);
                prev_was_tag = false;
            }
        }
    }
    out.push('\n');
    out
}

/// Rewrites a tag's `time="2.9210000000000003"` (the crate prints the raw `f64` of a
/// sum of durations) to millisecond precision: `time="2.921"`. Attribute values are
/// escaped, so ` time="` can only start the attribute itself.
fn normalize_time_attr(tag: &str) -> std::borrow::Cow<'_, str> {
    const ATTR: &str = " time=\"";
    let Some(start) = tag.find(ATTR).map(|i| i + ATTR.len()) else {
        return tag.into();
    };
    let Some(len) = tag[start..].find('"') else {
        return tag.into();
    };
    let Ok(seconds) = tag[start..start + len].parse::<f64>() else {
        return tag.into();
    };
    format!("{}{seconds:.3}{}", &tag[..start], &tag[start + len..]).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_timestamps() {
        let t = parse_rfc3339("2025-03-01T12:34:56Z").unwrap();
        assert_eq!(t.unix_timestamp(), 1_740_832_496);
        let t = parse_rfc3339("2025-03-01T12:34:56.25+01:30").unwrap();
        assert_eq!(t.unix_timestamp(), 1_740_832_496 - 5400);
        assert_eq!(t.nanosecond(), 250_000_000);
        let t = parse_rfc3339("2025-03-01t12:34:56.123456789123-00:00").unwrap();
        assert_eq!(t.nanosecond(), 123_456_789);
        for bad in [
            "",
            "2025-03-01",
            "2025-13-01T00:00:00Z",
            "2025-02-30T00:00:00Z",
            "2025-03-01T25:00:00Z",
            "2025-03-01T12:34:56",
            "2025-03-01T12:34:56.Z",
            "2025-03-01T12:34:56+0100",
            "2025-03-01T12:34:56Zjunk",
            "+025-03-01T12:34:56Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?} should not parse");
        }
    }

    #[test]
    fn time_attributes_get_millisecond_precision() {
        assert_eq!(
            normalize_time_attr(r#"<testsuite id="0" time="2.9210000000000003">"#),
            r#"<testsuite id="0" time="2.921">"#
        );
        assert_eq!(
            normalize_time_attr(r#"<testcase name="a" time="0"/>"#),
            r#"<testcase name="a" time="0.000"/>"#
        );
        assert_eq!(normalize_time_attr("<failure>"), "<failure>");
        assert_eq!(
            normalize_time_attr(r#"<testcase name="x&quot; time=&quot;1" time="1.5">"#),
            r#"<testcase name="x&quot; time=&quot;1" time="1.500">"#
        );
    }

    #[test]
    fn cdata_cannot_be_closed_by_content() {
        assert_eq!(sanitize_cdata("a]]>b"), "a]]]]><![CDATA[>b");
        assert_eq!(sanitize_cdata("bell\u{7}"), "bell\u{FFFD}");
        assert_eq!(sanitize_attr("two\nlines\u{0}"), "two lines\u{FFFD}");
    }

    #[test]
    fn indent_keeps_character_data_intact() {
        let xml = r#"<?xml version="1.0"?><a><b x="1"/><c><![CDATA[x]]]]><![CDATA[>y]]></c></a>"#;
        assert_eq!(
            indent_xml(xml),
            "<?xml version=\"1.0\"?>\n<a>\n  <b x=\"1\"/>\n  <c><![CDATA[x]]]]><![CDATA[>y]]></c>\n</a>\n"
        );
    }

    #[test]
    fn an_invalid_timestamp_is_a_clear_error() {
        let report = RunReport {
            format_version: crate::results::FORMAT_VERSION,
            tool: crate::results::ToolInfo {
                name: "mxharness".into(),
                version: "0".into(),
            },
            run: crate::results::RunInfo {
                started_at: "yesterday".into(),
                duration_ms: 0,
                paths: vec![],
                filter: None,
                jobs: 1,
                scenario_set_sha256: None,
                interrupted: false,
                stopped_by: None,
            },
            target: crate::results::TargetInfo {
                kind: "url".into(),
                base_url: "http://localhost".into(),
                server_name: "localhost".into(),
                server_version: None,
                spec_versions: vec![],
                registration: "open".into(),
                sliding_sync: None,
            },
            summary: Default::default(),
            areas: vec![],
            profile: None,
            endpoints: None,
            coverage: None,
            scenarios: vec![],
            load: None,
        };
        let err = render_junit(&report).unwrap_err();
        assert!(err.to_string().contains("yesterday"), "{err}");
    }
}

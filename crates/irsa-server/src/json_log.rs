//! The `--log-format json` line: one JSON object per line with the members
//! of tracing-subscriber's JSON format (flattened event fields): the
//! timestamp, level, the event's fields, target, the current span
//! (`span`) and every span it is in (`spans`), each with its `name`.
//!
//! Written here, not with the library's formatter, for speed: that one
//! stores a span's fields as a JSON object and parses it again for every
//! event logged inside the span, and it writes through an `io::Write`
//! adaptor that checks UTF-8 on every piece. With one audit line per
//! AssumeRoleWithWebIdentity that was ~8% of the server's CPU. Here a
//! span's fields are kept as ready JSON members (`,"key":value…`) made
//! once when the span opens, and an event copies them.

use std::fmt::{self, Write as _};

use irsa_core::{Clock as _, SystemClock};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::field::RecordFields;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Span fields as JSON members, each with a leading comma.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonMembers;

impl<'writer> FormatFields<'writer> for JsonMembers {
    fn format_fields<R: RecordFields>(
        &self,
        mut writer: Writer<'writer>,
        fields: R,
    ) -> fmt::Result {
        let mut members = Members {
            out: &mut writer,
            result: Ok(()),
        };
        fields.record(&mut members);
        members.result
    }

    /// Members recorded later (`span.record(..)`) are appended: they carry
    /// their own leading comma, so no separator is needed.
    fn add_fields(
        &self,
        current: &'writer mut FormattedFields<Self>,
        fields: &tracing::span::Record<'_>,
    ) -> fmt::Result {
        self.format_fields(current.as_writer(), fields)
    }
}

/// The event formatter for [`JsonMembers`] span fields.
#[derive(Debug, Default, Clone, Copy)]
pub struct JsonLine;

impl<S> FormatEvent<S, JsonMembers> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonMembers>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Records bridged from the `log` crate carry their real target and
        // level in `log.*` fields.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());

        writer.write_str("{\"timestamp\":\"")?;
        irsa_core::write_utc_timestamp(&mut writer, SystemClock.now_utc(), true)?;
        writer.write_str("\",\"level\":\"")?;
        writer.write_str(meta.level().as_str())?;
        writer.write_char('"')?;
        let mut members = Members {
            out: &mut writer,
            result: Ok(()),
        };
        event.record(&mut members);
        members.result?;
        writer.write_str(",\"target\":")?;
        write_json_string(&mut writer, meta.target())?;

        let current = event
            .parent()
            .and_then(|id| ctx.span(id))
            .or_else(|| ctx.lookup_current());
        if let Some(current) = current {
            writer.write_str(",\"span\":")?;
            write_span(&mut writer, &current)?;
            writer.write_str(",\"spans\":[")?;
            for (i, span) in current.scope().from_root().enumerate() {
                if i > 0 {
                    writer.write_char(',')?;
                }
                write_span(&mut writer, &span)?;
            }
            writer.write_char(']')?;
        }
        writer.write_str("}\n")
    }
}

fn write_span<R>(
    writer: &mut Writer<'_>,
    span: &tracing_subscriber::registry::SpanRef<'_, R>,
) -> fmt::Result
where
    R: for<'a> LookupSpan<'a>,
{
    writer.write_str("{\"name\":")?;
    write_json_string(writer, span.name())?;
    if let Some(fields) = span.extensions().get::<FormattedFields<JsonMembers>>() {
        writer.write_str(&fields.fields)?;
    }
    writer.write_char('}')
}

/// Writes each recorded field as `,"name":value`.
struct Members<'a, 'w> {
    out: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Members<'_, '_> {
    fn member(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        let name = field.name();
        // `log` bridge bookkeeping (already used for target and level).
        if self.result.is_err() || name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = self
            .out
            .write_char(',')
            .and_then(|()| write_json_string(self.out, name))
            .and_then(|()| self.out.write_char(':'))
            .and_then(|()| value(self.out));
    }
}

impl Visit for Members<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.member(field, |w| write_json_string(w, value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.member(field, |w| w.write_str(if value { "true" } else { "false" }));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.member(field, |w| write!(w, "{value}"));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.member(field, |w| write!(w, "{value}"));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.member(field, |w| write!(w, "{value}"));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.member(field, |w| write!(w, "{value}"));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        // JSON has no NaN or infinity.
        self.member(field, |w| {
            if value.is_finite() {
                write!(w, "{value:?}")
            } else {
                w.write_str("null")
            }
        });
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.member(field, |w| {
            w.write_char('"')?;
            write!(JsonEscaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }
}

fn write_json_string(out: &mut impl fmt::Write, text: &str) -> fmt::Result {
    out.write_char('"')?;
    JsonEscaped(out).write_str(text)?;
    out.write_char('"')
}

/// Escapes what it is given as the inside of a JSON string: `"`, `\` and
/// control characters (RFC 8259 §7); everything else is copied in runs.
struct JsonEscaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for JsonEscaped<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let bytes = text.as_bytes();
        // Most values (ARNs, ids, subjects) need no escaping.
        if !irsa_core::bytes::has_control_or_any(bytes, *b"\"\\") {
            return self.0.write_str(text);
        }
        let mut run_start = 0;
        for (i, &byte) in bytes.iter().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f => "",
                _ => continue,
            };
            // `i` is at an ASCII byte, so both slices end on char boundaries.
            self.0.write_str(&text[run_start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            run_start = i + 1;
        }
        self.0.write_str(&text[run_start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(body: impl FnOnce()) -> Vec<serde_json::Value> {
        let lines = Lines::default();
        let sink = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .fmt_fields(JsonMembers)
            .event_format(JsonLine)
            .finish();
        tracing::subscriber::with_default(subscriber, body);
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|line| {
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
            })
            .collect()
    }

    #[test]
    fn events_carry_their_fields_target_and_the_spans_they_are_in() {
        let lines = logged(|| {
            tracing::info!(target: "irsa::audit", outcome = "issued", "no span");
            let outer = tracing::info_span!("request", request_id = "r-1", method = %"POST");
            let _outer = outer.enter();
            let inner = tracing::info_span!("step", n = 2_u64, late = tracing::field::Empty);
            inner.record("late", true);
            let _inner = inner.enter();
            let err = "bad \"quote\"\nnext";
            tracing::warn!(status = 503_i64, ratio = 0.5_f64, nan = f64::NAN, reason = %err, "request failed");
        });
        assert_eq!(lines.len(), 2);

        let first = &lines[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["target"], "irsa::audit");
        assert_eq!(first["outcome"], "issued");
        assert_eq!(first["message"], "no span");
        assert!(first.get("span").is_none() && first.get("spans").is_none());
        let timestamp = first["timestamp"].as_str().unwrap();
        assert!(
            timestamp.len() >= 20 && timestamp.ends_with('Z'),
            "{timestamp}"
        );

        let second = &lines[1];
        assert_eq!(second["level"], "WARN");
        assert_eq!(second["message"], "request failed");
        assert_eq!(second["status"], 503);
        assert_eq!(second["ratio"], 0.5);
        assert!(second["nan"].is_null());
        assert_eq!(second["reason"], "bad \"quote\"\nnext");
        assert_eq!(
            second["span"],
            serde_json::json!({"name": "step", "n": 2, "late": true})
        );
        assert_eq!(
            second["spans"],
            serde_json::json!([
                {"name": "request", "request_id": "r-1", "method": "POST"},
                {"name": "step", "n": 2, "late": true},
            ])
        );
    }

    proptest! {
        #[test]
        fn any_text_survives_escaping(text in any::<String>()) {
            let mut out = String::new();
            write_json_string(&mut out, &text).unwrap();
            let parsed: String = serde_json::from_str(&out).unwrap();
            prop_assert_eq!(parsed, text);
        }
    }
}

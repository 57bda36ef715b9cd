//! W3C trace context carried in files between Spaces (bundles, receipts): the `traceparent`
//! of a span to write into one, and a span made the child of one read from it, so the spans
//! of a promotion in several Spaces (promote, import, deployment, steps, receipt) form one
//! trace. Without trace export these do nothing (and [`traceparent_of`] gives `None`).

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

const KEY: &str = "traceparent";

/// The W3C `traceparent` of `span`, when trace export is on (the span has a valid context).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let cx = span.context();
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut carrier);
    carrier.remove(KEY)
}

/// Makes `span` (not entered yet) a child of the remote span `traceparent` names; nothing when
/// it is empty or malformed, or trace export is off.
pub fn set_parent(span: &tracing::Span, traceparent: &str) {
    let parent = parent_of(traceparent);
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
}

/// The remote context `traceparent` names (an empty context when it names none).
pub fn parent_of(traceparent: &str) -> opentelemetry::Context {
    let carrier: HashMap<String, String> = [(KEY.to_string(), traceparent.trim().to_string())]
        .into_iter()
        .collect();
    TraceContextPropagator::new().extract(&carrier)
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TraceContextExt;

    #[test]
    fn a_traceparent_names_its_trace_and_span_and_garbage_names_nothing() {
        let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let cx = super::parent_of(tp);
        let sc = cx.span().span_context().clone();
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(
            sc.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(sc.span_id().to_string(), "00f067aa0ba902b7");
        for bad in ["", "not a traceparent", "00-0000-00-01"] {
            assert!(
                !super::parent_of(bad).span().span_context().is_valid(),
                "{bad}"
            );
        }
        // Without a subscriber exporting spans, a span has no context to write.
        assert_eq!(super::traceparent_of(&tracing::Span::none()), None);
    }
}

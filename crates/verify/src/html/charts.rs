//! Charts in inline SVG: horizontal bars split into coloured segments, one bar per row, each
//! bar 100% of its own total. Labels and figures are HTML text beside the SVG (readable at any
//! width); the SVG holds only shapes, stretched to the row's width. Colours come from the
//! page's stylesheet through the segments' classes.

use super::{Esc, Html};
use std::fmt::Write;

/// One segment of a bar.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Its CSS class (its colour): `verified`, `failed`, … or `c0`…`c7` (with ` part` for a
    /// hatched, unproven part).
    pub class: String,
    /// Its size, in any unit shared by the bar's segments.
    pub value: f64,
    /// What it is, shown as the segment's tooltip and read by screen readers.
    pub title: String,
}

/// One bar: its label, a note beside it, its segments.
#[derive(Debug, Clone)]
pub struct Bar {
    /// What the bar is (a chain, an asset).
    pub label: String,
    /// Figures beside the label.
    pub note: String,
    /// The segments, left to right.
    pub segments: Vec<Segment>,
}

/// The width of a bar in SVG units.
const WIDTH: f64 = 1000.0;

/// Writes a chart: `caption`, then `bars`, then a legend of (class, label).
pub fn bar_chart(out: &mut Html, caption: &str, bars: &[Bar], legend: &[(&str, &str)]) {
    let _ = write!(
        out,
        "<figure class=\"chart\"><figcaption>{}</figcaption>",
        Esc(caption)
    );
    for b in bars {
        let _ = write!(
            out,
            "<div class=\"chart-row\"><div class=\"chart-label\"><b>{}</b> <span>{}</span></div>",
            Esc(&b.label),
            Esc(&b.note)
        );
        bar(out, &b.segments, &b.label);
        out.raw("</div>");
    }
    if !legend.is_empty() {
        out.raw("<ul class=\"legend\">");
        for (class, label) in legend {
            let _ = write!(
                out,
                "<li><svg viewBox=\"0 0 10 10\" aria-hidden=\"true\"><rect class=\"{}\" \
                 width=\"10\" height=\"10\"/></svg>{}</li>",
                Esc(class),
                Esc(label)
            );
        }
        out.raw("</ul>");
    }
    out.raw("</figure>");
}

/// One bar as an SVG stretched to its row; an empty bar (no positive segment) is grey.
pub fn bar(out: &mut Html, segments: &[Segment], label: &str) {
    let total: f64 = segments.iter().map(|s| s.value.max(0.0)).sum();
    let summary: Vec<&str> = segments
        .iter()
        .filter(|s| s.value > 0.0)
        .map(|s| s.title.as_str())
        .collect();
    let _ = write!(
        out,
        "<svg class=\"bar\" viewBox=\"0 0 {WIDTH} 20\" preserveAspectRatio=\"none\" role=\"img\" \
         aria-label=\"{}: {}\">",
        Esc(label),
        Esc(&summary.join(", "))
    );
    if total <= 0.0 || !total.is_finite() {
        let _ = write!(
            out,
            "<rect class=\"empty\" width=\"{WIDTH}\" height=\"20\"/></svg>"
        );
        return;
    }
    let mut x = 0.0;
    for s in segments.iter().filter(|s| s.value > 0.0) {
        // At least a sliver, so a single failure among a million still shows.
        let w = (s.value / total * WIDTH).max(2.0).min(WIDTH - x);
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"{x:.1}\" width=\"{w:.1}\" height=\"20\"><title>{}</title></rect>",
            Esc(&s.class),
            Esc(&s.title)
        );
        x += w;
    }
    out.raw("</svg>");
}

/// `part` of `whole` as a percentage with one decimal (`97.3%`); never rounds a part that is
/// not the whole up to 100%, nor a part above zero down to 0%.
pub fn percent(part: f64, whole: f64) -> String {
    if whole <= 0.0 || !whole.is_finite() {
        return "-".into();
    }
    let p = part / whole * 100.0;
    let shown = if p > 99.9 && part < whole {
        99.9
    } else if p < 0.1 && part > 0.0 {
        0.1
    } else {
        (p * 10.0).round() / 10.0
    };
    let prefix = if (p > 99.9 && part < whole) || (p < 0.1 && part > 0.0) {
        if p < 0.1 {
            "<"
        } else {
            ">"
        }
    } else {
        ""
    };
    format!("{prefix}{shown:.1}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(class: &str, value: f64) -> Segment {
        Segment {
            class: class.into(),
            value,
            title: format!("{class} {value}"),
        }
    }

    #[test]
    fn segments_fill_the_bar_in_proportion() {
        let mut h = Html::default();
        bar(&mut h, &[seg("verified", 3.0), seg("failed", 1.0)], "BTC");
        let s = h.0;
        assert!(
            s.contains("<rect class=\"verified\" x=\"0.0\" width=\"750.0\""),
            "{s}"
        );
        assert!(
            s.contains("<rect class=\"failed\" x=\"750.0\" width=\"250.0\""),
            "{s}"
        );
        assert!(
            s.contains("aria-label=\"BTC: verified 3, failed 1\""),
            "{s}"
        );
        let mut h = Html::default();
        bar(&mut h, &[seg("verified", 0.0)], "x");
        assert!(h.0.contains("class=\"empty\""));
        // A tiny part is still visible, and the bar does not overflow.
        let mut h = Html::default();
        bar(&mut h, &[seg("failed", 1.0), seg("verified", 1e6)], "y");
        assert!(
            h.0.contains("class=\"failed\" x=\"0.0\" width=\"2.0\""),
            "{}",
            h.0
        );
        assert!(h.0.contains("x=\"2.0\" width=\"998.0\""), "{}", h.0);
    }

    #[test]
    fn percentages() {
        assert_eq!(percent(1.0, 4.0), "25.0%");
        assert_eq!(percent(4.0, 4.0), "100.0%");
        assert_eq!(percent(999_999.0, 1_000_000.0), ">99.9%");
        assert_eq!(percent(1.0, 1_000_000.0), "<0.1%");
        assert_eq!(percent(0.0, 5.0), "0.0%");
        assert_eq!(percent(1.0, 0.0), "-");
    }
}

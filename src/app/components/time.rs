//! Times shown relative ("3 min ago") in the user's locale. The server renders English from its clock; the
//! browser re-renders with `Intl.RelativeTimeFormat` in the browser's language once hydrated.
use crate::model::relative_time_en;
use leptos::prelude::*;

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of a Unix time (for `<time datetime>`).
pub fn iso8601(unix: i64) -> String {
    let (days, secs) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(feature = "hydrate")]
fn localized(elapsed: i64) -> String {
    let (value, unit) = crate::model::relative_time_parts(elapsed);
    if unit == "second" {
        // "now" in the user's language.
        let opts = js_sys::Object::new();
        let _ = js_sys::Reflect::set(&opts, &"numeric".into(), &"auto".into());
        let f = js_sys::Intl::RelativeTimeFormat::new(&js_sys::Array::new(), &opts);
        return f.format(0.0, "second").into();
    }
    let f = js_sys::Intl::RelativeTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new());
    f.format(value, unit).into()
}

#[component]
pub fn RelativeTime(unix: i64) -> impl IntoView {
    if unix <= 0 {
        return view! { <span>"—"</span> }.into_any();
    }
    let text = RwSignal::new(relative_time_en(now_secs() - unix));
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| text.set(localized(now_secs() - unix)));
    view! { <time datetime=iso8601(unix) title=iso8601(unix)>{move || text.get()}</time> }.into_any()
}

//! The backup schedule's frequency picker (the create form's backup step and the Backups tab's schedule
//! dialog): hourly, daily, weekly or monthly at a time (UTC). Its inputs post as `schedule_kind`,
//! `schedule_time`, `schedule_weekday`, `schedule_day`; the server turns them into the cron string. Beside
//! it: the schedule in words and its next runs, updated as the user picks.
use super::time::now_secs;
use crate::model::backups::{format_utc, Frequency, WEEKDAYS};
use crate::model::FieldError;
use leptos::prelude::*;

#[component]
pub fn FrequencyPicker(
    /// Prefix of the inputs' ids (two pickers may be on one page).
    prefix: &'static str,
    /// Where it starts (a schedule being edited), else daily at 00:00.
    #[prop(optional)]
    initial: Option<Frequency>,
    /// The form's last refusal, shown beside the input it names.
    #[prop(into)]
    error: Signal<Option<FieldError>>,
) -> impl IntoView {
    let start = initial.unwrap_or(Frequency::Daily { hour: 0, minute: 0 });
    let kind = RwSignal::new(start.kind().to_string());
    let (h, m) = start.time();
    let time = RwSignal::new(format!("{h:02}:{m:02}"));
    let weekday = RwSignal::new(match start {
        Frequency::Weekly { weekday, .. } => weekday.to_string(),
        _ => "1".into(),
    });
    let day = RwSignal::new(match start {
        Frequency::Monthly { day, .. } => day.to_string(),
        _ => "1".into(),
    });
    let freq = Memo::new(move |_| Frequency::from_fields(&kind.get(), &time.get(), &weekday.get(), &day.get()));
    // Without JavaScript every input shows (and posts; the server reads the ones the frequency needs), with
    // its value in the HTML; once hydrated only the ones the chosen frequency needs show.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let hide_unless = move |k: &'static str| move || hydrated.get() && kind.get() != k;
    let id = move |f: &str| format!("{prefix}{f}");
    let err = move |field: &'static str| {
        move || {
            error.get().filter(|e| e.field == field).map(|e| view! { <p role="alert" id=format!("{prefix}{field}-error") class="field-error">{e.message}</p> })
        }
    };
    view! {
        <div class="grid gap-4 sm:grid-cols-2">
            <div>
                <label for=id("schedule_kind") class="field-label">"Frequency"</label>
                <select id=id("schedule_kind") name="schedule_kind" class="field-input" on:change=move |ev| kind.set(event_target_value(&ev))>
                    {[("hourly", "Every hour"), ("daily", "Every day"), ("weekly", "Every week"), ("monthly", "Every month")].into_iter().map(|(v, l)| {
                        view! { <option value=v selected=move || kind.get() == v>{l}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div>
                <label for=id("schedule_time") class="field-label">
                    {move || if kind.get() == "hourly" { "Minute past the hour (HH:MM, hour ignored)" } else { "Time (UTC)" }}
                </label>
                <input id=id("schedule_time") name="schedule_time" type="time" class="field-input" value=time.get_untracked() prop:value=move || time.get()
                    on:input=move |ev| time.set(event_target_value(&ev))/>
                {err("schedule_time")}
            </div>
            <div class:hidden=hide_unless("weekly")>
                <div>
                    <label for=id("schedule_weekday") class="field-label">"Day of the week"</label>
                    <select id=id("schedule_weekday") name="schedule_weekday" class="field-input" on:change=move |ev| weekday.set(event_target_value(&ev))>
                        {WEEKDAYS.iter().enumerate().map(|(i, d)| {
                            let v = i.to_string();
                            let v2 = v.clone();
                            view! { <option value=v selected=move || weekday.get() == v2>{*d}</option> }
                        }).collect_view()}
                    </select>
                    {err("schedule_weekday")}
                </div>
            </div>
            <div class:hidden=hide_unless("monthly")>
                <div>
                    <label for=id("schedule_day") class="field-label">"Day of the month (1–28)"</label>
                    <input id=id("schedule_day") name="schedule_day" type="number" min="1" max="28" class="field-input"
                        value=day.get_untracked() prop:value=move || day.get() on:input=move |ev| day.set(event_target_value(&ev))/>
                    {err("schedule_day")}
                </div>
            </div>
        </div>
        <div role="status" aria-live="polite" class="rounded-md bg-slate-50 p-3 text-sm text-slate-700">
            {move || match freq.get() {
                Ok(f) => {
                    let runs = f.next_runs(now_secs(), 3).into_iter().map(format_utc).collect::<Vec<_>>().join(", ");
                    view! {
                        <p class="font-medium">{f.describe()}</p>
                        <p>"Next runs: " {runs}</p>
                        <p class="text-xs text-slate-600">"Cron: " <code>{f.to_cron()}</code></p>
                    }.into_any()
                }
                Err(e) => view! { <p>{e}</p> }.into_any(),
            }}
        </div>
    }
    .into_any()
}

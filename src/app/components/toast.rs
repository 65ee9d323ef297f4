//! Toasts: short confirmations ("Restart requested") and errors, announced to screen readers, gone after a
//! few seconds or when dismissed. `provide_toasts()` once in the app, `use_toasts()` where an action runs.
use leptos::prelude::*;

#[derive(Clone, Debug, PartialEq)]
pub struct Toast {
    pub id: u64,
    pub error: bool,
    pub text: String,
}

#[derive(Clone, Copy)]
pub struct Toasts {
    list: RwSignal<Vec<Toast>>,
    next: StoredValue<u64>,
}

impl Toasts {
    fn push(&self, error: bool, text: String) {
        let id = self.next.get_value();
        self.next.set_value(id + 1);
        self.list.update(|l| l.push(Toast { id, error, text }));
        let list = self.list;
        #[cfg(feature = "hydrate")]
        set_timeout(move || list.update(|l| l.retain(|t| t.id != id)), std::time::Duration::from_secs(if error { 10 } else { 5 }));
        let _ = list;
    }
    pub fn info(&self, text: impl Into<String>) {
        self.push(false, text.into());
    }
    pub fn error(&self, text: impl Into<String>) {
        self.push(true, text.into());
    }
}

pub fn provide_toasts() {
    provide_context(Toasts { list: RwSignal::new(Vec::new()), next: StoredValue::new(0) });
}

pub fn use_toasts() -> Toasts {
    use_context::<Toasts>().unwrap_or_else(|| {
        provide_toasts();
        expect_context::<Toasts>()
    })
}

/// Where toasts appear (bottom right; full width on a phone).
#[component]
pub fn ToastRegion() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div role="status" aria-live="polite" class="pointer-events-none fixed inset-x-2 bottom-4 z-50 flex flex-col items-end gap-2 sm:inset-x-auto sm:right-4">
            <For each=move || toasts.list.get() key=|t| t.id let:t>
                <div class=if t.error { "toast border-red-300 bg-red-50 text-red-900" } else { "toast border-slate-200 bg-white text-slate-900" }>
                    <span class="flex-1">{t.text.clone()}</span>
                    <button type="button" aria-label="Dismiss" class="rounded px-2 text-slate-600 hover:bg-slate-100"
                        on:click=move |_| toasts.list.update(|l| l.retain(|x| x.id != t.id))>"×"</button>
                </div>
            </For>
        </div>
    }
    .into_any()
}

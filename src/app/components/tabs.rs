//! Tabs that are links (each tab has its own URL, so it can be bookmarked and works without JavaScript).
use leptos::prelude::*;

#[component]
pub fn Tabs(
    /// The navigation's accessible name.
    #[prop(into)]
    label: String,
    /// `(href, text)` per tab.
    tabs: Vec<(String, &'static str)>,
    /// The href of the current tab.
    #[prop(into)]
    current: Signal<String>,
) -> impl IntoView {
    view! {
        <nav aria-label=label class="mb-6 overflow-x-auto border-b border-slate-200">
            <ul class="flex gap-1">
                {tabs.into_iter().map(|(href, text)| {
                    let h = href.clone();
                    let is_current = Memo::new(move |_| current.get() == h);
                    view! {
                        <li>
                            <a href=href aria-current=move || is_current.get().then_some("page")
                                class=move || if is_current.get() {
                                    "block whitespace-nowrap border-b-2 border-indigo-600 px-3 py-2 text-sm font-medium text-indigo-700"
                                } else {
                                    "block whitespace-nowrap border-b-2 border-transparent px-3 py-2 text-sm text-slate-600 hover:text-slate-900"
                                }>{text}</a>
                        </li>
                    }
                }).collect_view()}
            </ul>
        </nav>
    }
    .into_any()
}

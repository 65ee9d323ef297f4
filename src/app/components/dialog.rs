//! A modal dialog on the browser's own `<dialog>`: it traps focus, Escape closes it, and screen readers know
//! it is modal. Its content is rendered only while open, so a form in it starts fresh each time.
use leptos::prelude::*;

#[component]
pub fn Dialog(
    open: RwSignal<bool>,
    /// The heading, also the dialog's accessible name.
    #[prop(into)]
    title: String,
    /// A unique id for the heading (`aria-labelledby`).
    #[prop(into)]
    id: String,
    children: ChildrenFn,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        let want = open.get();
        #[cfg(feature = "hydrate")]
        {
            if let Some(d) = node.get() {
                if want && !d.open() {
                    let _ = d.show_modal();
                } else if !want && d.open() {
                    d.close();
                }
            }
        }
        let _ = want;
    });
    let (heading, labelledby) = (format!("{id}-title"), format!("{id}-title"));
    view! {
        <dialog node_ref=node aria-labelledby=labelledby on:close=move |_| open.set(false)
            class="w-[min(32rem,calc(100vw-2rem))] rounded-lg p-0 shadow-xl backdrop:bg-slate-900/50">
            <div class="p-6">
                <h2 id=heading class="mb-4 text-lg font-semibold">{title}</h2>
                {move || open.get().then(|| children())}
            </div>
        </dialog>
    }
    .into_any()
}

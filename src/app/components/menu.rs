//! A disclosure menu: a button that shows a panel of actions below it. Escape or a click outside closes
//! it; items are ordinary buttons (and forms), so keyboard users reach them with Tab.
use leptos::prelude::*;

#[component]
pub fn Menu(
    /// The button's accessible name (e.g. "Actions for orders").
    #[prop(into)]
    label: String,
    /// What the button shows.
    #[prop(into)]
    button_text: String,
    /// On the dark header.
    #[prop(optional)]
    dark: bool,
    /// On a phone the button shows "⋯" instead of its text (rows of a narrow table).
    #[prop(optional)]
    compact: bool,
    children: ChildrenFn,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    let close = move || {
        open.set(false);
        if let Some(b) = button.get_untracked() {
            let _ = b.focus();
        }
    };
    let class = if dark {
        "rounded px-3 py-1 text-sm text-white hover:bg-slate-700"
    } else {
        "btn-secondary"
    };
    view! {
        <div class="relative inline-block text-left"
            on:keydown=move |ev| if ev.key() == "Escape" && open.get_untracked() { ev.prevent_default(); close(); }>
            <button type="button" node_ref=button aria-label=label aria-haspopup="true"
                aria-expanded=move || if open.get() { "true" } else { "false" }
                on:click=move |_| open.update(|o| *o = !*o) class=class>
                <span class=if compact { "hidden sm:inline" } else { "" }>{button_text}</span>
                {compact.then(|| view! { <span class="sm:hidden" aria-hidden="true">"⋯"</span> })}
                <span aria-hidden="true" class=if compact { "hidden sm:inline" } else { "" }>" ▾"</span>
            </button>
            <Show when=move || open.get()>
                // A click outside closes the menu.
                <div class="fixed inset-0 z-30" aria-hidden="true" on:click=move |_| open.set(false)></div>
                <div class="absolute right-0 z-40 mt-1 w-64 rounded-md border border-slate-200 bg-white py-1 text-slate-900 shadow-lg"
                    on:click=move |_| {
                        // A chosen item closes the menu, on the next frame: closing at once would remove a
                        // submit button's form before the browser submits it (the account menu's Log out).
                        #[cfg(feature = "hydrate")]
                        request_animation_frame(move || open.set(false));
                    }>
                    {children()}
                </div>
            </Show>
        </div>
    }
    .into_any()
}

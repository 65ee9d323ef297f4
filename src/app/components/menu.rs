//! A disclosure menu: a button that shows a panel of actions below it. Escape or a click outside closes
//! it; items are ordinary buttons (and forms), so keyboard users reach them with Tab.
//!
//! [`Menu`] is the whole; its parts ([`MenuFrame`], [`MenuButton`], [`MenuPanel`]) are for a menu whose
//! items come later than its button (the database actions load theirs on first open).
use leptos::html::Button;
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
    let button = NodeRef::<Button>::new();
    view! {
        <MenuFrame open button>
            <MenuButton open button label button_text dark compact/>
            <MenuPanel open>{children()}</MenuPanel>
        </MenuFrame>
    }
    .into_any()
}

/// The menu's box: Escape inside it closes the menu and gives the focus back to its button.
#[component]
pub fn MenuFrame(open: RwSignal<bool>, button: NodeRef<Button>, children: Children) -> impl IntoView {
    view! {
        <div class="relative inline-block text-left"
            on:keydown=move |ev| if ev.key() == "Escape" && open.get_untracked() {
                ev.prevent_default();
                open.set(false);
                if let Some(b) = button.get_untracked() {
                    let _ = b.focus();
                }
            }>
            {children()}
        </div>
    }
    .into_any()
}

/// The button that opens and closes the menu (`on_click` runs first, e.g. to load the items).
#[component]
pub fn MenuButton(
    open: RwSignal<bool>,
    button: NodeRef<Button>,
    #[prop(into)] label: String,
    #[prop(into)] button_text: String,
    #[prop(optional)] dark: bool,
    #[prop(optional)] compact: bool,
    #[prop(optional)] on_click: Option<Callback<()>>,
) -> impl IntoView {
    let class = if dark {
        "rounded px-3 py-1 text-sm text-white hover:bg-slate-700"
    } else {
        "btn-secondary"
    };
    view! {
        <button type="button" node_ref=button aria-label=label aria-haspopup="true"
            aria-expanded=move || if open.get() { "true" } else { "false" }
            on:click=move |_| {
                if let Some(f) = on_click {
                    f.run(());
                }
                open.update(|o| *o = !*o)
            } class=class>
            <span class=if compact { "hidden sm:inline" } else { "" }>{button_text}</span>
            {compact.then(|| view! { <span class="sm:hidden" aria-hidden="true">"⋯"</span> })}
            <span aria-hidden="true" class=if compact { "hidden sm:inline" } else { "" }>" ▾"</span>
        </button>
    }
    .into_any()
}

/// The panel of items, shown while the menu is open.
#[component]
pub fn MenuPanel(open: RwSignal<bool>, children: ChildrenFn) -> impl IntoView {
    view! {
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
    }
    .into_any()
}

use crate::app::components::error_text;
use crate::app::server_fns::Login;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    // The header of the page the login's redirect opens shows this user (set before that redirect runs).
    if let Some(user) = use_context::<crate::app::components::SignedInUser>() {
        Effect::new(move || {
            if let Some(Ok(name)) = login.value().get() {
                user.0.set(name);
            }
        });
    }
    // A login posted before the wasm loaded comes back as `/login?error=…` (see `server::form_errors`).
    let query = leptos_router::hooks::use_query_map();
    let error = move || {
        login.value().get().and_then(|r| r.err()).map(|e| error_text(&e)).or_else(|| query.read().get("error").filter(|e| !e.is_empty()))
    };
    view! {
        <Title text="Log in"/>
        <main id="main" class="flex min-h-screen items-center justify-center p-4">
            <div class="w-full max-w-sm rounded-lg bg-white p-8 shadow">
                <h1 class="mb-6 text-2xl font-semibold">"Log in to Cairn"</h1>
                <ActionForm action=login attr:class="space-y-4">
                    <div>
                        <label for="username" class="block text-sm font-medium">"Username"</label>
                        <input id="username" name="username" type="text" autocomplete="username" required
                            class="mt-1 w-full rounded border border-slate-300 px-3 py-2"/>
                    </div>
                    <div>
                        <label for="password" class="block text-sm font-medium">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required
                            class="mt-1 w-full rounded border border-slate-300 px-3 py-2"/>
                    </div>
                    {move || error().map(|e| view! { <p role="alert" class="text-sm text-red-700">{e}</p> })}
                    <button type="submit" disabled=move || login.pending().get()
                        class="w-full rounded bg-indigo-600 px-4 py-2 font-medium text-white hover:bg-indigo-700 disabled:opacity-50">
                        "Log in"
                    </button>
                </ActionForm>
            </div>
        </main>
    }
}
